import { afterEach, describe, expect, it } from "vitest";
import { AlertManager } from "../../src/alerts/manager.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import type { AlertStore } from "../../src/alerts/store.ts";
import type { Alert, Firing } from "../../src/alerts/types.ts";
import { Engine } from "../../src/engine/engine.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { loadRules } from "../../src/rules/compile.ts";
import type { WindowStore } from "../../src/state/types.ts";
import { prng } from "../prng.ts";
import { event, failure, T0 } from "./helpers.ts";

/** The stores a run of the suite uses: fresh ones per case. */
export interface BatchingStores {
  /** A new window store (the suite starts and stops it). */
  readonly windowStore: () => WindowStore;
  /** A new, started alert store (default: a MemoryAlertStore). */
  readonly alertStore?: () => Promise<AlertStore & { stop?(): Promise<void> }>;
}

const pack = loadRules({});
const rule = (id: string) => pack.filter((r) => r.id === id);
const at = (sec: number) => T0 + sec * 1000;
const TWO_HOURS = 7200;

/** `n` events of one episode, a quarter of a second apart from `start` (seconds after T0). */
function episode(n: number, start: number, one: (sec: number, i: number) => SecurityEvent): SecurityEvent[] {
  return Array.from({ length: n }, (_, i) => one(start + i * 0.25, i));
}

const hash = (s: string) => s.padEnd(32, "0");

/** An episode that makes one rule of the pack fire for one group. */
const EPISODES = {
  brute_force: (who: string, start: number) =>
    episode(12, start, (sec) => failure(sec, { "client.address": who, "user.hash": hash(`b${who.length}`) })),
  credential_stuffing: (who: string, start: number) =>
    episode(6, start, (sec, i) =>
      failure(sec, { "client.address": who, "user.hash": hash(`c${start}x${i}`) }),
    ),
  data_exfiltration: (who: string, start: number) =>
    episode(10, start, (sec) =>
      event(sec, "api.request", { "user.id": who, "http.response.body.size": 120_000 }),
    ),
  account_takeover: (who: string, start: number) => [
    ...episode(5, start, (sec, i) =>
      failure(sec, { "client.address": `198.51.100.${i + 1}`, "user.hash": hash(who) }),
    ),
    event(start + 4, "auth.login", {
      "auth.outcome": "success",
      "client.address": "198.51.100.77",
      "user.hash": hash(who),
    }),
  ],
} satisfies Record<string, (who: string, start: number) => SecurityEvent[]>;

type Kind = keyof typeof EPISODES;
const KINDS = Object.keys(EPISODES) as Kind[];

/** The group each kind of episode fires for, as the alert shows it. */
const groupOf = (kind: Kind, who: string): Record<string, string> =>
  kind === "data_exfiltration"
    ? { "user.id": who }
    : kind === "account_takeover"
      ? { "user.hash": hash(who) }
      : { "client.address": who };

/** One attacker per kind of episode in the stream. */
const ATTACKER: Record<Kind, string> = {
  brute_force: "203.0.113.7",
  credential_stuffing: "203.0.113.8",
  data_exfiltration: "u-7",
  account_takeover: "victim",
};

/**
 * A stream of attack episodes for the whole default pack: each kind twice, by one attacker, each
 * episode 420 to 660 s after the one before (more than the 300 s suppression), starting on a
 * whole minute and lasting a few seconds.
 */
function attackStream(): SecurityEvent[] {
  const next = prng(7);
  const events: SecurityEvent[] = [];
  let start = 0;
  for (const kind of KINDS) {
    for (let k = 0; k < 2; k++) {
      events.push(...EPISODES[kind](ATTACKER[kind], start));
      start += 60 * (7 + next(5));
    }
  }
  return events;
}

/** Cuts events into batches of the given sizes (the last size repeats). */
function cut(events: readonly SecurityEvent[], sizes: (i: number) => number): SecurityEvent[][] {
  const out: SecurityEvent[][] = [];
  for (let from = 0, i = 0; from < events.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(events.slice(from, from + n));
    from += n;
  }
  return out;
}

/**
 * The batching contract of Engine.evaluate, run against any window store (and alert store):
 * what fires, and so which alerts exist, does not depend on how the events were cut into batches
 * for episodes further apart than the suppression period; a retried batch, wide or not, counts
 * nothing twice.
 */
export function describeBatching(name: string, stores: BatchingStores): void {
  describe(`Engine batching: ${name}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });

    /** A started window store, stopped after the case. */
    async function windowStore(): Promise<WindowStore> {
      const store = stores.windowStore();
      await store.start();
      cleanup.push(() => store.stop());
      return store;
    }

    /** An engine on a fresh window store, an alert manager on a fresh alert store. */
    async function detector(rules = pack, wrap: (s: WindowStore) => WindowStore = (s) => s) {
      const engine = new Engine({ rules, store: wrap(await windowStore()) });
      const alerts: AlertStore & { stop?(): Promise<void> } = stores.alertStore
        ? await stores.alertStore()
        : new MemoryAlertStore();
      const stopAlerts = alerts.stop?.bind(alerts);
      if (stopAlerts) cleanup.push(stopAlerts);
      let now = 0;
      const manager = new AlertManager({ store: alerts, clock: () => now, purgeIntervalSeconds: 0 });
      cleanup.push(() => manager.stop());
      let n = 0;
      return {
        engine,
        /** Evaluates a batch as received at its newest event time; hands the firings to alerting. */
        async run(batch: readonly SecurityEvent[], batchId = `b${n++}`): Promise<Firing[]> {
          now = Math.max(now, ...batch.map((e) => e.time));
          const firings = await engine.evaluate(batch, { batchId, receivedAt: now });
          await manager.handle(firings);
          return firings;
        },
        /** Every alert, oldest first. */
        async alerts(): Promise<Alert[]> {
          return [...(await alerts.list({ limit: 500 })).alerts].reverse();
        },
      };
    }

    it.each(KINDS)(
      "%s: two episodes of one group two hours apart in ONE batch give two firings, two alerts",
      async (kind) => {
        const d = await detector(rule(kind));
        const who = kind === "data_exfiltration" ? "u-1" : "203.0.113.9";
        const batch = [...EPISODES[kind](who, 0), ...EPISODES[kind](who, TWO_HOURS)];
        const firings = await d.run(batch, "wide");
        expect(firings.map((f) => [f.rule, f.group, f.batchId])).toEqual([
          [kind, groupOf(kind, who), "wide#0"],
          [kind, groupOf(kind, who), "wide#1"],
        ]);
        expect(firings[0]!.lastSeen).toBeLessThan(at(60));
        expect(firings[1]!.firstSeen).toBeGreaterThanOrEqual(at(TWO_HOURS));
        const alerts = await d.alerts();
        expect(alerts.map((a) => [a.rule, a.group, a.count, a.first_seen.slice(11, 16)])).toEqual([
          [kind, groupOf(kind, who), 1, "10:00"],
          [kind, groupOf(kind, who), 1, "12:00"],
        ]);
      },
    );

    it("account_takeover: a success followed in its batch by failures beyond the allowed lateness still fires", async () => {
      const victim = { "user.hash": hash("victim") };
      const success = (sec: number) => event(sec, "auth.login", { "auth.outcome": "success", ...victim });
      const failures = (from: number) =>
        episode(5, from, (sec, i) => failure(sec, { "client.address": `198.51.100.${i + 1}`, ...victim }));
      // one pass (less than 300 s): the success reads its window before the failures 90 s later
      const d = await detector(rule("account_takeover"));
      const firings = await d.run([...failures(0), success(4), ...failures(90)], "b");
      expect(firings.map((f) => [f.value, f.firstSeen, f.lastSeen])).toEqual([[5, at(0), at(4)]]);
      // later successes of the pass read after the failures before them (together: none between)
      const d2 = await detector(rule("account_takeover"));
      const batch = [
        ...failures(0),
        success(4),
        ...failures(90),
        success(200),
        success(200.5),
        ...failures(250),
      ];
      expect(await d2.run(batch, "c")).toMatchObject([{ value: 10, firstSeen: at(0), lastSeen: at(200.5) }]);
    });

    it("gives the same alerts whether the events come in one batch or cut into many", async () => {
      const events = attackStream();
      const random = prng(11);
      const cuts: Record<string, SecurityEvent[][]> = {
        "one batch": [events],
        "one event per batch": cut(events, () => 1),
        "batches of 7": cut(events, () => 7),
        "random batches": cut(events, () => 1 + random(40)),
      };
      const outcome: Record<string, string[]> = {};
      for (const [how, batches] of Object.entries(cuts)) {
        const d = await detector();
        for (const batch of batches) await d.run(batch);
        // `count` is how many firings an alert took, which depends on the cut by design;
        // `first_seen` is exact only when the oldest counted event came in the same batch, else
        // the start of its bucket (whole minutes here, as every episode starts on one)
        outcome[how] = (await d.alerts())
          .map(
            (a) =>
              `${a.rule} ${JSON.stringify(a.group)} value=${a.value} ${a.first_seen.slice(0, 16)} .. ${a.last_seen}`,
          )
          .sort();
      }
      const alertsOf = (kind: Kind) => outcome["one batch"]!.filter((s) => s.startsWith(`${kind} `));
      for (const kind of KINDS) expect({ kind, alerts: alertsOf(kind).length }).toEqual({ kind, alerts: 2 });
      for (const how of Object.keys(cuts))
        expect({ how, alerts: outcome[how] }).toEqual({ how, alerts: outcome["one batch"] });
    });

    it("does not count a retried wide batch twice: each part is answered as the first time", async () => {
      const engine = new Engine({ rules: rule("brute_force"), store: await windowStore() });
      const ip = { "client.address": "203.0.113.9" };
      const wide = [
        ...EPISODES.brute_force(ip["client.address"], 0),
        ...EPISODES.brute_force(ip["client.address"], TWO_HOURS),
      ];
      const first = await engine.evaluate(wide, { batchId: "w", receivedAt: at(TWO_HOURS + 5) });
      const retry = await engine.evaluate(wide, { batchId: "w", receivedAt: at(TWO_HOURS + 30) });
      const shape = (fs: Firing[]) => fs.map((f) => [f.value, f.firstSeen, f.lastSeen, f.batchId]);
      expect(shape(first)).toEqual([
        [12, at(0), at(2.75), "w#0"],
        [12, at(TWO_HOURS), at(TWO_HOURS + 2.75), "w#1"],
      ]);
      expect(shape(retry)).toEqual(shape(first));
      const next = [failure(TWO_HOURS + 10, ip)];
      expect(await engine.evaluate(next, { batchId: "next", receivedAt: at(TWO_HOURS + 31) })).toMatchObject([
        { value: 13 },
      ]);
    });

    it("cuts by event time as sent: a retry that arrives later (other clock-skew clamping) is cut the same way", async () => {
      const engine = new Engine({
        rules: rule("brute_force"),
        store: await windowStore(),
        maxClockSkewSeconds: 300,
      });
      const ip = { "client.address": "203.0.113.9" };
      // the last event is 400 s ahead of the first arrival (taken as its time), not of the retry's
      const wide = [
        ...EPISODES.brute_force(ip["client.address"], 0),
        failure(TWO_HOURS, ip),
        failure(TWO_HOURS + 400, ip),
      ];
      await engine.evaluate(wide, { batchId: "w", receivedAt: at(TWO_HOURS) });
      await engine.evaluate(wide, { batchId: "w", receivedAt: at(TWO_HOURS + 500) });
      // the two events of the second part were counted once: 8 more make 10
      const more = Array.from({ length: 8 }, (_, i) => failure(TWO_HOURS + 1 + i * 0.25, ip));
      const [f] = await engine.evaluate(more, { batchId: "more", receivedAt: at(TWO_HOURS + 5) });
      expect(f).toMatchObject({ value: 10 });
    });

    it("completes a wide batch whose later part failed when the sender retries, counting the earlier part once", async () => {
      let calls = 0;
      const d = await detector(rule("brute_force"), (store) => ({
        start: () => store.start(),
        stop: () => store.stop(),
        apply: async (ops, opts) => {
          if (++calls === 2) throw new Error("connection reset");
          return store.apply(ops, opts);
        },
      }));
      const ip = { "client.address": "203.0.113.9" };
      const wide = [
        ...EPISODES.brute_force(ip["client.address"], 0),
        ...EPISODES.brute_force(ip["client.address"], TWO_HOURS),
      ];
      await expect(d.run(wide, "w")).rejects.toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true });
      const retry = await d.run(wide, "w");
      expect(retry.map((f) => [f.value, f.batchId])).toEqual([
        [12, "w#0"],
        [12, "w#1"],
      ]);
      expect((await d.alerts()).map((a) => [a.count, a.value])).toEqual([
        [1, 12],
        [1, 12],
      ]);
      // the second part's window holds its 12 events once
      const [next] = await d.run([failure(TWO_HOURS + 10, ip)], "next");
      expect(next!.value).toBe(13);
    });
  });
}
