import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { Detector } from "../../src/main.ts";
import { startReceiver } from "../sinks/receiver.ts";
import { waitFor } from "../sinks/helpers.ts";
import { exportRequest, failedLoginAt, OtlpGrpcSender } from "./otlp.ts";
import { RedisServer } from "./server.ts";

/**
 * Two detector replicas on one real redis-server (shared windows, alerts and outbox) and one
 * real webhook receiver. One attack's events go to both replicas at once, every request in
 * flight together, so the two replicas commit changes of the same alerts in an interleaving
 * neither controls. What a receiver must see anyway (alerting.md, Order per alert): per alert,
 * one `alert.created` first, then changes whose `updated_at` strictly increases, the last being
 * the alert as the API returns it.
 */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

const SECRET_ENV = "SECMON_REPLICAS_TEST_SECRET";

function config(prefix: string, hookUrl: string): Config {
  const parsed = validateConfig({
    receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
    api: { endpoint: "127.0.0.1:0" },
    metrics: { prometheus: { enabled: false } },
    sinks: [{ type: "webhook", name: "soc", url: hookUrl, secret: { env: SECRET_ENV } }],
    outbox: { type: "redis" },
    log: { level: "error" },
    alerts: { purge_interval_seconds: 3600 },
    state: { backend: "redis", redis: { url: server.url, prefix } },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

interface Received {
  readonly type: string;
  readonly alert: Alert;
}

describe("two detector replicas on one Redis, one webhook receiver", () => {
  it("delivers each alert's changes in order: created first, updated_at increasing, the newest state last", async () => {
    const receiver = await startReceiver();
    const prefix = `rep${randomUUID()}:`;
    const env = { [SECRET_ENV]: "replica-test-secret" };
    const replicas = [
      new Detector(config(prefix, receiver.url), { env }),
      new Detector(config(prefix, receiver.url), { env }),
    ];
    const senders: OtlpGrpcSender[] = [];
    try {
      for (const d of replicas) await d.start();
      for (const d of replicas)
        for (let i = 0; i < 2; i++) senders.push(new OtlpGrpcSender(d.addresses.grpc!));
      // one address failing to sign in as 25 users: brute_force, credential_stuffing, password_spray,
      // failed_login_spike, auth_failure_surge, security_event_surge and account_brute_force per user
      const REQUESTS = 160;
      const attacker = "203.0.113.50";
      const t0 = Date.now() - 120_000;
      await Promise.all(
        Array.from({ length: REQUESTS }, (_, i) =>
          senders[i % senders.length]!.sendWithRetry(
            exportRequest([failedLoginAt(attacker, t0 + i * 10, `u${i % 25}`)]),
          ),
        ),
      );
      // every batch was acknowledged, so its deliveries are in the shared outbox: wait until it is empty
      await waitFor(async () => Object.keys(await replicas[0]!.outbox.backlog()).length === 0, 60_000);
      await Promise.all(replicas.map((d) => d.dispatcher.whenIdle()));

      const byAlert = new Map<string, Received[]>();
      for (const r of receiver.received) {
        const body = JSON.parse(r.body) as Received;
        byAlert.set(body.alert.id, [...(byAlert.get(body.alert.id) ?? []), body]);
      }
      const stored = (await replicas[1]!.alerts.store.list({ limit: 500 })).alerts;
      expect(stored.length).toBeGreaterThanOrEqual(6);
      expect([...byAlert.keys()].sort()).toEqual(stored.map((a) => a.id).sort());
      for (const alert of stored) {
        const got = byAlert.get(alert.id)!;
        const where = `${alert.rule} ${alert.id}: ${got.map((g) => `${g.type}#${g.alert.count}`).join(" ")}`;
        expect(
          got.filter((g) => g.type === "alert.created"),
          where,
        ).toHaveLength(1);
        expect(got[0]!.type, where).toBe("alert.created");
        for (let i = 1; i < got.length; i++) {
          expect(Date.parse(got[i]!.alert.updated_at), where).toBeGreaterThan(
            Date.parse(got[i - 1]!.alert.updated_at),
          );
          expect(got[i]!.alert.count, where).toBeGreaterThan(got[i - 1]!.alert.count);
        }
        const api = await fetch(`${replicas[0]!.addresses.api}/api/alerts/${alert.id}`);
        expect(got.at(-1)!.alert, where).toEqual(await api.json());
      }
      // the newest event's window held every event: the alerts keep that value, whoever committed last
      const value = (rule: string) => stored.find((a) => a.rule === rule)?.value;
      expect(value("brute_force")).toBe(REQUESTS);
      expect(value("auth_failure_surge")).toBe(REQUESTS);
    } finally {
      for (const s of senders) s.close();
      for (const d of replicas) await d.stop();
      await receiver.close();
    }
  }, 120_000);
});
