/**
 * Window state: the contract between the rule engine and a state store (in memory, Redis, …).
 *
 * The engine collects the state operations of one whole decoded batch (every rule × every
 * matching event, merged per (rule, group)) and applies them in ONE `apply` call. Ops are plain,
 * JSON-serialisable data that carry every window, bucket and TTL parameter, so that a remote store
 * can run them as one script per batch without knowing the rules.
 *
 * Time is event time in ms since the epoch. A window of `windowMs` is cut into buckets of
 * `bucketMs` (bucket start = floor(t / bucketMs) × bucketMs). Evaluated at time t, a window
 * covers the bucket holding t and the ⌈windowMs / bucketMs⌉ buckets before it: every event in
 * (t − windowMs, t] counts, and so may events up to one bucket older (docs/rules.md, "Windows").
 */

/** Fields every op has. */
interface OpBase {
  /** Rule id: the unit of caps and metrics (`secmon_state_groups{rule}`). */
  readonly rule: string;
  /** The group's state key, unique across rules (the firing's groupKey). */
  readonly key: string;
}

/** Window geometry carried by every windowed op. */
export interface WindowGeometry {
  readonly bucketMs: number;
  readonly windowMs: number;
  /**
   * How far behind the group's newest event time a point may be and still count. Older points
   * are not applied and are reported in `late`.
   */
  readonly latenessMs: number;
  /** How long the key must outlive its newest point (window + lateness + two buckets). */
  readonly ttlMs: number;
}

/**
 * Adds amounts to a numeric bucketed window (count: amount 1; sum: the attribute's value), point
 * by point in the given order. After each point the group's current window is evaluated: the one
 * ending at the newest event time the group has seen (so a late point completes the window it
 * belongs to instead of opening an older one).
 */
export interface WindowAddOp extends OpBase, WindowGeometry {
  readonly type: "window_add";
  /** Event times, ascending. */
  readonly times: readonly number[];
  /** Amounts, one per time. */
  readonly amounts: readonly number[];
}

/**
 * Evaluates a numeric bucketed window at each given time (the window ending there: buckets after
 * it do not count), without changing it.
 */
export interface WindowReadOp extends OpBase, WindowGeometry {
  readonly type: "window_read";
  /** Evaluation times, ascending. */
  readonly times: readonly number[];
}

/**
 * Records members (e.g. user.hash values) of a distinct-count window, point by point; after each
 * point, evaluates how many distinct members the group's current window holds (as WindowAddOp).
 */
export interface DistinctAddOp extends OpBase, WindowGeometry {
  readonly type: "distinct_add";
  /** Event times, ascending. */
  readonly times: readonly number[];
  /** Members, one per time. */
  readonly members: readonly string[];
  /** Most members tracked per group; past it the least recently seen are forgotten. */
  readonly maxMembers: number;
}

/** Evaluates a distinct-count window at each time, without changing it. */
export interface DistinctReadOp extends OpBase, WindowGeometry {
  readonly type: "distinct_read";
  readonly times: readonly number[];
}

/*
 * Room for the next kinds (not implemented yet; a store answers them with STORE_UNAVAILABLE
 * until it does):
 * - `seen_add`  { key, member, time, ttlMs } → { seen: was member present within ttl, members: n }
 *   (new_location_login: membership of the user's networks / countries with a 30-day TTL);
 * - `last_swap` { key, value: JSON string, time, ttlMs } → { previous?: { value, time } }
 *   (impossible_travel: previous successful location of the user);
 * - `profile_update` { key, features: Record<string, number>, time, halfLifeMs, ttlMs } →
 *   { before: profile snapshot, observations: n } (behavior_anomaly: per-user baseline).
 * Each is one key per group with a TTL, so the same batch script and idempotency apply.
 */

export type StateOp = WindowAddOp | WindowReadOp | DistinctAddOp | DistinctReadOp;
export type StateOpType = StateOp["type"];

/** The answer to a windowed op (all four op types). */
export interface AggregateResult {
  readonly type: "aggregate";
  /**
   * The largest aggregate found at the op's evaluation points (the latest point wins ties); 0 when
   * no point was evaluated.
   */
  readonly value: number;
  /**
   * The time the window that gave `value` ends at (adds: the group's newest event time then;
   * reads: the given time); null when no point was evaluated.
   */
  readonly at: number | null;
  /** Start of the oldest non-empty bucket in that window; null when it is empty. */
  readonly oldest: number | null;
  /** Points not applied (and not evaluated) because they were later than the lateness allows. */
  readonly late: number;
}

/** One result per op, in op order. */
export type StateResult = AggregateResult;

export interface ApplyOptions {
  /**
   * Id of the batch the ops come from. A store remembers recent batch ids and answers a batch it
   * has already applied with the results of that first application, without applying it again,
   * so a sender's retry never counts twice.
   */
  readonly batchId: string;
}

/**
 * A store of windows. Implementations: `MemoryWindowStore` (embedded default, bounded); Redis
 * (shared by replicas; one Lua script per batch, idempotent per batchId, TTLs from the ops).
 * Lifecycle: `start()` connects, `stop()` is idempotent, safe before start, and drains pending
 * applies. Failures reject with `SecmonError("STORE_UNAVAILABLE")` (retryable).
 */
export interface WindowStore {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies the ops of one batch atomically per key, in order; one result per op. */
  apply(ops: readonly StateOp[], opts: ApplyOptions): Promise<StateResult[]>;
}

/** The window geometry of a rule with the given window and lateness (seconds). */
export function windowGeometry(windowSeconds: number, latenessSeconds: number): WindowGeometry {
  const windowMs = Math.round(windowSeconds * 1000);
  const bucketMs = bucketWidthMs(windowMs);
  const latenessMs = Math.round(latenessSeconds * 1000);
  return { bucketMs, windowMs, latenessMs, ttlMs: windowMs + latenessMs + 2 * bucketMs };
}

/** Buckets per window: the window's resolution. */
export const BUCKETS_PER_WINDOW = 60;

/** Bucket width for a window: 1/60 of it rounded up to whole seconds, at least 1 s (or the window). */
export function bucketWidthMs(windowMs: number): number {
  return Math.min(windowMs, Math.max(1000, Math.ceil(windowMs / BUCKETS_PER_WINDOW / 1000) * 1000));
}

/** Start of the bucket holding time t. */
export function bucketStart(t: number, bucketMs: number): number {
  return Math.floor(t / bucketMs) * bucketMs;
}

/** How many buckets before the one holding t a window covers: ⌈window / bucket⌉. */
export function spanBuckets(g: WindowGeometry): number {
  return Math.ceil(g.windowMs / g.bucketMs);
}

/**
 * The oldest bucket start a window evaluated at time t covers. The window covers the bucket
 * holding t and the `spanBuckets` buckets before it: every event in (t − window, t] counts, and an
 * event leaves the window between `window` and `window + bucket` after it happened.
 */
export function windowFloor(t: number, g: WindowGeometry): number {
  return bucketStart(t, g.bucketMs) - spanBuckets(g) * g.bucketMs;
}
