import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { AlertManager } from "../../src/alerts/manager.ts";
import { RedisAlertStore } from "../../src/alerts/redis-store.ts";
import type { AlertStore } from "../../src/alerts/store.ts";
import { Engine } from "../../src/engine/engine.ts";
import { SecmonError } from "../../src/errors.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { Detector } from "../../src/main.ts";
import { createMetrics } from "../../src/metrics/catalog.ts";
import { Pipeline } from "../../src/pipeline.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { createNoopMeter } from "@opentelemetry/api";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { windowGeometry } from "../../src/state/types.ts";
import { eventually } from "../sinks/helpers.ts";
import { exportRequest, failedLoginAt, OtlpGrpcSender } from "./otlp.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

function config(prefix: string): Config {
  const parsed = validateConfig({
    receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
    api: { endpoint: "127.0.0.1:0" },
    metrics: { prometheus: { enabled: false } },
    sinks: [],
    outbox: { type: "memory" },
    log: { level: "error" },
    alerts: { purge_interval_seconds: 3600 },
    state: { backend: "redis", redis: { url: server.url, prefix, command_timeout_seconds: 1 } },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** How many failed sign-ins of `address` the detector's brute_force window holds at `at`. */
async function bruteForceWindow(
  detector: Detector,
  prefix: string,
  address: string,
  at: number,
): Promise<number> {
  const rule = detector.rules.find((r) => r.id === "brute_force")!;
  const text = rule.group.text({
    name: EVENT.AUTH_LOGIN,
    time: at,
    service: "checkout",
    resource: {},
    attributes: { [ATTR.CLIENT_ADDRESS]: address, [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE },
  });
  const store = new RedisWindowStore({ connection: server.connection({ prefix }) });
  await store.start();
  try {
    const [r] = await store.apply(
      [
        {
          type: "window_read",
          rule: "brute_force",
          key: `brute_force|${text}`,
          ...windowGeometry(300, detector.config.rules.allowed_lateness_seconds),
          times: [at],
        },
      ],
      { batchId: randomUUID() },
    );
    return r!.value;
  } finally {
    await store.stop();
  }
}

describe("detector on Redis: faults", () => {
  it("refuses with UNAVAILABLE / 503 while Redis is down, is not ready, and recovers by itself", async () => {
    const prefix = `f${randomUUID()}:`;
    const detector = new Detector(config(prefix));
    await detector.start();
    const sender = new OtlpGrpcSender(detector.addresses.grpc!);
    try {
      const t = Date.now();
      const body = (i: number) => exportRequest([failedLoginAt("198.51.100.7", t + i)]);
      expect(await sender.send(body(0))).toBe(grpc.status.OK);
      const ready = await fetch(`${detector.addresses.api}/readyz`);
      expect(ready.status).toBe(200);

      await server.kill();
      expect(await sender.send(body(1))).toBe(grpc.status.UNAVAILABLE);
      const http = await fetch(`${detector.addresses.http}/v1/logs`, {
        method: "POST",
        headers: { "content-type": "application/x-protobuf" },
        body: body(2),
      });
      expect(http.status).toBe(503);
      const notReady = await fetch(`${detector.addresses.api}/readyz`);
      expect(notReady.status).toBe(503);
      const checks = ((await notReady.json()) as { checks: Record<string, { healthy: boolean }> }).checks;
      expect(checks["redis"]?.healthy).toBe(false);

      await server.restart();
      await eventually(
        async () => {
          const r = await fetch(`${detector.addresses.api}/readyz`);
          return r.status === 200 ? true : undefined;
        },
        15_000,
        "readiness after Redis came back",
      );
      expect(await sender.send(body(1))).toBe(grpc.status.OK);
      expect(await sender.send(body(2))).toBe(grpc.status.OK);
      // the event before the outage survived it (AOF), the refused ones counted once each
      expect(await bruteForceWindow(detector, prefix, "198.51.100.7", t + 2)).toBe(3);
    } finally {
      sender.close();
      await detector.stop();
    }
  });

  it("survives a SIGKILL of redis-server mid-stream: windows hold exactly the events sent, one alert", async () => {
    const prefix = `k${randomUUID()}:`;
    const detector = new Detector(config(prefix));
    await detector.start();
    const senders = Array.from({ length: 4 }, () => new OtlpGrpcSender(detector.addresses.grpc!));
    const attacker = "203.0.113.66";
    const t0 = Date.now() - 60_000;
    const REQUESTS = 48;
    // each request: one failed sign-in of the attacker and three of other addresses (below threshold)
    const requests = Array.from({ length: REQUESTS }, (_, i) =>
      exportRequest([
        failedLoginAt(attacker, t0 + i * 100, `u${i % 7}`),
        ...[0, 1, 2].map((j) => failedLoginAt(`10.1.${i}.${j}`, t0 + i * 100 + j)),
      ]),
    );
    let accepted = 0;
    let killed = false;
    let restarting: Promise<void> | undefined;
    let refused = 0;
    try {
      let next = 0;
      await Promise.all(
        senders.map(async (sender) => {
          while (next < REQUESTS) {
            const body = requests[next++]!;
            await sender.sendWithRetry(body, {
              onRetry: async () => {
                refused++;
                // bring Redis back once the senders have seen the outage a few times
                if (refused >= 3) await (restarting ??= server.restart());
              },
            });
            accepted++;
            if (accepted === 16 && !killed) {
              killed = true;
              await server.kill();
            }
          }
        }),
      );
      expect(killed).toBe(true);
      expect(refused).toBeGreaterThanOrEqual(3);
      expect(await bruteForceWindow(detector, prefix, attacker, t0 + (REQUESTS - 1) * 100)).toBe(REQUESTS);
      expect(await bruteForceWindow(detector, prefix, "10.1.5.1", t0 + 600)).toBe(1);
      const page = await detector.alerts.store.list({ rule: ["brute_force"], limit: 500 });
      expect(page.alerts.map((a) => a.group[ATTR.CLIENT_ADDRESS])).toEqual([attacker]);
      expect(page.alerts[0]!.count).toBeGreaterThanOrEqual(1);
    } finally {
      for (const s of senders) s.close();
      await detector.stop();
    }
  });

  it("counts nothing twice when a batch is retried after its windows were applied but its alert failed", async () => {
    const prefix = `p${randomUUID()}:`;
    const windows = new RedisWindowStore({ connection: server.connection({ prefix }) });
    const real = new RedisAlertStore({ connection: server.connection({ prefix }) });
    await windows.start();
    await real.start();
    let failNext = true;
    // the first record fails as if Redis went away right after the window script
    const flaky: AlertStore = Object.assign(Object.create(real) as AlertStore, {
      record: (...args: Parameters<AlertStore["record"]>) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new SecmonError("STORE_UNAVAILABLE", "connection lost"));
        }
        return real.record(...args);
      },
    });
    const rules = loadRules({}).filter((r) => r.id === "brute_force");
    const metrics = createMetrics(createNoopMeter());
    const engine = new Engine({ rules, store: windows });
    const manager = new AlertManager({ store: flaky, purgeIntervalSeconds: 0 });
    const pipeline = new Pipeline({
      evaluator: engine,
      alerting: manager,
      metrics,
      maxInFlightEvents: 10_000,
    });
    const t = Date.now();
    const events: SecurityEvent[] = Array.from({ length: 12 }, (_, i) => ({
      name: EVENT.AUTH_LOGIN,
      time: t + i,
      service: "checkout",
      resource: {},
      attributes: { [ATTR.CLIENT_ADDRESS]: "192.0.2.44", [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE },
    }));
    const batch = { events, ignored: 0, rejected: {} };
    const ctx = { batchId: "same-request-bytes", transport: "grpc" as const, receivedAt: t + 20 };
    try {
      const first = await pipeline.ingest(batch, ctx).catch((e: unknown) => e);
      expect(first).toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true });
      await pipeline.ingest(batch, ctx); // the sender's retry: same bytes, same batch id
      const page = await real.list({});
      expect(page.alerts).toHaveLength(1);
      expect(page.alerts[0]).toMatchObject({ value: 12, count: 1 });
      // a later batch sees 12 + 1, not 24 + 1
      const [next] = await engine.evaluate([{ ...events[0]!, time: t + 50 }], {
        batchId: "next",
        receivedAt: t + 60,
      });
      expect(next?.value).toBe(13);
    } finally {
      await pipeline.stop();
      await windows.stop();
      await real.stop();
    }
  });
});
