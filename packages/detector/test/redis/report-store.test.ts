import { randomUUID } from "node:crypto";
import { createNoopMeter } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics/catalog.ts";
import { Pipeline } from "../../src/pipeline.ts";
import { RedisReportStore } from "../../src/report/redis-store.ts";
import { SecurityReporter } from "../../src/report/reporter.ts";
import { zeroCounters, type HourTally } from "../../src/report/store.ts";
import { DAY0, failedLogin, H } from "../report/events.ts";
import { describeReportStore } from "../report/report-store-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeReportStore(
  "redis",
  async (options) => {
    const store = new RedisReportStore({
      connection: server.connection({ prefix: `r${randomUUID()}:` }),
      ...options,
    });
    await store.start();
    return store;
  },
  { exactUniques: false },
);

describe("RedisReportStore: a batch id is counted once", () => {
  const now = DAY0 + 10 * H + 60_000;
  const tally = (events: number): HourTally => ({
    hour: DAY0 + 10 * H,
    counters: { ...zeroCounters(), events, sign_ins: events, failed_sign_ins: events },
    clientAddresses: new Set(["192.0.2.1"]),
    failuresByIdentifier: new Map([["h1", events]]),
    failuresByAddress: new Map([["192.0.2.1", events]]),
  });

  it("ignores a second add with the same batch id, not one with another or none", async () => {
    const store = new RedisReportStore({
      connection: server.connection({ prefix: `rb${randomUUID()}:` }),
      clock: () => now,
    });
    await store.start();
    try {
      await store.add([tally(3)], { batchId: "req-1" });
      await store.add([tally(3)], { batchId: "req-1" }); // the sender's retry
      await store.add([tally(2)], { batchId: "req-2" });
      await store.add([tally(1)]);
      const s = await store.summarize(DAY0, DAY0 + 24 * H, 5);
      expect(s.counters).toMatchObject({ events: 6, failed_sign_ins: 6 });
      expect(s.topFailedIdentifiers).toEqual([{ value: "h1", count: 6, error: 0 }]);
    } finally {
      await store.stop();
    }
  });

  it("through the pipeline: a request retried after it was accepted adds to the report once", async () => {
    const store = new RedisReportStore({
      connection: server.connection({ prefix: `rp${randomUUID()}:` }),
      clock: () => now,
    });
    await store.start();
    const reporter = new SecurityReporter({ store, clock: () => now });
    const pipeline = new Pipeline({
      evaluator: { evaluate: async () => [] },
      alerting: { handle: async () => [] },
      observers: [reporter],
      metrics: createMetrics(createNoopMeter()),
      maxInFlightEvents: 1000,
    });
    const batch = {
      events: [
        failedLogin(DAY0 + 10 * H, "192.0.2.7", "h7"),
        failedLogin(DAY0 + 10 * H + 1, "192.0.2.7", "h7"),
      ],
      ignored: 0,
      rejected: {},
    };
    const ctx = { batchId: "same-request-bytes", transport: "grpc" as const, receivedAt: now };
    try {
      await pipeline.ingest(batch, ctx);
      await pipeline.ingest(batch, ctx); // the response was lost: the sender sends it again
      await pipeline.ingest(batch, { ...ctx, batchId: "another-request" });
      // the reporter writes in the background, on the same connection: this read comes after
      // the three adds
      expect(await store.countEvents(DAY0, DAY0 + 24 * H)).toBe(4);
    } finally {
      await pipeline.stop();
      await store.stop();
    }
  });
});
