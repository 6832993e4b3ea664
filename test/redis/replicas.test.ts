/**
 * Several detector replicas on one Redis, as real processes started with the secmon-detector
 * CLI from source: an attack whose events alternate between two replicas is detected once (one
 * alert in both APIs and in Redis, one alert.created webhook delivery through the shared Redis
 * outbox), a delivery of a replica killed while it waits to retry is sent by another replica,
 * and a detector restarted in the middle of an attack still detects it on time (the events
 * before the restart count).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ATTR } from "../../packages/semconv/src/index.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../packages/detector/src/alerts/types.ts";
import { alertsBase, outboxBase } from "../../packages/detector/src/state/redis/keys.ts";
import { exportRequest, failedLoginAt, OtlpGrpcSender } from "../../packages/detector/test/redis/otlp.ts";
import { RedisServer } from "../../packages/detector/test/redis/server.ts";
import { waitFor } from "../../packages/detector/test/sinks/helpers.ts";
import { startReceiver } from "../../packages/detector/test/sinks/receiver.ts";
import type { RedisClient } from "../../packages/detector/src/state/redis/connection.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "packages/detector/src/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "secmon-replicas-"));
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Replica {
  readonly proc: ChildProcess;
  readonly grpc: string;
  readonly api: string;
  stop(): Promise<void>;
  /** SIGKILL: no drain, no lease handed back. */
  kill(): Promise<void>;
}

/**
 * Starts `secmon-detector --config FILE` and waits for its "detector started" log line. The
 * outbox is not configured: with Redis state it is the shared Redis outbox.
 */
async function startReplica(
  name: string,
  prefix: string,
  webhook?: string,
  sink: Record<string, unknown> = {},
): Promise<Replica> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: { enabled: false } } },
      api: { endpoint: "127.0.0.1:0" },
      metrics: { prometheus: { enabled: false } },
      log: { level: "info", format: "json" },
      sinks: webhook
        ? [
            {
              type: "webhook",
              name: "soc",
              url: webhook,
              secret: { env: "SECMON_TEST_WEBHOOK_SECRET" },
              ...sink,
            },
          ]
        : [],
      state: { backend: "redis", redis: { url: redis.url, prefix } },
    }),
  );
  const proc = spawn(process.execPath, ["--conditions=@secmon/source", CLI, "--config", file], {
    cwd: ROOT,
    env: { ...process.env, SECMON_TEST_WEBHOOK_SECRET: "replica-test-secret-0123456789" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const started = await new Promise<{ grpc: string; api: string }>((resolveStart, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${buffered}`)), 30_000);
    proc.stderr!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split("\n")) {
        if (!line.includes('"detector started"')) continue;
        const log = JSON.parse(line) as { grpc: string; api: string };
        clearTimeout(timer);
        resolveStart({ grpc: log.grpc, api: log.api });
      }
    });
    proc.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${buffered}`)));
  });
  return {
    proc,
    ...started,
    stop: async () => {
      proc.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Runs `fn` on a connection to the test Redis. */
async function withRedis<T>(prefix: string, fn: (c: RedisClient) => Promise<T>): Promise<T> {
  const conn = redis.connection({ prefix });
  await conn.open();
  try {
    return await fn(conn.client);
  } finally {
    await conn.close();
  }
}

/** The deliveries held in the shared outbox, with their lease owner and attempts. */
async function outboxItems(prefix: string): Promise<{ id: string; owner: string; attempts: number }[]> {
  return withRedis(prefix, async (c) => {
    const keys = await c.keys(`${outboxBase(prefix)}i:*`);
    return Promise.all(
      keys.map(async (k) => {
        const [owner, attempts] = await c.hmget(k, "lo", "att");
        return {
          id: k.slice(`${outboxBase(prefix)}i:`.length),
          owner: owner ?? "",
          attempts: Number(attempts),
        };
      }),
    );
  });
}

/** Start of the 5 s bucket (a 300 s window's) holding t. */
const bucket = (t: number) => Math.floor(t / 5000) * 5000;

async function alertsOf(replica: Replica): Promise<Alert[]> {
  const res = await fetch(`${replica.api}/api/alerts?rule=brute_force`);
  return ((await res.json()) as { alerts: Alert[] }).alerts;
}

describe("detector replicas on one Redis", () => {
  it("detect an attack spread over two replicas once: one alert, one alert.created delivery", async () => {
    const prefix = `rep${randomUUID().slice(0, 8)}:`;
    const hook = await startReceiver();
    const replicas = await Promise.all([
      startReplica("a", prefix, hook.url),
      startReplica("b", prefix, hook.url),
    ]);
    const senders = replicas.map((r) => new OtlpGrpcSender(r.grpc));
    const attacker = "203.0.113.99";
    const t0 = Date.now() - 30_000;
    try {
      // 14 failed sign-ins, one per request, alternating between the replicas
      for (let i = 0; i < 14; i++) {
        await senders[i % 2]!.sendWithRetry(exportRequest([failedLoginAt(attacker, t0 + i * 1000, `u${i}`)]));
      }
      const [fromA, fromB] = await Promise.all(replicas.map(alertsOf));
      expect(fromA!.map((a) => a.group[ATTR.CLIENT_ADDRESS])).toEqual([attacker]);
      expect(fromB!.map((a) => a.id)).toEqual(fromA!.map((a) => a.id));
      const alert = fromA![0]!;
      // it fired on the 10th event (threshold 10) and absorbed the 4 after it
      expect(alert).toMatchObject({ value: 14, count: 5 });
      // first_seen: the start of the oldest 5 s bucket counted (its events came in earlier batches)
      expect(alert.first_seen).toBe(new Date(bucket(t0)).toISOString());

      expect(
        await withRedis(prefix, (c) => c.zrange(`${alertsBase(prefix)}ix:rule:brute_force`, "0", "-1")),
      ).toEqual([alert.id]);
    } finally {
      for (const s of senders) s.close();
      // stopping drains the sinks: every delivery either replica had is now in
      await Promise.all(replicas.map((r) => r.stop()));
      await hook.close();
    }
    const created = hook.received
      .map((r) => JSON.parse(r.body) as { type: string; alert: Alert })
      .filter((b) => b.type === "alert.created");
    // one alert.created per alert (other sign-in rules fire on this attack too), one of them brute_force
    const ids = created.map((c) => c.alert.id);
    expect(ids.length).toBe(new Set(ids).size);
    const brute = created.filter((c) => c.alert.rule === "brute_force");
    expect(brute.map((c) => c.alert.group[ATTR.CLIENT_ADDRESS])).toEqual([attacker]);
    // through the shared Redis outbox: every delivery id once, nothing left behind
    const ids2 = hook.received.map((r) => r.headers["x-secmon-delivery"]);
    expect(ids2.length).toBe(new Set(ids2).size);
    expect(Number(await withRedis(prefix, (c) => c.get(`${outboxBase(prefix)}seq`)))).toBe(ids2.length);
    expect(await outboxItems(prefix)).toEqual([]);
  });

  it("a delivery of a replica killed while it waits to retry is sent by another replica, once", async () => {
    const prefix = `kil${randomUUID().slice(0, 8)}:`;
    let up = false;
    const hook = await startReceiver((_n, _r, res) => res.writeHead(up ? 204 : 503).end());
    const sink = {
      rules: { include: ["brute_force"] },
      initial_backoff_seconds: 0.5,
      max_backoff_seconds: 0.5,
    };
    const first = await startReplica("dies", prefix, hook.url, sink);
    const attacker = "192.0.2.77";
    const t0 = Date.now() - 30_000;
    const sender = new OtlpGrpcSender(first.grpc);
    let second: Replica | undefined;
    try {
      for (let i = 0; i < 10; i++) {
        await sender.sendWithRetry(exportRequest([failedLoginAt(attacker, t0 + i * 1000, `u${i}`)]));
      }
      // the creation was refused (503) and waits for its retry, not leased: kill the replica now
      await waitFor(async () => {
        const items = await outboxItems(prefix);
        return items.length === 1 && items[0]!.attempts >= 1 && items[0]!.owner === "";
      }, 20_000);
      await first.kill();
      const [orphan] = await outboxItems(prefix);
      up = true;
      second = await startReplica("takes-over", prefix, hook.url, sink);
      await waitFor(async () => (await outboxItems(prefix)).length === 0, 20_000);
      const delivered = hook.received.filter((r) => JSON.parse(r.body).alert.rule === "brute_force");
      const ids = new Set(delivered.map((r) => r.headers["x-secmon-delivery"]));
      expect([...ids]).toEqual([orphan!.id]);
      const body = JSON.parse(delivered.at(-1)!.body) as { type: string; alert: Alert };
      expect(body).toMatchObject({ type: "alert.created", alert: { rule: "brute_force", value: 10 } });
    } finally {
      sender.close();
      await second?.stop();
      await first.kill();
      await hook.close();
    }
  });

  it("detects an attack on time across a restart of the detector: events before the restart count", async () => {
    const prefix = `rst${randomUUID().slice(0, 8)}:`;
    const attacker = "198.51.100.200";
    const t0 = Date.now() - 30_000;
    const send = async (replica: Replica, from: number, to: number) => {
      const sender = new OtlpGrpcSender(replica.grpc);
      try {
        for (let i = from; i < to; i++) {
          await sender.sendWithRetry(exportRequest([failedLoginAt(attacker, t0 + i * 1000, `u${i}`)]));
        }
      } finally {
        sender.close();
      }
    };
    const first = await startReplica("before", prefix);
    await send(first, 0, 7);
    expect(await alertsOf(first)).toEqual([]);
    await first.stop();

    const second = await startReplica("after", prefix);
    try {
      await send(second, 7, 9);
      expect(await alertsOf(second)).toEqual([]);
      await send(second, 9, 10); // the 10th failed sign-in, 7 of them sent before the restart
      const alerts = await alertsOf(second);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        value: 10,
        count: 1,
        first_seen: new Date(bucket(t0)).toISOString(),
      });
      expect(alerts[0]!.last_seen).toBe(new Date(t0 + 9000).toISOString());
    } finally {
      await second.stop();
    }
  });
});
