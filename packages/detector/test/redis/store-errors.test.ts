import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

const failed = (i: number): SecurityEvent => ({
  name: EVENT.AUTH_LOGIN,
  time: Date.parse("2026-11-21T10:00:00Z") + i,
  service: "checkout",
  attributes: {
    [ATTR.CLIENT_ADDRESS]: "203.0.113.7",
    [ATTR.USER_HASH]: `h${i}`,
    [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
  },
  resource: {},
});

describe("window store failures, as the detector wires the engine and the Redis store", () => {
  it("count once per failed batch in secmon_store_errors{store=windows, operation=apply}", async () => {
    const { metrics, points } = testMetrics();
    const store = new RedisWindowStore({
      connection: server.connection({ prefix: "errs:", command_timeout_seconds: 1 }),
      metrics,
    });
    await store.start();
    const engine = new Engine({ rules: loadRules({}), store, metrics });
    const ctx = { batchId: "b1", receivedAt: Date.parse("2026-11-21T10:00:01Z") };
    try {
      await engine.evaluate([failed(1), failed(2)], ctx);
      await server.kill();
      for (const id of ["b2", "b3"]) {
        await expect(engine.evaluate([failed(3)], { ...ctx, batchId: id })).rejects.toMatchObject({
          code: "STORE_UNAVAILABLE",
          retryable: true,
        });
      }
      const errors = (await points("secmon_store_errors")).filter(
        (p) => p.attributes["store"] === "windows" && p.attributes["operation"] === "apply",
      );
      expect(errors.map((p) => p.value)).toEqual([2]);
    } finally {
      await store.stop();
    }
  });
});
