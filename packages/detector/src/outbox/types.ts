import type { AlertEventType } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";

/** One alert change on its way to one sink. The id is stable across retries and replays. */
export interface Delivery {
  /** `dlv_` + 32 hex digits, one per (sink, alert change): see `deliveryId`; sent as X-Secmon-Delivery. */
  readonly id: string;
  readonly sink: string;
  readonly type: AlertEventType;
  readonly alert: Alert;
  /** Detector time (ms) at which the change was first handed to the outbox. */
  readonly enqueuedAt: number;
}

/** A delivery as it enters the outbox. */
export interface NewDelivery extends Delivery {
  /** Earliest detector time (ms) of the first attempt (batching sinks pass the end of their window). */
  readonly dueAt: number;
  /**
   * For an `alert.updated` to a sink that takes creations: while the outbox has not taken the
   * alert's `alert.created` for the sink, the update is not due before this time (ms), so that a
   * creation stored a moment later (by another replica, or for an earlier batch) still goes first
   * and takes the update's place (see Outbox, Revisions).
   */
  readonly creationWaitUntil?: number;
}

/** A delivery held in the outbox, as `claim` hands it out. */
export interface OutboxItem extends NewDelivery {
  /** Attempts started so far, this claim included. */
  readonly attempts: number;
  /** Detector time (ms) of the first attempt; the retry period runs from here. */
  readonly firstAttemptAt: number;
  /** Why the previous attempt failed (safe to show), absent before the first failure. */
  readonly lastError?: string;
  readonly lastStatus?: number;
}

/**
 * What `enqueue` did with one delivery: stored; merged into the sink's waiting update of the same
 * alert (coalescing, or a late creation or status change taking that update's place); refused
 * because the sink already holds `maxDepth` deliveries; ignored because a delivery with its id is
 * already in the outbox or among the dead letters, or it is the alert's creation and the outbox
 * already took one for the sink (the same change handed over again, e.g. for a sender's retry of
 * its batch); or ignored because it is an `alert.updated` whose revision is not newer than one the
 * outbox already took for that sink and alert (`superseded`: it would only move the receiver's
 * view of the alert back).
 */
export type EnqueueOutcome = "queued" | "coalesced" | "full" | "duplicate" | "superseded";

/**
 * An alert's revision: its `updated_at` in ms. Every commit of an alert moves `updated_at`
 * strictly forward (`nextUpdatedAt`), so of two changes of one alert the one with the larger
 * revision is the later state. Compared as numbers, not as text (ISO strings compare correctly
 * only while they share one format, which years past 9999 would not). NaN-free: an unparsable
 * time gives 0, older than every real change.
 */
export function revisionOf(alert: Pick<Alert, "updated_at">): number {
  const ms = Date.parse(alert.updated_at);
  return Number.isFinite(ms) ? ms : 0;
}

/** `d` due no earlier than its `creationWaitUntil` when it is an update whose creation was not taken. */
function awaitingCreation(d: NewDelivery, creationTaken: boolean): NewDelivery {
  if (d.type !== "alert.updated" || creationTaken || d.creationWaitUntil === undefined) return d;
  return d.creationWaitUntil > d.dueAt ? { ...d, dueAt: d.creationWaitUntil } : d;
}

/** What an outbox remembers of one (sink, alert): the highest revision it took, and whether its creation. */
export interface Taken {
  readonly rev: number;
  readonly created: boolean;
}

/** The sink's newest held item of an alert, as `enqueueStep` reads it. */
export interface NewestHeld {
  /** Its revision (`revisionOf`); -Infinity when unknown. */
  readonly rev: number;
  readonly type: AlertEventType;
  readonly leased: boolean;
}

/**
 * What `enqueue` does with a delivery whose id the outbox does not hold, by the rules of Outbox
 * (Idempotence, Revisions, Coalescing), given what it took of the (sink, alert) and its newest
 * held item there:
 * - `duplicate`, `superseded`: nothing, the outcome as it is;
 * - `coalesce`: `waiting` (a waiting update) takes the delivery's id and alert ("coalesced");
 * - `take_over`: `waiting` (a waiting newer update) takes the delivery's id and type, due no later
 *   than the delivery ("coalesced");
 * - `append`: `delivery` (due no earlier than its `creationWaitUntil` where that applies) is
 *   appended, unless the sink is full ("queued" or "full").
 * Unless the append found the sink full, the outbox then remembers `taken` for the (sink, alert).
 * The Redis outbox applies the same rule in its enqueue script.
 */
export type EnqueueStep<H extends NewestHeld> =
  | { readonly action: "duplicate" | "superseded" }
  | {
      readonly action: "coalesce" | "take_over";
      readonly waiting: H;
      readonly rev: number;
      readonly taken: Taken;
    }
  | {
      readonly action: "append";
      readonly delivery: NewDelivery;
      readonly rev: number;
      readonly taken: Taken;
    };

export function enqueueStep<H extends NewestHeld>(
  d: NewDelivery,
  taken: Taken | undefined,
  newest: H | undefined,
): EnqueueStep<H> {
  const creationTaken = taken?.created === true;
  if (d.type === "alert.created" && creationTaken) return { action: "duplicate" };
  const rev = revisionOf(d.alert);
  const top = Math.max(taken?.rev ?? -Infinity, newest?.rev ?? -Infinity);
  if (rev <= top && d.type === "alert.updated") return { action: "superseded" };
  const next: Taken = { rev: Math.max(top, rev), created: creationTaken || d.type === "alert.created" };
  const waiting = newest?.type === "alert.updated" && !newest.leased ? newest : undefined;
  if (waiting) {
    // a late creation or status change takes the place of the newer waiting update
    if (rev <= top) return { action: "take_over", waiting, rev, taken: next };
    // a newer update replaces the waiting one
    if (d.type === "alert.updated") return { action: "coalesce", waiting, rev, taken: next };
  }
  return { action: "append", delivery: awaitingCreation(d, creationTaken), rev, taken: next };
}

/**
 * How many alerts per sink the outbox remembers the newest revision of (the sink's queue
 * capacity, at least 1000): the least recently changed are forgotten first. A change of a
 * forgotten alert is taken as new.
 */
export function rememberedAlerts(maxDepth: number): number {
  return Math.max(1000, maxDepth);
}

export interface ClaimOptions {
  readonly sink: string;
  /** At most this many items. */
  readonly limit: number;
  /** Detector time (ms): items with `dueAt <= now` and no live lease are claimable. */
  readonly now: number;
  /** The lease lasts until `now + leaseMs`; past it another consumer may claim the item again. */
  readonly leaseMs: number;
  /** Who holds the lease (one per dispatcher instance); `nack` and `release` check it. */
  readonly owner: string;
  /**
   * false (default): only the oldest item of each alert is handed out, so that a sink sending
   * items concurrently never reorders the changes of one alert. true: several items of one
   * alert may come in one claim (in order), for sinks that send a whole claim as one message.
   */
  readonly together?: boolean;
}

/** A failed attempt to try again later. */
export interface Retry {
  readonly dueAt: number;
  readonly error: string;
  readonly status?: number;
}

/** Deliveries held for one sink. */
export interface SinkBacklog {
  /** Items in the outbox (waiting, leased or waiting for a retry). */
  readonly depth: number;
  /** `enqueuedAt` of the oldest item (ms); undefined when empty. */
  readonly oldestEnqueuedAt: number | undefined;
}

/** Why a delivery became a dead letter. */
export type DeadLetterReason =
  /** The receiver answered a status that is not retried (4xx other than 408/429, 3xx). */
  | "final_status"
  /** Retryable failures for longer than the sink's max_retry_seconds. */
  | "retries_exhausted"
  /** The sink's backlog was at queue_capacity when the change arrived. */
  | "queue_full"
  /** The detector stopped before the delivery succeeded (only with a non-durable outbox). */
  | "shutdown";

/** A delivery that finally failed, as the API lists it. */
export interface DeadLetter {
  /** The delivery id (X-Secmon-Delivery), kept on replay. */
  readonly id: string;
  readonly sink: string;
  readonly type: AlertEventType;
  readonly alert: Alert;
  readonly reason: DeadLetterReason;
  readonly detail: string;
  /** The last HTTP status, when there was one. */
  readonly status?: number;
  readonly attempts: number;
  readonly enqueued_at: string;
  readonly failed_at: string;
}

export interface DeadLetterQuery {
  readonly sink?: string;
  readonly limit: number;
  /** `next_cursor` of the previous page. */
  readonly cursor?: string;
}

export interface DeadLetterPage {
  readonly dead_letters: readonly DeadLetter[];
  readonly next_cursor?: string;
}

/** The dead-letter side of the outbox, as the API uses it. */
export interface DeadLetterStore {
  /**
   * Keeps a dead letter, replacing one with the same id, and removes the delivery with that id
   * from the outbox in the same step; drops the sink's oldest dead letters past `maxPerSink`.
   */
  add(deadLetter: DeadLetter, maxPerSink: number): Promise<void>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** Newest first. BAD_REQUEST for an invalid cursor. */
  list(query: DeadLetterQuery): Promise<DeadLetterPage>;
  /** Drops it; false when absent. */
  remove(id: string): Promise<boolean>;
  /** Dead letters held, by sink. */
  counts(): Promise<Record<string, number>>;
}

/**
 * Where deliveries wait until a sink has them: written before the first attempt, removed on
 * success, so that every alert change is delivered at least once across receiver outages and
 * detector crashes. One outbox may serve several dispatchers (detector replicas): work is
 * shared through leases.
 *
 * What every implementation must keep (the memory and SQLite ones do; a Redis one must too):
 * - Atomicity: each method is one atomic step. `enqueue` stores all of its deliveries or none;
 *   `deadLetters.add` removes the delivery and stores the dead letter together; `replay` moves
 *   a dead letter back together.
 * - Durability (`durable: true`): what a resolved `enqueue`, `nack`, `deadLetters.add` or
 *   `replay` wrote survives the process being killed right after.
 * - Order: items are handed out oldest first (enqueue order). Per (sink, alert id) the order is
 *   strict: `claim` never hands out an item while an older item of the same alert and sink is
 *   still in the outbox (waiting, leased or backing off), except together with it when
 *   `together` is set. `replay` appends at the end.
 * - Idempotence: a delivery whose id the outbox holds (waiting, leased or backing off) or keeps as
 *   a dead letter is ignored ("duplicate"); nothing about the held one changes. So is an
 *   `alert.created` of an alert whose creation the outbox already took for that sink.
 * - Revisions: per (sink, alert id) the outbox remembers the highest revision (`revisionOf`) it
 *   took (queued or merged), for as long as the item is held and afterwards for the
 *   `rememberedAlerts` most recently changed alerts of the sink. Enqueues are ordered by it, not
 *   by arrival (two replicas enqueue in an order of their own):
 *   - an `alert.updated` not newer than that is ignored ("superseded");
 *   - an `alert.created` or `alert.status_changed` is never ignored that way (the receiver must see
 *     it). When it is not newer and the sink's newest item of the alert is a waiting (not
 *     leased) `alert.updated`, that item becomes it: it takes the change's id and type, keeps
 *     the newer alert state and its place ("coalesced"), and is due no later than the change.
 *     Otherwise it is appended with its own state.
 *   - an `alert.updated` appended while the alert's creation was not taken for the sink is due no
 *     earlier than its `creationWaitUntil`.
 * - Coalescing: a newer `alert.updated` whose sink's newest item for the same alert is a waiting
 *   `alert.updated` replaces that item's id and alert; the item keeps its place, `enqueuedAt`,
 *   `dueAt`, attempts and `firstAttemptAt`. Anything else is appended.
 * - Bounds: `enqueue` refuses ("full") a delivery for a sink that holds `maxDepth` items
 *   already (coalescing never counts as growth).
 * - Leases: `claim` sets a lease (owner, until) and increments `attempts` (setting
 *   `firstAttemptAt` on the first); an item whose lease expired is claimable again by another
 *   owner (its consumer died), never by the owner itself (for it the attempt is still running). `ack` removes the item whoever holds it (it was delivered); `nack` only
 *   acts when `owner` still holds the lease; `release` drops every lease of `owner` without
 *   changing `dueAt`. An implementation owned by one process (SQLite) drops all leases in
 *   `start()`, since their holder is gone.
 * - Dead letters are kept per sink up to a bound (oldest dropped first), listed newest first
 *   with an opaque cursor, and survive restarts like the deliveries.
 */
export interface Outbox {
  /** Whether what is enqueued survives a restart (SQLite, Redis: true; memory: false). */
  readonly durable: boolean;
  /**
   * Whether other processes (detector replicas) add to it and lease from it (Redis: true). A
   * dispatcher then looks for due work now and then, not only when its own changes or timers
   * tell it: a replica that dies leaves its deliveries to whoever looks next.
   */
  readonly shared?: boolean;
  /** Opens the store (creates it when missing); idempotent. */
  start(): Promise<void>;
  /** Closes the store; idempotent and safe before start. Later calls reject with SHUTTING_DOWN. */
  stop(): Promise<void>;
  /** See the interface: one outcome per delivery, in order. */
  enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]>;
  /** Up to `limit` claimable items of `sink`, oldest first, leased to `owner`. */
  claim(options: ClaimOptions): Promise<OutboxItem[]>;
  /** Delivered: removes the item (no-op when it is gone). */
  ack(id: string): Promise<void>;
  /** Failed, try again at `retry.dueAt`: drops the lease and records the error (only when `owner` holds it). */
  nack(id: string, owner: string, retry: Retry): Promise<void>;
  /** Hands back every item leased by `owner`, untouched otherwise (a stopping dispatcher). */
  release(owner: string): Promise<void>;
  /**
   * When `claim` for `sink` may next return something to `owner` (ms): the earliest `dueAt` (or
   * lease end, for items another owner leased) among items not held back by an older item of
   * their alert. Items `owner` leases itself are left out (it learns when they are done);
   * undefined when there is nothing to wait for.
   */
  nextDue(sink: string, owner: string): Promise<number | undefined>;
  /** Depth and oldest item per sink that holds anything. */
  backlog(): Promise<Record<string, SinkBacklog>>;
  /** Dead letters: see DeadLetterStore. */
  readonly deadLetters: DeadLetterStore;
  /**
   * Moves a dead letter back into the outbox (same id, attempts reset, due at `now`, at the end).
   * Returns the delivery, or undefined when there is no such dead letter.
   */
  replay(id: string, now: number): Promise<Delivery | undefined>;
}

/** Dead-letter list cursors: `d1.<sequence>` (the same shape in every implementation). */
export function encodeCursor(seq: number): string {
  return `d1.${seq}`;
}

/** The sequence below which the next page starts; BAD_REQUEST is the caller's to throw on undefined. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^d1\.(\d{1,15})$/.exec(cursor);
  return m ? Number(m[1]) : undefined;
}
