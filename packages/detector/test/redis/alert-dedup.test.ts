import { randomUUID } from "node:crypto";
import { ATTR } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisAlertStore } from "../../src/alerts/redis-store.ts";
import { alertsBase } from "../../src/state/redis/keys.ts";
import { T0, firing } from "../alerts/fixtures.ts";
import { RedisServer } from "./server.ts";

const NOW = T0 + 200_000;
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

/** `n` stores on their own connections, as n detector replicas would have. */
async function replicas(n: number, prefix = `d${randomUUID()}:`, maxAlerts?: number) {
  const stores = Array.from(
    { length: n },
    () =>
      new RedisAlertStore({
        connection: server.connection({ prefix }),
        ...(maxAlerts !== undefined ? { maxAlerts } : {}),
      }),
  );
  await Promise.all(stores.map((s) => s.start()));
  return { stores, prefix, stop: () => Promise.all(stores.map((s) => s.stop())) };
}

describe("RedisAlertStore across replicas", () => {
  it("creates exactly one alert when replicas record the same firing at once; the others merge", async () => {
    const { stores, prefix, stop } = await replicas(6);
    try {
      const results = await Promise.all(
        stores.flatMap((s, i) =>
          [0, 1, 2].map((j) => s.record(firing({ lastSeen: T0 + 100_000 + i * 10 + j }), NOW)),
        ),
      );
      const created = results.filter((r) => r.outcome === "created");
      expect(created).toHaveLength(1);
      expect(results.filter((r) => r.outcome === "updated")).toHaveLength(17);
      const id = created[0]!.alert.id;
      expect(new Set(results.map((r) => r.alert.id))).toEqual(new Set([id]));
      const stored = await stores[0]!.get(id);
      expect(stored?.count).toBe(18);
      const page = await stores[3]!.list({ limit: 500 });
      expect(page.alerts.map((a) => a.id)).toEqual([id]);
      // the deduplication record in Redis points at that one alert
      const dedup = server.connection({ prefix });
      await dedup.open();
      try {
        const key = `${alertsBase(prefix)}dedup:${firing().groupKey}`;
        expect(await dedup.client.get(key)).toBe(id);
        expect(await dedup.client.zcard(`${alertsBase(prefix)}ix:all`)).toBe(1);
      } finally {
        await dedup.close();
      }
    } finally {
      await stop();
    }
  });

  it("keeps concurrent operator updates and firings consistent (updated_at moves, count exact)", async () => {
    const { stores, stop } = await replicas(3);
    try {
      const { alert } = await stores[0]!.record(firing(), NOW);
      await Promise.all([
        ...stores.map((s, i) => s.update(alert.id, { assignee: `op${i}` }, `op${i}`, NOW + i)),
        ...stores.map((s, i) => s.record(firing({ lastSeen: T0 + 101_000 + i }), NOW + 10 + i)),
      ]);
      const final = (await stores[1]!.get(alert.id))!;
      expect(final.count).toBe(4);
      expect(final.updated_at > alert.updated_at).toBe(true);
      expect(["op0", "op1", "op2"]).toContain(final.assignee);
    } finally {
      await stop();
    }
  });

  it("merges into what another replica or an operator changed since this replica last wrote the alert", async () => {
    const { stores, stop } = await replicas(2);
    try {
      const [a, b] = [stores[0]!, stores[1]!];
      const { alert } = await a.record(firing({ lastSeen: T0 + 100_000 }), NOW);
      expect((await b.record(firing({ lastSeen: T0 + 100_001 }), NOW + 1)).alert.count).toBe(2);
      // a's own copy says count 1: its commit fails, it reads the alert again and merges into it
      const third = await a.record(firing({ lastSeen: T0 + 100_002 }), NOW + 2);
      expect(third).toMatchObject({ outcome: "updated", alert: { id: alert.id, count: 3 } });
      await b.update(alert.id, { status: "investigating", assignee: "bo" }, "bo", NOW + 3);
      const fourth = await a.record(firing({ lastSeen: T0 + 100_003 }), NOW + 4);
      expect(fourth.alert).toMatchObject({ count: 4, status: "investigating", assignee: "bo" });
      // purged elsewhere: the firing creates a new alert instead of updating the gone one
      await b.update(alert.id, { status: "resolved", resolution: { note: "fixed" } }, "bo", NOW + 5);
      expect(await b.purge(NOW + 40 * 86_400_000)).toBe(1);
      const fifth = await a.record(firing({ lastSeen: T0 + 100_004 }), NOW + 6);
      expect(fifth.outcome).toBe("created");
      expect(fifth.alert.id).not.toBe(alert.id);
      expect((await b.list({ limit: 10 })).alerts.map((x) => x.id)).toEqual([fifth.alert.id]);
    } finally {
      await stop();
    }
  });

  it("evicts past max_alerts across replicas, closed first, and keeps the indexes in step", async () => {
    const { stores, stop } = await replicas(2, undefined, 3);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await stores[i % 2]!.record(firing({ rule: `r${i}` }), NOW + i)).alert.id);
      }
      await stores[1]!.update(ids[1]!, { status: "resolved" }, "a", NOW);
      await stores[0]!.record(firing({ rule: "r3" }), NOW + 10);
      expect(await stores[1]!.get(ids[1]!)).toBeUndefined();
      expect((await stores[1]!.list({ status: ["resolved"] })).alerts).toEqual([]);
      expect(await stores[0]!.countOpen()).toEqual({ critical: 0, high: 3, medium: 0, low: 0 });
    } finally {
      await stop();
    }
  });

  it("sets the retention TTL on closed alerts and none on open ones", async () => {
    const { stores, prefix, stop } = await replicas(1);
    const conn = server.connection({ prefix });
    await conn.open();
    try {
      const store = stores[0]!;
      const { alert } = await store.record(firing(), NOW);
      const key = `${alertsBase(prefix)}alert:${alert.id}`;
      expect(await conn.client.pttl(key)).toBe(-1);
      await store.update(alert.id, { status: "resolved" }, "a", NOW);
      const ttl = await conn.client.pttl(key);
      expect(ttl).toBeGreaterThan(30 * 86_400_000);
      expect(ttl).toBeLessThanOrEqual(31 * 86_400_000);
      await store.update(alert.id, { status: "investigating" }, "a", NOW);
      expect(await conn.client.pttl(key)).toBe(-1);
    } finally {
      await conn.close();
      await stop();
    }
  });

  it("pages through a filter past the per-call budget without losing or repeating alerts", async () => {
    const prefix = `b${randomUUID()}:`;
    const store = new RedisAlertStore({ connection: server.connection({ prefix }), listBudget: 7 });
    await store.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const { alert } = await store.record(
          firing({
            rule: "r",
            group: { [ATTR.CLIENT_ADDRESS]: `192.0.2.${i}` },
            severity: i % 5 === 0 ? "critical" : "low",
          }),
          NOW + i,
        );
        ids.push(alert.id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 50; pages++) {
        const page = await store.list({ severity: ["critical"], limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.alerts.map((a) => a.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(ids.filter((_, i) => i % 5 === 0).reverse());
    } finally {
      await store.stop();
    }
  });
});
