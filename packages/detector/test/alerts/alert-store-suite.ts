import { ATTR } from "@secmon/semconv";
import { afterEach, describe, expect, it } from "vitest";
import type { AlertStore } from "../../src/alerts/store.ts";
import { SecmonError } from "../../src/errors.ts";
import { T0, firing, sample } from "./fixtures.ts";

/** What a store is built with in the suite (the memory store's options; others map them). */
export interface AlertStoreSuiteOptions {
  readonly retentionSeconds?: number;
  readonly maxAlerts?: number;
}

/** A store for one case; `stop` (when present) runs after the case. */
export type AlertStoreFactory = (
  options: AlertStoreSuiteOptions,
) => Promise<AlertStore & { stop?: () => Promise<void> }>;

const NOW = T0 + 200_000;

async function rejects(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SecmonError);
  expect((err as SecmonError).code).toBe(code);
  if (text) expect((err as SecmonError).message).toMatch(text);
}

/** Alerts held, through the interface. */
async function size(store: AlertStore): Promise<number> {
  return (await store.list({ limit: 500 })).alerts.length;
}

/**
 * The AlertStore contract, run against every implementation (`describeAlertStore("redis", …)`
 * runs the very same cases as the memory store). Each case gets a fresh, empty store.
 */
export function describeAlertStore(name: string, factory: AlertStoreFactory): void {
  describe(`AlertStore contract: ${name}`, () => {
    const stores: (AlertStore & { stop?: () => Promise<void> })[] = [];
    const make = async (options: AlertStoreSuiteOptions = {}): Promise<AlertStore> => {
      const store = await factory(options);
      stores.push(store);
      return store;
    };
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.stop?.();
    });

    describe("record: deduplication on event time", () => {
      it("answers a retried batch's firing with its first outcome and counts it once; other batches count", async () => {
        const store = await make();
        const first = await store.record(firing({ batchId: "b1" }), NOW);
        expect(first.outcome).toBe("created");
        // the sender retries b1 (its windows were applied, its answer was lost)
        const retry = await store.record(firing({ batchId: "b1" }), NOW + 1000);
        expect(retry).toMatchObject({
          outcome: "created",
          alert: { id: first.alert.id, count: 1 },
          repeated: true,
        });
        expect(first.repeated).toBeUndefined();
        const second = await store.record(firing({ batchId: "b2", lastSeen: T0 + 101_000 }), NOW + 2000);
        expect(second).toMatchObject({ outcome: "updated", alert: { id: first.alert.id, count: 2 } });
        const secondRetry = await store.record(firing({ batchId: "b2", lastSeen: T0 + 101_000 }), NOW + 3000);
        expect(secondRetry).toMatchObject({ outcome: "updated", alert: { count: 2 }, repeated: true });
        expect(second.repeated).toBeUndefined();
        // without a batch id (replay, tests) every firing counts
        const anonymous = await store.record(firing({ lastSeen: T0 + 102_000 }), NOW + 4000);
        expect(anonymous.alert.count).toBe(3);
        expect((await store.get(first.alert.id))?.count).toBe(3);
        // an operator's change keeps what the alert remembers of its batches
        await store.update(first.alert.id, { status: "investigating" }, "analyst", NOW + 5000);
        expect(
          (await store.record(firing({ batchId: "b2", lastSeen: T0 + 101_000 }), NOW + 6000)).alert.count,
        ).toBe(3);
      });

      it("creates an alert with the JSON shape of alerts.md", async () => {
        const store = await make();
        const { alert, outcome } = await store.record(firing(), NOW);
        expect(outcome).toBe("created");
        expect(alert.id).toMatch(/^alt_[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(alert).toMatchObject({
          rule: "brute_force",
          severity: "high",
          status: "new",
          group: { [ATTR.CLIENT_ADDRESS]: "203.0.113.7" },
          value: 10,
          threshold: 10,
          window_seconds: 300,
          first_seen: "2026-11-21T10:00:40.000Z",
          last_seen: "2026-11-21T10:01:40.000Z",
          created_at: "2026-11-21T10:03:20.000Z",
          updated_at: "2026-11-21T10:03:20.000Z",
          count: 1,
          services: ["checkout"],
          trace_ids: ["4bf92f3577b34da6a3ce929d0e0e4736"],
        });
        expect(alert.sample_events).toHaveLength(1);
        expect(await store.get(alert.id)).toEqual(alert);
      });

      it("a firing inside suppression (event time) updates value, last_seen, count, updated_at and merges", async () => {
        const store = await make();
        const first = await store.record(firing(), NOW);
        const second = await store.record(
          firing({
            lastSeen: T0 + 100_000 + 299_999,
            value: 25,
            services: ["checkout", "login"],
            traceIds: ["aaaabbbbccccddddaaaabbbbccccdddd"],
            sampleEvents: Array.from({ length: 12 }, (_, i) => sample(T0 + 300_000 + i)),
          }),
          NOW + 5000,
        );
        expect(second.outcome).toBe("updated");
        expect(second.alert.id).toBe(first.alert.id);
        expect(second.alert).toMatchObject({
          value: 25,
          count: 2,
          last_seen: new Date(T0 + 399_999).toISOString(),
          first_seen: first.alert.first_seen,
          created_at: first.alert.created_at,
          updated_at: new Date(NOW + 5000).toISOString(),
          services: ["checkout", "login"],
          trace_ids: ["4bf92f3577b34da6a3ce929d0e0e4736", "aaaabbbbccccddddaaaabbbbccccdddd"],
        });
        expect(second.alert.sample_events).toHaveLength(10);
        expect(second.alert.sample_events.at(-1)?.time).toBe(new Date(T0 + 300_011).toISOString());
      });

      it("keeps the value of the firing with the latest event time, whatever order firings commit in", async () => {
        const store = await make();
        const until = (lastSeen: number) => new Date(lastSeen + 3_600_000).toISOString();
        const at = (ms: number, value: number) =>
          firing({
            lastSeen: T0 + ms,
            value,
            responses: [{ action: "block_ip", target: "203.0.113.7", until: until(T0 + ms) }],
          });
        const { alert } = await store.record(at(100_000, 10), NOW);
        expect((await store.record(at(102_000, 14), NOW + 1)).alert.value).toBe(14);
        // a firing of an earlier batch that commits later (another replica, a retry): counted, value kept
        const late = await store.record(at(101_000, 12), NOW + 2);
        expect(late.alert).toMatchObject({
          id: alert.id,
          count: 3,
          value: 14,
          last_seen: new Date(T0 + 102_000).toISOString(),
          responses: [{ until: until(T0 + 102_000) }],
        });
        // the same window end: the larger value (more of the window's events counted)
        expect((await store.record(at(102_000, 13), NOW + 3)).alert.value).toBe(14);
        expect((await store.record(at(102_000, 15), NOW + 4)).alert.value).toBe(15);
        // any order of the same firings gives the same value: the latest window's, even when smaller
        const firings = [at(100_000, 10), at(103_000, 9), at(101_000, 20), at(102_000, 30)];
        for (const order of [firings, [...firings].reverse()]) {
          const other = await make();
          let last;
          for (const f of order) last = await other.record(f, NOW);
          expect(last?.alert).toMatchObject({ count: 4, value: 9 });
        }
      });

      it("suppression is measured on event time from the creating firing, not on detector time", async () => {
        const store = await make();
        const first = await store.record(firing(), NOW);
        // detector time far later (a replay), event time still inside 300 s → same alert
        const replayed = await store.record(firing({ lastSeen: T0 + 350_000 }), NOW + 86_400_000);
        expect(replayed.alert.id).toBe(first.alert.id);
        // event time 300 s after the creating event → a new alert, even though little detector time passed
        const later = await store.record(firing({ lastSeen: T0 + 400_000 }), NOW + 1);
        expect(later.outcome).toBe("created");
        expect(later.alert.id).not.toBe(first.alert.id);
        // the next firing deduplicates against the newest alert
        const next = await store.record(firing({ lastSeen: T0 + 410_000 }), NOW + 2);
        expect(next.alert.id).toBe(later.alert.id);
      });

      it("honours each rule's suppression period and keeps groups and rules apart", async () => {
        const store = await make();
        const a = await store.record(firing({ suppressionSeconds: 60 }), NOW);
        const b = await store.record(firing({ suppressionSeconds: 60, lastSeen: T0 + 160_000 }), NOW);
        expect(b.outcome).toBe("created");
        const other = await store.record(firing({ group: { [ATTR.CLIENT_ADDRESS]: "198.51.100.1" } }), NOW);
        const otherRule = await store.record(firing({ rule: "credential_stuffing" }), NOW);
        expect(new Set([a.alert.id, b.alert.id, other.alert.id, otherRule.alert.id]).size).toBe(4);
      });

      it("a closed alert inside suppression absorbs the firing without reopening (outcome suppressed)", async () => {
        for (const status of ["resolved", "false_positive"] as const) {
          const store = await make();
          const { alert } = await store.record(firing(), NOW);
          await store.update(alert.id, { status }, "ana", NOW + 10);
          const again = await store.record(firing({ lastSeen: T0 + 200_000, value: 30 }), NOW + 20);
          expect(again.outcome).toBe("suppressed");
          expect(again.alert).toMatchObject({ id: alert.id, status, count: 2, value: 30 });
          expect(again.alert.resolution?.by).toBe("ana");
          // past suppression: a new, open alert
          const after = await store.record(firing({ lastSeen: T0 + 400_000 }), NOW + 30);
          expect(after.outcome).toBe("created");
          expect(after.alert.status).toBe("new");
        }
      });

      it("keeps the higher severity and bounded indicators", async () => {
        const store = await make();
        await store.record(firing({ severity: "medium" }), NOW);
        const up = await store.record(
          firing({
            severity: "critical",
            indicators: [{ type: "ip", value: "203.0.113.7", confidence: 0.95 }],
          }),
          NOW,
        );
        expect(up.alert.severity).toBe("critical");
        expect(up.alert.indicators).toEqual([{ type: "ip", value: "203.0.113.7", confidence: 0.95 }]);
        const down = await store.record(firing({ severity: "low" }), NOW);
        expect(down.alert.severity).toBe("critical");
      });
    });

    describe("update: lifecycle", () => {
      it("moves new → investigating → resolved with a resolution, and reopens", async () => {
        const store = await make();
        const { alert } = await store.record(firing(), NOW);
        const inv = await store.update(
          alert.id,
          { status: "investigating", assignee: "ana" },
          "ana",
          NOW + 1000,
        );
        expect(inv.before.status).toBe("new");
        expect(inv.alert).toMatchObject({ status: "investigating", assignee: "ana" });
        expect(inv.alert.resolution).toBeUndefined();
        const res = await store.update(
          alert.id,
          { status: "resolved", resolution: { note: "blocked at the edge" } },
          "ana",
          NOW + 2000,
        );
        expect(res.alert.resolution).toEqual({
          at: new Date(NOW + 2000).toISOString(),
          by: "ana",
          note: "blocked at the edge",
        });
        const reopened = await store.update(alert.id, { status: "investigating" }, "bo", NOW + 3000);
        expect(reopened.alert.resolution).toBeUndefined();
        const unassigned = await store.update(alert.id, { assignee: null }, "bo", NOW + 4000);
        expect(unassigned.alert.assignee).toBeUndefined();
      });

      it("records a default resolution when closing without one; `by` may be given", async () => {
        const store = await make();
        const { alert } = await store.record(firing(), NOW);
        const fp = await store.update(alert.id, { status: "false_positive" }, "ana", NOW + 1);
        expect(fp.alert.resolution).toEqual({ at: new Date(NOW + 1).toISOString(), by: "ana", note: "" });
        const edited = await store.update(
          alert.id,
          { resolution: { note: "office NAT", by: "soc" } },
          "x",
          NOW + 2,
        );
        expect(edited.alert.resolution).toMatchObject({ by: "soc", note: "office NAT" });
        expect(edited.alert.status).toBe("false_positive");
      });

      it("rejects invalid transitions, misplaced resolutions, empty and oversized patches", async () => {
        const store = await make();
        const { alert } = await store.record(firing(), NOW);
        await rejects(store.update(alert.id, {}, "a", NOW), "BAD_REQUEST", /nothing to change/);
        await rejects(
          store.update(alert.id, { resolution: { note: "x" } }, "a", NOW),
          "BAD_REQUEST",
          /resolution/,
        );
        await rejects(
          store.update(alert.id, { assignee: "x".repeat(201) }, "a", NOW),
          "BAD_REQUEST",
          /assignee/,
        );
        await rejects(
          store.update(alert.id, { status: "bogus" as never }, "a", NOW),
          "BAD_REQUEST",
          /status: unknown/,
        );
        await store.update(alert.id, { status: "resolved" }, "a", NOW);
        await rejects(
          store.update(alert.id, { status: "new" }, "a", NOW),
          "BAD_REQUEST",
          /cannot move from resolved to new/,
        );
        await rejects(store.update("alt_missing", { status: "resolved" }, "a", NOW), "NOT_FOUND");
      });

      it("optimistic concurrency: a stale expected updated_at is a CONFLICT; updated_at always moves", async () => {
        const store = await make();
        const { alert } = await store.record(firing(), NOW);
        const a = await store.update(
          alert.id,
          { assignee: "ana", expectedUpdatedAt: alert.updated_at },
          "ana",
          NOW, // same millisecond as creation: updated_at still moves forward
        );
        expect(a.alert.updated_at > alert.updated_at).toBe(true);
        await rejects(
          store.update(alert.id, { assignee: "bo", expectedUpdatedAt: alert.updated_at }, "bo", NOW),
          "CONFLICT",
        );
        // a firing is a change too
        const fired = await store.record(firing({ lastSeen: T0 + 120_000 }), NOW);
        await rejects(
          store.update(alert.id, { status: "resolved", expectedUpdatedAt: a.alert.updated_at }, "ana", NOW),
          "CONFLICT",
        );
        const ok = await store.update(
          alert.id,
          { status: "resolved", expectedUpdatedAt: fired.alert.updated_at },
          "ana",
          NOW,
        );
        expect(ok.alert.status).toBe("resolved");
      });
    });

    describe("list: filters and pagination", () => {
      async function seeded(): Promise<{ store: AlertStore; ids: string[] }> {
        const store = await make();
        const ids: string[] = [];
        const severities = ["critical", "high", "medium", "low"] as const;
        for (let i = 0; i < 20; i++) {
          const { alert } = await store.record(
            firing({
              rule: i % 2 === 0 ? "brute_force" : "api_scanning",
              severity: severities[i % 4] as (typeof severities)[number],
              group: { [ATTR.CLIENT_ADDRESS]: `198.51.100.${i}` },
              lastSeen: T0 + i * 1000,
            }),
            NOW + i * 1000,
          );
          ids.push(alert.id);
        }
        return { store, ids };
      }

      it("pages newest first with a stable cursor, unaffected by new alerts", async () => {
        const { store, ids } = await seeded();
        const p1 = await store.list({ limit: 8 });
        expect(p1.alerts.map((a) => a.id)).toEqual(ids.slice(12).reverse());
        expect(p1.nextCursor).toBeDefined();
        await store.record(firing({ group: { [ATTR.CLIENT_ADDRESS]: "192.0.2.99" } }), NOW + 99_000);
        const p2 = await store.list({ limit: 8, cursor: p1.nextCursor as string });
        expect(p2.alerts.map((a) => a.id)).toEqual(ids.slice(4, 12).reverse());
        const p3 = await store.list({ limit: 8, cursor: p2.nextCursor as string });
        expect(p3.alerts.map((a) => a.id)).toEqual(ids.slice(0, 4).reverse());
        expect(p3.nextCursor).toBeUndefined();
      });

      it("filters by severity (several), status, rule and time ranges", async () => {
        const { store, ids } = await seeded();
        await store.update(ids[0] as string, { status: "resolved" }, "a", NOW);
        const sev = await store.list({ severity: ["critical", "low"], limit: 500 });
        expect(sev.alerts.every((a) => a.severity === "critical" || a.severity === "low")).toBe(true);
        expect(sev.alerts).toHaveLength(10);
        const resolved = await store.list({ status: ["resolved"] });
        expect(resolved.alerts.map((a) => a.id)).toEqual([ids[0]]);
        const rule = await store.list({ rule: ["api_scanning"], status: ["new"] });
        expect(rule.alerts).toHaveLength(10);
        const created = await store.list({ createdFrom: NOW + 5000, createdTo: NOW + 8000 });
        expect(created.alerts.map((a) => a.id)).toEqual(ids.slice(5, 8).reverse());
        const seen = await store.list({ lastSeenFrom: T0 + 18_000 });
        expect(seen.alerts.map((a) => a.id)).toEqual(ids.slice(18).reverse());
        const filteredPage = await store.list({ severity: ["high"], limit: 2 });
        const next = await store.list({
          severity: ["high"],
          limit: 2,
          cursor: filteredPage.nextCursor as string,
        });
        expect([...filteredPage.alerts, ...next.alerts].map((a) => a.id)).toEqual(
          [ids[17], ids[13], ids[9], ids[5]].filter(Boolean),
        );
      });

      it("rejects a bad limit or cursor", async () => {
        const { store } = await seeded();
        await rejects(store.list({ limit: 0 }), "BAD_REQUEST", /limit/);
        await rejects(store.list({ limit: 501 }), "BAD_REQUEST", /limit/);
        await rejects(store.list({ cursor: "nope" }), "BAD_REQUEST", /cursor/);
      });
    });

    describe("counts and retention", () => {
      it("counts open alerts by severity", async () => {
        const store = await make();
        const a = await store.record(firing({ severity: "critical" }), NOW);
        await store.record(firing({ rule: "x", severity: "critical" }), NOW);
        await store.record(firing({ rule: "y", severity: "low" }), NOW);
        await store.update(a.alert.id, { status: "false_positive" }, "a", NOW);
        expect(await store.countOpen()).toEqual({ critical: 1, high: 0, medium: 0, low: 1 });
      });

      it("purges closed alerts past retention, never open ones", async () => {
        const store = await make({ retentionSeconds: 3600 });
        const closed = await store.record(firing(), NOW);
        const open = await store.record(firing({ rule: "other" }), NOW);
        await store.update(closed.alert.id, { status: "resolved" }, "a", NOW);
        expect(await store.purge(NOW + 3_599_000)).toBe(0);
        expect(await store.purge(NOW + 3_601_000)).toBe(1);
        expect(await store.get(closed.alert.id)).toBeUndefined();
        expect(await store.get(open.alert.id)).toBeDefined();
        // the purged alert no longer deduplicates: the next firing creates a new one
        const again = await store.record(firing({ lastSeen: T0 + 101_000 }), NOW + 3_602_000);
        expect(again.outcome).toBe("created");
      });

      it("bounds the number of alerts, dropping the oldest closed first", async () => {
        const store = await make({ maxAlerts: 3 });
        const ids: string[] = [];
        for (let i = 0; i < 3; i++)
          ids.push((await store.record(firing({ rule: `r${i}` }), NOW + i)).alert.id);
        await store.update(ids[1] as string, { status: "resolved" }, "a", NOW);
        await store.record(firing({ rule: "r3" }), NOW + 10);
        expect(await size(store)).toBe(3);
        expect(await store.get(ids[1] as string)).toBeUndefined();
        await store.record(firing({ rule: "r4" }), NOW + 11);
        expect(await store.get(ids[0] as string)).toBeUndefined();
        expect(await size(store)).toBe(3);
      });
    });
  });
}
