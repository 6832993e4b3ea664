/**
 * Sending OTLP logs to a detector the way a Collector or an SDK exporter does: protobuf bytes
 * made by the SDK's own serializer, sent over gRPC, retried on UNAVAILABLE with backoff (as the
 * OTLP exporters and the Collector's retry queue do).
 */
import * as grpc from "@grpc/grpc-js";
import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import { protobufRequest, type RecordSpec } from "../receiver/fixtures.ts";

const EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const passthrough = (b: Buffer) => b;

/** One failed sign-in from `address` at `timeMs`. */
export function failedLoginAt(address: string, timeMs: number, userHash = "a1b2c3"): RecordSpec {
  return {
    eventName: EVENT.AUTH_LOGIN,
    timeMs,
    severityNumber: 13,
    attributes: {
      [ATTR.CLIENT_ADDRESS]: address,
      [ATTR.USER_HASH]: userHash,
      [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
    },
  };
}

/** An ExportLogsServiceRequest (protobuf) of the given records. */
export function exportRequest(records: readonly RecordSpec[]): Buffer {
  return Buffer.from(protobufRequest(records));
}

/** A raw OTLP/gRPC logs client (the request bytes go as they are). */
export class OtlpGrpcSender {
  readonly #client: grpc.Client;

  constructor(target: string) {
    this.#client = new grpc.Client(target, grpc.credentials.createInsecure());
  }

  /** One Export call; resolves to its status code. */
  send(body: Buffer): Promise<grpc.status> {
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(
        EXPORT_PATH,
        passthrough,
        passthrough,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err) => resolve(err ? err.code : grpc.status.OK),
      );
    });
  }

  /**
   * Sends until accepted, retrying UNAVAILABLE (and DEADLINE_EXCEEDED) with exponential backoff
   * from 50 ms to 1 s, at most `maxAttempts` times; resolves to the codes of the failed attempts.
   * `onRetry` is called after each refused attempt (tests use it to restart Redis).
   */
  async sendWithRetry(
    body: Buffer,
    options: {
      maxAttempts?: number;
      onRetry?: (code: grpc.status, attempt: number) => void | Promise<void>;
    } = {},
  ): Promise<grpc.status[]> {
    const failed: grpc.status[] = [];
    let backoff = 50;
    for (let attempt = 1; ; attempt++) {
      const code = await this.send(body);
      if (code === grpc.status.OK) return failed;
      failed.push(code);
      const retryable = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
      if (!retryable || attempt >= (options.maxAttempts ?? 100)) {
        throw new Error(`export failed with ${grpc.status[code]} after ${attempt} attempt(s)`);
      }
      await options.onRetry?.(code, attempt);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 1000);
    }
  }

  close(): void {
    this.#client.close();
  }
}
