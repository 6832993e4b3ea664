import { randomUUID } from "node:crypto";
import { createNoopMeter } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics/catalog.ts";
import { Pipeline } from "../../src/pipeline.ts";
import { RedisReportStore } from "../../src/report/redis-store.ts";
import { SecurityReporter } from "../../src/report/reporter.ts";
import { DAY0, failedLogin, H } from "../report/events.ts";
import { RedisServer } from "./server.ts";
import { describeRedisReportStore } from "./store-suites.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeRedisReportStore("redis", () => server);

describe("RedisReportStore through the pipeline", () => {
  const now = DAY0 + 10 * H + 60_000;

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
