/**
 * The accounting identity under concurrent load, through both receivers into the real Pipeline
 * (whose admission bound refuses batches retryably while others are in flight):
 *   records sent = evaluated + ignored + rejected, and received = evaluated.
 */
import * as grpc from "@grpc/grpc-js";
import { ATTR, EVENT } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import type { SecurityEvent } from "../../src/event.ts";
import { Pipeline } from "../../src/pipeline.ts";
import { grpcReceiverSchema, httpReceiverSchema } from "../../src/receiver/config.ts";
import { OtlpGrpcReceiver, LOGS_EXPORT_PATH } from "../../src/receiver/otlp-grpc.ts";
import { OtlpHttpReceiver } from "../../src/receiver/otlp-http.ts";
import type { RecordSpec } from "./fixtures.ts";
import { failedLogin, jsonRequest, protobufRequest } from "./fixtures.ts";
import { TestMetrics } from "./harness.ts";
import { cleanupAfterEach } from "./receiver-suite.ts";

const cleanups = cleanupAfterEach();

interface Mix {
  records: RecordSpec[];
  valid: number;
  ignored: number;
  rejected: number;
}

/** Request i: a deterministic mix of valid, custom, ignored and invalid records. */
function mix(i: number): Mix {
  const records: RecordSpec[] = [];
  const valid = (i % 7) + 1;
  const custom = i % 2;
  const ignored = i % 3;
  const rejected = i % 4;
  for (let k = 0; k < valid; k++) records.push(failedLogin(`10.${i}.0.${k}`));
  for (let k = 0; k < custom; k++) records.push({ eventName: "custom.export", attributes: { n: k } });
  for (let k = 0; k < ignored; k++) records.push({ body: `GET /health ${k}` });
  for (let k = 0; k < rejected; k++) {
    records.push({ eventName: EVENT.API_REQUEST, attributes: { [ATTR.HTTP_RESPONSE_STATUS_CODE]: true } });
  }
  return { records, valid: valid + custom, ignored, rejected };
}

const passthrough = (b: Buffer) => b;

describe("receiver accounting", () => {
  it("keeps records sent = evaluated + ignored + rejected under concurrent load with retryable refusals", async () => {
    const metrics = new TestMetrics();
    cleanups.push(() => metrics.stop());
    const evaluatedEvents: SecurityEvent[] = [];
    // Evaluation waits for the first refusal, so batches pile up to the admission bound for sure.
    let firstRefusal!: () => void;
    const refused = new Promise<void>((resolve) => (firstRefusal = resolve));
    const pipeline = new Pipeline({
      evaluator: {
        async evaluate(events) {
          await refused;
          await new Promise((resolve) => setImmediate(resolve));
          evaluatedEvents.push(...events);
          return [];
        },
      },
      alerting: { handle: async () => [] },
      metrics: metrics.metrics,
      maxInFlightEvents: 1000, // at least the schema minimum; requests are sized to exceed it together
    });
    await pipeline.start();
    const common = { ingestor: pipeline, metrics: metrics.metrics };
    const grpcReceiver = new OtlpGrpcReceiver({
      ...common,
      config: grpcReceiverSchema.parse({ endpoint: "127.0.0.1:0" }),
    });
    const httpReceiver = new OtlpHttpReceiver({
      ...common,
      config: httpReceiverSchema.parse({ endpoint: "127.0.0.1:0", retry_after_seconds: 0 }),
    });
    await grpcReceiver.start();
    await httpReceiver.start();
    cleanups.push(() => httpReceiver.stop());
    cleanups.push(() => grpcReceiver.stop());
    const client = new grpc.Client(`127.0.0.1:${grpcReceiver.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());

    let refusals = 0;
    const sendGrpc = async (bytes: Buffer): Promise<void> => {
      for (;;) {
        const code = await new Promise<number>((resolve) =>
          client.makeUnaryRequest(
            LOGS_EXPORT_PATH,
            passthrough,
            passthrough,
            bytes,
            new grpc.Metadata(),
            (err) => resolve(err ? err.code : grpc.status.OK),
          ),
        );
        if (code === grpc.status.OK) return;
        expect(code).toBe(grpc.status.UNAVAILABLE);
        refusals++;
        firstRefusal();
      }
    };
    const sendHttp = async (bytes: Buffer, type: string): Promise<void> => {
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${httpReceiver.port}/v1/logs`, {
          method: "POST",
          headers: { "Content-Type": type },
          body: bytes,
        });
        await res.arrayBuffer();
        if (res.status === 200) return;
        expect(res.status).toBe(503);
        refusals++;
        firstRefusal();
      }
    };

    // Padding makes every request carry 100+ valid events, so that ~10 in flight pass the bound.
    const padding = (i: number): RecordSpec[] =>
      Array.from({ length: 100 }, (_, k) => failedLogin(`172.16.${i}.${k}`));
    const expected = { sent: 0, valid: 0, ignored: 0, rejected: 0, requests: 0 };
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 90; i++) {
      const m = mix(i);
      const records = [...padding(i), ...m.records];
      expected.sent += records.length;
      expected.valid += m.valid + 100;
      expected.ignored += m.ignored;
      expected.rejected += m.rejected;
      expected.requests++;
      if (i % 3 === 0) sends.push(sendGrpc(Buffer.from(protobufRequest(records))));
      else if (i % 3 === 1)
        sends.push(sendHttp(Buffer.from(protobufRequest(records)), "application/x-protobuf"));
      else sends.push(sendHttp(Buffer.from(JSON.stringify(jsonRequest(records))), "application/json"));
    }
    await Promise.all(sends);

    const received = await metrics.sum("secmon_events_received");
    const evaluated = await metrics.sum("secmon_events_evaluated");
    const ignored = await metrics.sum("secmon_events_ignored");
    const rejected = await metrics.sum("secmon_events_rejected");
    expect(refusals).toBeGreaterThan(0);
    expect({ received, evaluated, ignored, rejected }).toEqual({
      received: expected.valid,
      evaluated: expected.valid,
      ignored: expected.ignored,
      rejected: expected.rejected,
    });
    expect(evaluated + ignored + rejected).toBe(expected.sent);
    expect(evaluatedEvents).toHaveLength(expected.valid);
    expect(await metrics.sum("secmon_events_received", { event_name: "custom" })).toBe(45);
    expect(await metrics.sum("secmon_events_rejected", { reason: "invalid_attribute" })).toBe(
      expected.rejected,
    );
    const accepted =
      (await metrics.sum("secmon_receiver_requests", { outcome: "ok" })) +
      (await metrics.sum("secmon_receiver_requests", { outcome: "partial" }));
    expect(accepted).toBe(expected.requests);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "unavailable" })).toBe(refusals);
    await pipeline.stop();
  });
});
