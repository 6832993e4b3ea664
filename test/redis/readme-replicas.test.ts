/**
 * The README's "Two detectors, one Redis": the two example configs, a real redis-server, and the
 * simulator splitting one brute force across both replicas (each event to the next detector).
 * Each replica sees 6 of the 12 failures, under the threshold of 10: only shared windows raise the
 * alert, and both replicas show the same one.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Detector, validateConfig } from "../../packages/detector/src/index.ts";
import { RedisServer } from "../../packages/detector/test/redis/server.ts";
import { freePort } from "../../packages/detector/test/sinks/peers.ts";
import { EVENT } from "../../packages/semconv/src/index.ts";
import { simulateCli } from "../../packages/simulator/src/simulate-cli.ts";

const ROOT = new URL("../../", import.meta.url);

/** An example config with every listener on a free loopback port and the test's Redis. */
async function replicaConfig(file: string, redisUrl: string) {
  const raw = parse(readFileSync(new URL(file, ROOT), "utf8")) as {
    receivers: { otlp: { grpc: { endpoint: string }; http: { endpoint: string } } };
    api: { endpoint: string };
    metrics: { prometheus: { endpoint: string } };
    state: { redis: { url: string } };
  };
  raw.receivers.otlp.grpc.endpoint = "127.0.0.1:0";
  raw.receivers.otlp.http.endpoint = "127.0.0.1:0";
  raw.api.endpoint = "127.0.0.1:0";
  raw.metrics.prometheus.endpoint = `127.0.0.1:${await freePort()}`;
  raw.state.redis.url = redisUrl;
  const parsed = validateConfig({ ...raw, sinks: [], log: { level: "warn" } });
  if (!parsed.ok) throw new Error(`${file}: ${JSON.stringify(parsed.problems)}`);
  return parsed.config;
}

/** The auth.login events one detector received (secmon_events_received), through its own reader. */
async function signInsReceived(detector: Detector): Promise<number> {
  const { resourceMetrics } = await detector.telemetry.prometheus!.collect();
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      if (m.descriptor.name !== "secmon_events_received") continue;
      for (const p of m.dataPoints) {
        if (p.attributes["event_name"] === EVENT.AUTH_LOGIN && typeof p.value === "number") n += p.value;
      }
    }
  }
  return n;
}

describe("README: two detectors on one Redis", () => {
  let redis: RedisServer;
  const detectors: Detector[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    for (const file of ["examples/config/replica-a.yaml", "examples/config/replica-b.yaml"]) {
      const detector = new Detector(await replicaConfig(file, redis.url));
      await detector.start();
      detectors.push(detector);
    }
  });

  afterAll(async () => {
    for (const d of detectors) await d.stop();
    await redis?.stop();
  });

  it("detects a brute force split across both replicas, once", async () => {
    let out = "";
    const code = await simulateCli(
      [...detectors.flatMap((d) => ["--otlp-endpoint", `http://${d.addresses.grpc}`]), "--brute-force"],
      { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } },
    );
    expect(code, out).toBe(0);
    const seen = await Promise.all(
      detectors.map(async (d) => {
        const res = await fetch(`${d.addresses.api}/api/alerts?rule=brute_force`);
        return ((await res.json()) as { alerts: { id: string; value: number }[] }).alerts;
      }),
    );
    expect(seen[0]).toHaveLength(1);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[0]![0]!.value).toBe(12);
    // … from failures split across the replicas: each received 6 of the 12 failed sign-ins
    expect(await Promise.all(detectors.map(signInsReceived))).toEqual([6, 6]);
  });
});
