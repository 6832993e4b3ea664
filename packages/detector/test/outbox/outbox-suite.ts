import type { AlertEventType } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { alertFromFiring } from "../../src/alerts/build.ts";
import type { Alert } from "../../src/alerts/types.ts";
import type { DeadLetter, NewDelivery, Outbox } from "../../src/outbox/types.ts";
import { firing, T0 } from "../alerts/fixtures.ts";

export function alertOf(id: string, rule = "brute_force", patch: Partial<Alert> = {}): Alert {
  return { ...alertFromFiring(firing({ rule }), id, T0), ...patch };
}

let n = 0;
/** A delivery of a change of `alertId`; each one made later is a later change (revision T0 + n). */
export function delivery(
  alertId: string,
  type: AlertEventType = "alert.created",
  over: Partial<NewDelivery> = {},
): NewDelivery {
  n++;
  return {
    id: `dlv_${String(n).padStart(26, "0")}`,
    sink: "hook",
    type,
    alert: alertOf(alertId, "brute_force", { updated_at: new Date(T0 + n).toISOString() }),
    enqueuedAt: T0 + n,
    dueAt: T0,
    ...over,
  };
}

export function letterOf(d: NewDelivery, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: d.id,
    sink: d.sink,
    type: d.type,
    alert: d.alert,
    reason: "final_status",
    detail: "HTTP 400",
    status: 400,
    attempts: 1,
    enqueued_at: new Date(d.enqueuedAt).toISOString(),
    failed_at: new Date(T0).toISOString(),
    ...over,
  };
}

/** The delivery with another `count` in its alert (to tell states apart). */
function withCount(d: NewDelivery, count: number): NewDelivery {
  return { ...d, alert: { ...d.alert, count } };
}

const unbounded = { maxDepth: () => 1000 };
const claimAt = (
  now: number,
  extra: { limit?: number; owner?: string; together?: boolean; sink?: string } = {},
) => ({
  sink: extra.sink ?? "hook",
  limit: extra.limit ?? 10,
  now,
  leaseMs: 30_000,
  owner: extra.owner ?? "me",
  ...(extra.together ? { together: true } : {}),
});

/** The semantics every Outbox implementation keeps (types.ts), run against each one. */
export function outboxSuite(name: string, open: () => Promise<Outbox>): void {
  describe(`${name}: the Outbox contract`, () => {
    it("hands out due items oldest first, leases them and counts attempts", async () => {
      const box = await open();
      const [a, b, c] = [
        delivery("alt_a"),
        delivery("alt_b"),
        delivery("alt_c", "alert.created", { dueAt: T0 + 5000 }),
      ];
      expect(await box.enqueue([a!, b!, c!], unbounded)).toEqual(["queued", "queued", "queued"]);
      const first = await box.claim(claimAt(T0, { limit: 1 }));
      expect(first.map((i) => i.id)).toEqual([a!.id]);
      expect(first[0]).toMatchObject({
        attempts: 1,
        firstAttemptAt: T0,
        alert: a!.alert,
        type: "alert.created",
      });
      // leased: not handed out again until the lease ends
      expect((await box.claim(claimAt(T0))).map((i) => i.id)).toEqual([b!.id]);
      expect(await box.claim(claimAt(T0 + 1000))).toEqual([]);
      expect(await box.nextDue("hook", "me")).toBe(T0 + 5000);
      expect((await box.claim(claimAt(T0 + 5000))).map((i) => i.id)).toEqual([c!.id]);
      // all leased to me: nothing for me to wait for; another consumer waits for my leases to end
      expect(await box.nextDue("hook", "me")).toBeUndefined();
      expect(await box.nextDue("hook", "other")).toBe(T0 + 30_000);
      // an expired lease makes the item claimable again (its consumer died)
      const again = await box.claim(claimAt(T0 + 30_001, { owner: "other" }));
      expect(again.map((i) => i.id)).toEqual([a!.id, b!.id]);
      expect(again[0]).toMatchObject({ attempts: 2, firstAttemptAt: T0 });
    });

    it("ack removes; nack reschedules only for the lease holder; release hands leases back", async () => {
      const box = await open();
      const [a, b] = [delivery("alt_a"), delivery("alt_b")];
      await box.enqueue([a!, b!], unbounded);
      await box.claim(claimAt(T0));
      await box.ack(a!.id);
      await box.nack(b!.id, "someone-else", { dueAt: T0 + 10, error: "nope" });
      expect(await box.claim(claimAt(T0 + 100))).toEqual([]); // still leased to "me"
      await box.nack(b!.id, "me", { dueAt: T0 + 2000, error: "HTTP 503", status: 503 });
      expect(await box.claim(claimAt(T0 + 1999))).toEqual([]);
      const [retried] = await box.claim(claimAt(T0 + 2000));
      expect(retried).toMatchObject({ id: b!.id, attempts: 2, lastError: "HTTP 503", lastStatus: 503 });
      await box.release("me");
      expect((await box.claim(claimAt(T0 + 2000))).map((i) => i.id)).toEqual([b!.id]);
      expect(await box.backlog()).toEqual({ hook: { depth: 1, oldestEnqueuedAt: b!.enqueuedAt } });
      await box.ack(b!.id);
      await box.ack(b!.id);
      expect(await box.backlog()).toEqual({});
      expect(await box.nextDue("hook", "me")).toBeUndefined();
    });

    it("keeps the changes of one alert in order per sink; `together` hands them out at once", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const other = delivery("alt_b");
      const resolved = delivery("alt_a", "alert.status_changed");
      await box.enqueue([created, other, resolved], unbounded);
      expect((await box.claim(claimAt(T0))).map((i) => i.id)).toEqual([created.id, other.id]);
      // the status change waits while the creation backs off
      await box.nack(created.id, "me", { dueAt: T0 + 1000, error: "x" });
      expect(await box.claim(claimAt(T0 + 10))).toEqual([]);
      expect(await box.nextDue("hook", "me")).toBe(T0 + 1000);
      await box.release("me");
      const batch = await box.claim(claimAt(T0 + 1000, { together: true }));
      expect(batch.map((i) => i.id)).toEqual([created.id, other.id, resolved.id]);
      // other sinks are independent
      await box.enqueue([delivery("alt_a", "alert.created", { sink: "pager" })], unbounded);
      expect(await box.claim(claimAt(T0 + 1000, { sink: "pager" }))).toHaveLength(1);
    });

    it("coalesces pending updates of one alert into the newest, keeping its place", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const u1 = delivery("alt_a", "alert.updated");
      await box.enqueue([created, u1], unbounded);
      const u2 = withCount(delivery("alt_a", "alert.updated"), 7);
      const other = delivery("alt_b", "alert.updated");
      expect(await box.enqueue([u2, other], unbounded)).toEqual(["coalesced", "queued"]);
      expect((await box.backlog())["hook"]?.depth).toBe(3);
      const [c] = await box.claim(claimAt(T0));
      expect(c?.id).toBe(created.id);
      await box.ack(created.id);
      const [u] = await box.claim(claimAt(T0));
      expect(u).toMatchObject({ id: u2.id, enqueuedAt: u1.enqueuedAt, type: "alert.updated" });
      expect(u?.alert.count).toBe(7);
      // a leased update is being sent: a newer one queues behind it
      expect(await box.enqueue([delivery("alt_a", "alert.updated")], unbounded)).toEqual(["queued"]);
      // a status change is never merged, and an update after it is not merged into what is before it
      const box2 = await open();
      await box2.enqueue(
        [delivery("alt_x", "alert.updated"), delivery("alt_x", "alert.status_changed")],
        unbounded,
      );
      expect(await box2.enqueue([delivery("alt_x", "alert.updated")], unbounded)).toEqual(["queued"]);
      expect(await box2.enqueue([delivery("alt_x", "alert.status_changed")], unbounded)).toEqual(["queued"]);
    });

    it("ignores a delivery whose id it holds, waiting, leased or as a dead letter", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const update = delivery("alt_a", "alert.updated");
      // the same delivery twice in one call, and again later: stored once, nothing about it changes
      expect(await box.enqueue([created, created], unbounded)).toEqual(["queued", "duplicate"]);
      const again = { ...created, alert: alertOf("alt_a", "brute_force", { count: 9 }), dueAt: T0 + 9 };
      expect(await box.enqueue([again, update], unbounded)).toEqual(["duplicate", "queued"]);
      // a pending update handed over again is not coalesced into itself
      expect(await box.enqueue([update], unbounded)).toEqual(["duplicate"]);
      expect((await box.backlog())["hook"]?.depth).toBe(2);
      const [c] = await box.claim(claimAt(T0));
      expect(c).toMatchObject({ id: created.id, attempts: 1 });
      expect(c?.alert.count).toBe(1);
      expect(await box.enqueue([created], unbounded)).toEqual(["duplicate"]);
      await box.deadLetters.add(letterOf(created), 10);
      expect(await box.enqueue([created], unbounded)).toEqual(["duplicate"]);
      expect((await box.backlog())["hook"]?.depth).toBe(1);
      // once delivered (acknowledged) the same update is not sent again: the outbox took its revision
      await box.ack(update.id);
      expect(await box.enqueue([update], unbounded)).toEqual(["superseded"]);
      // nor is the alert's creation again, even carrying a later state (a retried batch's creation)
      await box.ack(created.id);
      const recreated = delivery("alt_a", "alert.created");
      expect(await box.enqueue([recreated, created], unbounded)).toEqual(["duplicate", "duplicate"]);
      expect(await box.backlog()).toEqual({});
    });

    it("orders one alert's changes by revision, not arrival: an update not newer than one taken is superseded", async () => {
      const box = await open();
      // made in this order (revisions 1 < 2 < 3 < 4), handed over in another (two replicas)
      const [created, u2, u3, u4] = [
        delivery("alt_a"),
        withCount(delivery("alt_a", "alert.updated"), 2),
        withCount(delivery("alt_a", "alert.updated"), 3),
        withCount(delivery("alt_a", "alert.updated"), 4),
      ];
      expect(await box.enqueue([created, u3], unbounded)).toEqual(["queued", "queued"]);
      // an older update does not replace the waiting newer one
      expect(await box.enqueue([u2], unbounded)).toEqual(["superseded"]);
      expect((await box.claim(claimAt(T0))).map((i) => i.id)).toEqual([created.id]);
      await box.ack(created.id);
      const [waiting] = await box.claim(claimAt(T0));
      expect(waiting).toMatchObject({ id: u3.id, alert: { count: 3 } });
      // in flight, delivered or dead: still taken
      expect(await box.enqueue([u2], unbounded)).toEqual(["superseded"]);
      await box.ack(u3.id);
      expect(await box.enqueue([u2, u3], unbounded)).toEqual(["superseded", "superseded"]);
      expect(await box.enqueue([u4], unbounded)).toEqual(["queued"]);
      await box.claim(claimAt(T0));
      await box.deadLetters.add(letterOf(u4), 10);
      expect(await box.enqueue([u2], unbounded)).toEqual(["superseded"]);
      expect(await box.backlog()).toEqual({});
      // per sink: another sink has taken nothing of the alert yet
      expect(await box.enqueue([{ ...u2, id: `${u2.id.slice(0, -1)}x`, sink: "pager" }], unbounded)).toEqual([
        "queued",
      ]);
    });

    it("a creation or status change that arrives after a newer update takes its place with the newest state", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const update = withCount(delivery("alt_a", "alert.updated"), 5);
      const other = delivery("alt_b");
      expect(await box.enqueue([update, other], unbounded)).toEqual(["queued", "queued"]);
      expect(await box.enqueue([created], unbounded)).toEqual(["coalesced"]);
      expect((await box.backlog())["hook"]?.depth).toBe(2);
      const [first] = await box.claim(claimAt(T0, { limit: 1 }));
      // the creation, first in line, with the newest state
      expect(first).toMatchObject({ id: created.id, type: "alert.created", alert: { count: 5 } });
      expect(first?.alert).toEqual(update.alert);
      expect(await box.enqueue([update, created], unbounded)).toEqual(["superseded", "duplicate"]);

      // a status change made before an update that got there first
      const status = delivery("alt_b", "alert.status_changed");
      const statusLater = withCount(delivery("alt_b", "alert.updated"), 3);
      expect(await box.enqueue([statusLater, status], unbounded)).toEqual(["queued", "coalesced"]);
      await box.ack(first!.id);
      const items = await box.claim(claimAt(T0, { together: true }));
      expect(items.map((i) => [i.id, i.type, i.alert.count])).toEqual([
        [other.id, "alert.created", 1],
        [status.id, "alert.status_changed", 3],
      ]);
    });

    it("an update whose creation was not taken waits for it until creationWaitUntil", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const update = { ...delivery("alt_a", "alert.updated"), creationWaitUntil: T0 + 5000 };
      expect(await box.enqueue([update], unbounded)).toEqual(["queued"]);
      expect(await box.claim(claimAt(T0))).toEqual([]);
      expect(await box.nextDue("hook", "me")).toBe(T0 + 5000);
      // the creation comes: it takes the update's place, due at once, with the newer state
      expect(await box.enqueue([created], unbounded)).toEqual(["coalesced"]);
      expect(await box.nextDue("hook", "me")).toBe(T0);
      const [c] = await box.claim(claimAt(T0));
      expect(c).toMatchObject({ id: created.id, type: "alert.created", dueAt: T0, alert: update.alert });
      expect(c).not.toHaveProperty("creationWaitUntil");
      await box.ack(c!.id);
      // the creation taken: later updates do not wait
      const next = { ...delivery("alt_a", "alert.updated"), creationWaitUntil: T0 + 5000 };
      await box.enqueue([next], unbounded);
      expect((await box.claim(claimAt(T0))).map((i) => i.id)).toEqual([next.id]);
      // no creation ever comes (the sink's filter refused it): the update goes once the wait is over
      const lonely = { ...delivery("alt_b", "alert.updated"), creationWaitUntil: T0 + 5000 };
      await box.enqueue([lonely], unbounded);
      expect(await box.claim(claimAt(T0 + 4999))).toEqual([]);
      expect((await box.claim(claimAt(T0 + 5000))).map((i) => i.id)).toEqual([lonely.id]);
    });

    it("a creation overtaken by an update already in flight is still queued, after it", async () => {
      const box = await open();
      const created = delivery("alt_a");
      const update = withCount(delivery("alt_a", "alert.updated"), 2);
      const status = delivery("alt_a", "alert.status_changed");
      await box.enqueue([update], unbounded);
      expect(await box.claim(claimAt(T0))).toHaveLength(1);
      expect(await box.enqueue([created], unbounded)).toEqual(["queued"]);
      // ordered after it; a newer change is ordered after both
      expect(await box.enqueue([status], unbounded)).toEqual(["queued"]);
      await box.ack(update.id);
      const [c] = await box.claim(claimAt(T0));
      expect(c).toMatchObject({ id: created.id, type: "alert.created", alert: { count: 1 } });
      await box.ack(created.id);
      expect((await box.claim(claimAt(T0))).map((i) => i.type)).toEqual(["alert.status_changed"]);
    });

    it("remembers revisions for a bounded number of alerts per sink, the least recently changed forgotten first", async () => {
      const box = await open();
      const limits = { maxDepth: () => 1000 };
      const older = delivery("alt_first", "alert.updated");
      const newer = delivery("alt_first", "alert.updated");
      await box.enqueue([newer], limits);
      await box.claim(claimAt(T0));
      await box.ack(newer.id);
      const others = Array.from({ length: 999 }, (_, i) => delivery(`alt_${i}`, "alert.updated"));
      await box.enqueue(others, limits);
      expect(await box.enqueue([older], limits)).toEqual(["superseded"]);
      for (const item of await box.claim(claimAt(T0, { limit: 1000 }))) await box.ack(item.id);
      // one more alert: alt_first, changed longest ago, is forgotten; its change counts as new
      await box.enqueue([delivery("alt_999", "alert.updated")], limits);
      expect(await box.enqueue([older], limits)).toEqual(["queued"]);
    });

    it("refuses deliveries past a sink's bound", async () => {
      const box = await open();
      const limits = { maxDepth: (sink: string) => (sink === "hook" ? 2 : 100) };
      const out = await box.enqueue(
        [
          delivery("alt_a"),
          delivery("alt_b"),
          delivery("alt_c"),
          delivery("alt_d", "alert.created", { sink: "x" }),
        ],
        limits,
      );
      expect(out).toEqual(["queued", "queued", "full", "queued"]);
    });

    it("moves deliveries to dead letters, lists them newest first, replays and drops them", async () => {
      const box = await open();
      const ds = [delivery("alt_a"), delivery("alt_b"), delivery("alt_c"), delivery("alt_d")];
      await box.enqueue(ds, unbounded);
      for (const d of ds) await box.deadLetters.add(letterOf(d), 3);
      expect(await box.backlog()).toEqual({});
      expect(await box.deadLetters.counts()).toEqual({ hook: 3 });
      expect(await box.deadLetters.get(ds[0]!.id)).toBeUndefined(); // the oldest was dropped
      const p1 = await box.deadLetters.list({ limit: 2 });
      expect(p1.dead_letters.map((d) => d.alert.id)).toEqual(["alt_d", "alt_c"]);
      const p2 = await box.deadLetters.list({ limit: 2, cursor: p1.next_cursor! });
      expect(p2.dead_letters.map((d) => d.alert.id)).toEqual(["alt_b"]);
      expect(p2.next_cursor).toBeUndefined();
      expect((await box.deadLetters.list({ limit: 10, sink: "other" })).dead_letters).toEqual([]);
      await expect(box.deadLetters.list({ limit: 1, cursor: "bogus" })).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
      expect(await box.deadLetters.get(ds[3]!.id)).toEqual(letterOf(ds[3]!));

      const replayed = await box.replay(ds[3]!.id, T0 + 9000);
      expect(replayed).toMatchObject({
        id: ds[3]!.id,
        sink: "hook",
        type: "alert.created",
        enqueuedAt: T0 + 9000,
      });
      expect(await box.replay(ds[3]!.id, T0)).toBeUndefined();
      const [item] = await box.claim(claimAt(T0 + 9000));
      expect(item).toMatchObject({ id: ds[3]!.id, attempts: 1, firstAttemptAt: T0 + 9000 });
      expect(await box.deadLetters.remove(ds[2]!.id)).toBe(true);
      expect(await box.deadLetters.remove(ds[2]!.id)).toBe(false);
      expect(await box.deadLetters.counts()).toEqual({ hook: 1 });
      // a dead letter for a delivery that was never stored (queue_full)
      await box.deadLetters.add(letterOf(delivery("alt_z"), { reason: "queue_full" }), 10);
      expect(await box.deadLetters.counts()).toEqual({ hook: 2 });
    });

    it("is closed after stop (SHUTTING_DOWN); stop is idempotent", async () => {
      const box = await open();
      await box.stop();
      await box.stop();
      await expect(box.enqueue([delivery("alt_a")], unbounded)).rejects.toMatchObject({
        code: "SHUTTING_DOWN",
      });
      await expect(box.claim(claimAt(T0))).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    });
  });
}
