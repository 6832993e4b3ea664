/**
 * What both OTLP receivers do with a request body once transport checks passed: decode, hand to
 * the Ingestor, count, and build the OTLP answer.
 *
 * Accounting (the identity the metrics keep): for every request whose ingest completed,
 *   records in the request = received + ignored + rejected
 * and the pipeline counts `secmon_events_evaluated` for exactly the received events once ingest
 * succeeded, so over all completed requests
 *   records in = evaluated + ignored + rejected.
 * Received / ignored / rejected are therefore counted only after `ingest` resolves. A request
 * refused before decoding (auth, size, media type), or not decodable at all, counts no records;
 * a request whose ingest fails counts no records either: retryable failures are answered
 * UNAVAILABLE / 503 and the sender sends the same records again, which are counted then.
 */
import { createHash, hash } from "node:crypto";
import { SECURITY_EVENT_NAMES } from "@secmon/semconv";
import pb from "protobufjs/minimal.js";
import { SecmonError, asSecmonError } from "../errors.ts";
import type { DecodedBatch } from "../event.ts";
import { resolveSecret, type SecretRef } from "../config/secret.ts";
import type { IngestContext, Ingestor } from "../ingest.ts";
import type { Metrics } from "../metrics/catalog.ts";
import { BearerAuth } from "./auth.ts";
import { decodeLogsJson } from "./decode-json.ts";
import { decodeLogsProtobuf } from "./decode-protobuf.ts";
import { rejectedCount } from "./normalize.ts";

/** What both receivers are built from. */
export interface ReceiverOptions<C> {
  /** The receiver's parsed config section. */
  readonly config: C;
  readonly ingestor: Ingestor;
  readonly metrics: ReceiverMetrics;
  /** Detector clock in ms (arrival time of requests). Default `Date.now`. */
  readonly now?: () => number;
  /** Resolves `auth.bearer_token` once, at construction. Default: the shared `resolveSecret`. */
  readonly resolveSecret?: (ref: SecretRef) => string;
}

/** The metrics a receiver records. */
export type ReceiverMetrics = Pick<
  Metrics,
  "requests" | "eventsReceived" | "eventsIgnored" | "eventsRejected"
>;

/** `outcome` label values of secmon_receiver_requests. */
export type RequestOutcome =
  "ok" | "partial" | "invalid" | "too_large" | "unauthenticated" | "unavailable" | "error";

export type Transport = Exclude<IngestContext["transport"], "replay">;

export type RequestFormat = "protobuf" | "json";

/** OTLP partial success: records rejected and why (the first reason). */
export interface ExportResult {
  readonly rejected: number;
  readonly errorMessage: string | undefined;
}

/** Distinct `service` label values before further services are counted as `other`. */
export const MAX_SERVICE_LABELS = 100;
const OTHER_SERVICE = "other";
const CUSTOM_EVENT = "custom";

const KNOWN_EVENTS: ReadonlySet<string> = new Set(SECURITY_EVENT_NAMES);

/** Outcome label for an error that ended a request. */
export function outcomeOf(err: SecmonError): RequestOutcome {
  switch (err.code) {
    case "OTLP_TOO_LARGE":
      return "too_large";
    case "AUTH_REQUIRED":
      return "unauthenticated";
    case "OTLP_MALFORMED":
    case "OTLP_UNSUPPORTED_MEDIA_TYPE":
    case "OTLP_UNSUPPORTED_ENCODING":
    case "BAD_REQUEST":
    case "NOT_FOUND":
      return "invalid";
    default:
      return err.retryable ? "unavailable" : "error";
  }
}

export interface LogsExportOptions {
  readonly transport: Transport;
  readonly ingestor: Ingestor;
  readonly metrics: ReceiverMetrics;
  readonly now: () => number;
}

/**
 * What both receivers build from their options: the export path for their transport, and the
 * bearer-token check when `auth` is configured (its secret resolved once, here).
 */
export function receiverCore(
  transport: Transport,
  options: ReceiverOptions<{ readonly auth?: { readonly bearer_token: SecretRef } | undefined }>,
): { export: LogsExport; auth: BearerAuth | undefined } {
  const exporter = new LogsExport({
    transport,
    ingestor: options.ingestor,
    metrics: options.metrics,
    now: options.now ?? Date.now,
  });
  const auth = options.config.auth;
  const resolve = options.resolveSecret ?? resolveSecret;
  return {
    export: exporter,
    auth: auth === undefined ? undefined : new BearerAuth(resolve(auth.bearer_token)),
  };
}

/** Decode → ingest → count, shared by the gRPC and HTTP receivers. */
export class LogsExport {
  readonly #o: LogsExportOptions;
  readonly #services = new Set<string>();
  readonly #requestAttrs: Record<RequestOutcome, { transport: Transport; outcome: RequestOutcome }>;

  constructor(options: LogsExportOptions) {
    this.#o = options;
    const attrs = (outcome: RequestOutcome) => ({ transport: options.transport, outcome });
    this.#requestAttrs = {
      ok: attrs("ok"),
      partial: attrs("partial"),
      invalid: attrs("invalid"),
      too_large: attrs("too_large"),
      unauthenticated: attrs("unauthenticated"),
      unavailable: attrs("unavailable"),
      error: attrs("error"),
    };
  }

  /** Counts one request that ended with `outcome`. */
  countRequest(outcome: RequestOutcome): void {
    this.#o.metrics.requests.add(1, this.#requestAttrs[outcome]);
  }

  /**
   * Handles one (decompressed) request body. Throws SecmonError (OTLP_MALFORMED, or the
   * Ingestor's error); the request is counted either way.
   */
  async export(body: Buffer, format: RequestFormat): Promise<ExportResult> {
    const receivedAt = this.#o.now();
    let batch: DecodedBatch;
    try {
      batch =
        format === "protobuf"
          ? decodeLogsProtobuf(body, receivedAt)
          : decodeLogsJson(parseJson(body), receivedAt);
    } catch (err) {
      const e = asSecmonError(err);
      this.countRequest(outcomeOf(e));
      throw e;
    }
    const batchId = batchIdOf(body, batch, receivedAt);
    try {
      await this.#o.ingestor.ingest(batch, { batchId, transport: this.#o.transport, receivedAt });
    } catch (err) {
      const e = asSecmonError(err);
      this.countRequest(outcomeOf(e));
      throw e;
    }
    this.#countRecords(batch);
    const rejected = rejectedCount(batch);
    this.countRequest(rejected > 0 ? "partial" : "ok");
    return { rejected, errorMessage: batch.rejectMessage };
  }

  #countRecords(batch: DecodedBatch): void {
    const m = this.#o.metrics;
    // service label → event name label → count; records of one resource share a service.
    const counts = new Map<string, Map<string, number>>();
    let lastService: string | undefined;
    let byName: Map<string, number> | undefined;
    for (const event of batch.events) {
      if (event.service !== lastService || byName === undefined) {
        lastService = event.service;
        const label = this.#serviceLabel(event.service);
        byName = counts.get(label);
        if (byName === undefined) counts.set(label, (byName = new Map()));
      }
      const name = KNOWN_EVENTS.has(event.name) ? event.name : CUSTOM_EVENT;
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
    for (const [service, names] of counts) {
      for (const [event_name, n] of names) m.eventsReceived.add(n, { event_name, service });
    }
    if (batch.ignored > 0) m.eventsIgnored.add(batch.ignored);
    for (const [reason, n] of Object.entries(batch.rejected)) {
      if (n !== undefined && n > 0) m.eventsRejected.add(n, { reason });
    }
  }

  /** The service label: the name itself for the first MAX_SERVICE_LABELS services, then `other`. */
  #serviceLabel(service: string): string {
    if (this.#services.has(service)) return service;
    if (this.#services.size >= MAX_SERVICE_LABELS) return OTHER_SERVICE;
    this.#services.add(service);
    return service;
  }
}

/**
 * The request's batch id, which makes a sender's retry idempotent: a digest of the request bytes,
 * which carry the events' times. When some events carry no time at all and are dated at arrival,
 * the same bytes sent again are other events (a script sending the same sign-in failure each
 * time): the arrival time joins the digest, and such a request is not recognised as a retry.
 */
function batchIdOf(body: Buffer, batch: DecodedBatch, receivedAt: number): string {
  // the one-shot `hash` for the common case: cheaper than a Hash object (a few % on a 220 KB
  // body, a quarter on a 2 KB one)
  const digest =
    batch.arrivalDated === undefined
      ? hash("sha256", body, "base64url")
      : createHash("sha256").update(body).update(`\0arrival:${receivedAt}`).digest("base64url");
  return digest.slice(0, 22);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new SecmonError("OTLP_MALFORMED", `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** ExportLogsServiceResponse{partial_success{rejected_log_records = 1, error_message = 2}} as protobuf. */
export function encodeExportResponse(result: ExportResult): Uint8Array {
  if (result.rejected === 0 && result.errorMessage === undefined) return new Uint8Array(0);
  const inner = pb.Writer.create();
  if (result.rejected > 0) inner.uint32((1 << 3) | 0).int64(result.rejected);
  if (result.errorMessage !== undefined) inner.uint32((2 << 3) | 2).string(result.errorMessage);
  return pb.Writer.create()
    .uint32((1 << 3) | 2)
    .bytes(inner.finish())
    .finish();
}

/** ExportLogsServiceResponse as OTLP/JSON (int64 as a decimal string). */
export function exportResponseJson(result: ExportResult): string {
  if (result.rejected === 0 && result.errorMessage === undefined) return "{}";
  return JSON.stringify({
    partialSuccess: { rejectedLogRecords: String(result.rejected), errorMessage: result.errorMessage ?? "" },
  });
}

/** google.rpc.Status{code = 1, message = 2} as protobuf, for OTLP/HTTP error bodies. */
export function encodeStatus(code: number, message: string): Uint8Array {
  return pb.Writer.create()
    .uint32((1 << 3) | 0)
    .int32(code)
    .uint32((2 << 3) | 2)
    .string(message)
    .finish();
}

/** google.rpc.Status as OTLP/JSON. */
export function statusJson(code: number, message: string): string {
  return JSON.stringify({ code, message });
}
