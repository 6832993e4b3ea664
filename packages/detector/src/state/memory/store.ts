import type { ObservableResult } from "@opentelemetry/api";
import { SecmonError } from "../../errors.ts";
import type { Metrics } from "../../metrics/catalog.ts";
import {
  bucketStart,
  spanBuckets,
  type AggregateResult,
  type ApplyOptions,
  type DistinctAddOp,
  type DistinctReadOp,
  type StateOp,
  type StateResult,
  type WindowAddOp,
  type WindowGeometry,
  type WindowReadOp,
  type WindowStore,
} from "../types.ts";

export interface MemoryWindowStoreOptions {
  /** Most groups tracked per rule; past it the least recently used group is evicted. */
  readonly maxGroupsPerRule?: number;
  /** How many recent batch ids (with their results) are remembered for idempotency. */
  readonly maxRecentBatches?: number;
  /**
   * Bytes the remembered results may take together (8 per number, 4 numbers per op); past it the
   * oldest batches are forgotten first. The latest batch is always remembered.
   */
  readonly maxRecentBytes?: number;
  readonly metrics?: Pick<Metrics, "stateEvictions" | "stateGroups">;
}

export const DEFAULT_MAX_GROUPS_PER_RULE = 50_000;
export const DEFAULT_MAX_RECENT_BATCHES = 1024;
/** About 1,000 batches of 512 events of the default pack; a hundred of the largest requests. */
export const DEFAULT_MAX_RECENT_BYTES = 32 * 1024 * 1024;

/** Shared by entries that have no bucket yet; never written to (firstBucket replaces it). */
const EMPTY_BUCKETS: number[] = [];

/** What every group entry has: its key, its expiry clock, and its place in the rule's LRU list. */
abstract class Entry {
  readonly key: string;
  newest = -Infinity;
  ttlMs: number;
  /** Used since it was last placed at the tail: a second chance before eviction (see RuleGroups). */
  touched = false;
  prev: Entry | null = null;
  next: Entry | null = null;
  constructor(key: string, ttlMs: number) {
    this.key = key;
    this.ttlMs = ttlMs;
  }
}

/**
 * A numeric bucketed window of one group. `b` interleaves bucket starts and amounts,
 * `[start0, amount0, start1, amount1, …]`, ascending by start: one small array per group.
 */
class WindowEntry extends Entry {
  b: number[] = EMPTY_BUCKETS;
}

/**
 * A distinct-count window of one group: each member's last bucket, and per bucket how many
 * members were last seen in it (`h`, interleaved like WindowEntry.b). Map order is the order of
 * last update, so the least recently seen members come first.
 */
class DistinctEntry extends Entry {
  members = new Map<string, number>();
  h: number[] = EMPTY_BUCKETS;
  /** The cutoff of the last pruning of members: pruning runs once per bucket. */
  prunedTo = -Infinity;
}

/**
 * The groups of one rule: a map for lookup and an intrusive doubly linked list in order of
 * insertion, with a second chance (CLOCK): using a group only marks it `touched`; when the head
 * comes up for eviction or expiry and was touched, it moves to the tail instead. This is the
 * least recently used order up to one pass of the list, without relinking (and reading two
 * neighbours) on every use: in a rule with many groups that was the store's largest cost.
 */
class RuleGroups {
  readonly map = new Map<string, Entry>();
  head: Entry | null = null;
  tail: Entry | null = null;
  /** Newest event time any group of the rule has seen: the clock of expiry. */
  newest = -Infinity;

  unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
  }

  append(e: Entry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  remove(e: Entry): void {
    this.unlink(e);
    this.map.delete(e.key);
  }

  /** Moves a touched head to the tail, untouched: its second chance. */
  recycleHead(): void {
    const h = this.head;
    if (h === null || h === this.tail) return;
    h.touched = false;
    this.unlink(h);
    this.append(h);
  }
}

/** At most this many touched heads are recycled per expiry check (amortised; the cap bounds the rest). */
const EXPIRY_RECYCLE_STEPS = 8;

const EMPTY: AggregateResult = Object.freeze({
  type: "aggregate",
  value: 0,
  at: null,
  oldest: null,
  late: 0,
});

/**
 * The largest value a group's window reached over an op's points (the latest of equal ones), where
 * it was reached, and how many points came too late: what an op answers.
 */
class Peak {
  best = -1;
  at: number | null = null;
  oldest: number | null = null;
  late = 0;

  note(value: number, at: number, oldest: number | null): void {
    if (value >= this.best) {
      this.best = value;
      this.at = at;
      this.oldest = oldest;
    }
  }

  result(): AggregateResult {
    if (this.at === null) return this.late === 0 ? EMPTY : { ...EMPTY, late: this.late };
    return { type: "aggregate", value: this.best, at: this.at, oldest: this.oldest, late: this.late };
  }
}

/**
 * The embedded window store: everything in process memory, bounded. Each rule tracks at most
 * `maxGroupsPerRule` groups (least recently used evicted, counted in `secmon_state_evictions`),
 * groups whose data left every window are dropped as event time moves on, and a distinct-count
 * group keeps at most the op's `maxMembers` members.
 */
export class MemoryWindowStore implements WindowStore {
  readonly #maxGroups: number;
  readonly #maxBatches: number;
  readonly #maxBytes: number;
  readonly #metrics: MemoryWindowStoreOptions["metrics"];
  readonly #rules = new Map<string, RuleGroups>();
  /** Results of recent batches, packed (see packResults), for answering a retry. */
  readonly #recent = new Map<string, Float64Array>();
  #recentBytes = 0;
  #stopped = false;
  #observing = false;

  constructor(opts: MemoryWindowStoreOptions = {}) {
    this.#maxGroups = opts.maxGroupsPerRule ?? DEFAULT_MAX_GROUPS_PER_RULE;
    this.#maxBatches = opts.maxRecentBatches ?? DEFAULT_MAX_RECENT_BATCHES;
    this.#maxBytes = opts.maxRecentBytes ?? DEFAULT_MAX_RECENT_BYTES;
    this.#metrics = opts.metrics;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    if (this.#metrics && !this.#observing) {
      this.#metrics.stateGroups.addCallback(this.#observe);
      this.#observing = true;
    }
  }

  async stop(): Promise<void> {
    if (this.#observing) {
      this.#metrics?.stateGroups.removeCallback(this.#observe);
      this.#observing = false;
    }
    this.#stopped = true;
    this.#rules.clear();
    this.#recent.clear();
    this.#recentBytes = 0;
  }

  async apply(ops: readonly StateOp[], opts: ApplyOptions): Promise<StateResult[]> {
    if (this.#stopped) throw new SecmonError("STORE_UNAVAILABLE", "the window store is stopped");
    const seen = this.#recent.get(opts.batchId);
    if (seen) return unpackResults(seen);
    const results: StateResult[] = new Array<StateResult>(ops.length);
    for (let i = 0; i < ops.length; i++) results[i] = this.#applyOne(ops[i]!);
    // Kept packed in one typed array: a thousand batches of result objects would all survive
    // into the old generation, and cost the garbage collector more than the windows themselves.
    const packed = packResults(results);
    this.#recent.set(opts.batchId, packed);
    this.#recentBytes += packed.byteLength;
    while (
      this.#recent.size > 1 &&
      (this.#recent.size > this.#maxBatches || this.#recentBytes > this.#maxBytes)
    ) {
      const [oldest, dropped] = this.#recent.entries().next().value!;
      this.#recent.delete(oldest);
      this.#recentBytes -= dropped.byteLength;
    }
    return results;
  }

  /** Groups currently tracked for a rule. */
  groupCount(rule: string): number {
    return this.#rules.get(rule)?.map.size ?? 0;
  }

  /** Groups currently tracked, all rules together. */
  totalGroups(): number {
    let n = 0;
    for (const r of this.#rules.values()) n += r.map.size;
    return n;
  }

  readonly #observe = (result: ObservableResult): void => {
    for (const [rule, r] of this.#rules) result.observe(r.map.size, { rule });
  };

  #applyOne(op: StateOp): StateResult {
    switch (op.type) {
      case "window_add":
        return this.#windowAdd(op);
      case "window_read":
        return this.#windowRead(op);
      case "distinct_add":
        return this.#distinctAdd(op);
      case "distinct_read":
        return this.#distinctRead(op);
      default:
        throw new SecmonError(
          "STORE_UNAVAILABLE",
          `unsupported state op ${(op as { type: string }).type} in the memory store`,
        );
    }
  }

  #ruleGroups(rule: string): RuleGroups {
    let r = this.#rules.get(rule);
    if (!r) {
      r = new RuleGroups();
      this.#rules.set(rule, r);
    }
    return r;
  }

  /** The group's entry, moved to most recently used; created (evicting if at the cap) when asked. */
  #entry<E extends Entry>(
    r: RuleGroups,
    rule: string,
    key: string,
    cls: new (key: string, ttlMs: number) => E,
    ttlMs: number,
    create: boolean,
  ): E | undefined {
    const found = r.map.get(key);
    if (found !== undefined) {
      if (found instanceof cls) {
        found.ttlMs = ttlMs;
        found.touched = true;
        return found;
      }
      r.remove(found);
    }
    if (!create) return undefined;
    while (r.map.size >= this.#maxGroups && r.head) {
      if (r.head.touched && r.head !== r.tail) {
        r.recycleHead();
        continue;
      }
      r.remove(r.head);
      this.#metrics?.stateEvictions.add(1, { rule });
    }
    const e = new cls(key, ttlMs);
    r.map.set(key, e);
    r.append(e);
    return e;
  }

  /** Drops the least recently used groups whose data has left every window. */
  #expire(r: RuleGroups): void {
    let recycled = 0;
    for (let h = r.head; h !== null; h = r.head) {
      if (h.newest + h.ttlMs < r.newest) r.remove(h);
      else if (h.touched && h !== r.tail && recycled++ < EXPIRY_RECYCLE_STEPS) r.recycleHead();
      else break;
    }
  }

  /**
   * Adds each point, then evaluates the group's current window: the one ending at its newest
   * event, so that a late point completes the window it belongs to.
   */
  #windowAdd(op: WindowAddOp): AggregateResult {
    const r = this.#ruleGroups(op.rule);
    const e = this.#entry(r, op.rule, op.key, WindowEntry, op.ttlMs, true)!;
    const span = spanBuckets(op) * op.bucketMs;
    const peak = new Peak();
    let evalBucket = NaN;
    let sum = 0;
    let oldest: number | null = null;
    for (let i = 0; i < op.times.length; i++) {
      const t = op.times[i]!;
      const amount = op.amounts[i] ?? 0;
      if (t < e.newest - op.latenessMs) {
        peak.late++;
        continue;
      }
      if (t > e.newest) {
        e.newest = t;
        pruneBuckets(e.b, t - op.ttlMs);
      }
      const s = bucketStart(t, op.bucketMs);
      if (e.b.length === 0) e.b = firstBucket(s, amount);
      else addToBucket(e.b, s, amount);
      const current = bucketStart(e.newest, op.bucketMs);
      if (current !== evalBucket) {
        evalBucket = current;
        [sum, oldest] = sumRange(e.b, current - span, current);
      } else if (s >= current - span) {
        sum += amount;
        if (oldest === null || s < oldest) oldest = s;
      }
      peak.note(sum, e.newest, oldest);
    }
    return this.#finish(r, e, peak);
  }

  /** After an add op: moves the rule's clock, expires what left every window, answers the peak. */
  #finish(r: RuleGroups, e: Entry, peak: Peak): AggregateResult {
    if (e.newest > r.newest) r.newest = e.newest;
    this.#expire(r);
    return peak.result();
  }

  #windowRead(op: WindowReadOp): AggregateResult {
    const r = this.#ruleGroups(op.rule);
    const e = this.#entry(r, op.rule, op.key, WindowEntry, op.ttlMs, false);
    return evaluateOnly(op, e?.newest ?? -Infinity, (t) => {
      if (!e) return [0, null];
      const s = bucketStart(t, op.bucketMs);
      return sumRange(e.b, s - spanBuckets(op) * op.bucketMs, s);
    });
  }

  /** Like #windowAdd: adds each member, then evaluates the group's current window. */
  #distinctAdd(op: DistinctAddOp): AggregateResult {
    const r = this.#ruleGroups(op.rule);
    const e = this.#entry(r, op.rule, op.key, DistinctEntry, op.ttlMs, true)!;
    const span = spanBuckets(op) * op.bucketMs;
    const max = Math.max(1, op.maxMembers);
    const peak = new Peak();
    let evalBucket = NaN;
    let count = 0;
    let oldest: number | null = null;
    for (let i = 0; i < op.times.length; i++) {
      const t = op.times[i]!;
      const member = op.members[i];
      if (member === undefined) continue;
      if (t < e.newest - op.latenessMs) {
        peak.late++;
        continue;
      }
      if (t > e.newest) {
        e.newest = t;
        pruneMembers(e, t - op.ttlMs, op.bucketMs);
      }
      const s = bucketStart(t, op.bucketMs);
      const current = bucketStart(e.newest, op.bucketMs);
      const floor = current - span;
      const prev = e.members.get(member);
      let evicted = false;
      let delta = 0;
      if (prev === undefined) {
        e.members.set(member, s);
        if (e.h.length === 0) e.h = firstBucket(s, 1);
        else addToBucket(e.h, s, 1);
        delta = s >= floor ? 1 : 0;
        if (e.members.size > max) {
          forgetLeastRecent(e, e.members.size - max + Math.floor(max / 10));
          evicted = true;
        }
      } else if (prev < s) {
        e.members.delete(member);
        e.members.set(member, s);
        addToBucket(e.h, prev, -1);
        addToBucket(e.h, s, 1);
        delta = prev < floor && s >= floor ? 1 : 0;
      }
      // A member leaving the oldest bucket may empty it: recount rather than track it.
      if (current !== evalBucket || evicted || (prev !== undefined && prev === oldest && prev < s)) {
        evalBucket = current;
        [count, oldest] = sumRange(e.h, floor, current);
      } else if (delta > 0) {
        count += delta;
        if (oldest === null || s < oldest) oldest = s;
      }
      peak.note(count, e.newest, oldest);
    }
    return this.#finish(r, e, peak);
  }

  #distinctRead(op: DistinctReadOp): AggregateResult {
    const r = this.#ruleGroups(op.rule);
    const e = this.#entry(r, op.rule, op.key, DistinctEntry, op.ttlMs, false);
    return evaluateOnly(op, e?.newest ?? -Infinity, (t) => {
      if (!e) return [0, null];
      const s = bucketStart(t, op.bucketMs);
      return sumRange(e.h, s - spanBuckets(op) * op.bucketMs, s);
    });
  }
}

const FIELDS_PER_RESULT = 4;

/** Results as [value, at, oldest, late] per result, null as NaN. */
function packResults(results: readonly StateResult[]): Float64Array {
  const out = new Float64Array(results.length * FIELDS_PER_RESULT);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const o = i * FIELDS_PER_RESULT;
    out[o] = r.value;
    out[o + 1] = r.at ?? NaN;
    out[o + 2] = r.oldest ?? NaN;
    out[o + 3] = r.late;
  }
  return out;
}

function unpackResults(packed: Float64Array): StateResult[] {
  const out: StateResult[] = [];
  for (let o = 0; o < packed.length; o += FIELDS_PER_RESULT) {
    const at = packed[o + 1]!;
    const oldest = packed[o + 2]!;
    out.push({
      type: "aggregate",
      value: packed[o]!,
      at: Number.isNaN(at) ? null : at,
      oldest: Number.isNaN(oldest) ? null : oldest,
      late: packed[o + 3]!,
    });
  }
  return out;
}

/** Evaluates a read op at each of its times. */
function evaluateOnly(
  op: WindowGeometry & { readonly times: readonly number[] },
  newest: number,
  evaluate: (t: number) => [number, number | null],
): AggregateResult {
  const peak = new Peak();
  for (const t of op.times) {
    if (t < newest - op.latenessMs) {
      peak.late++;
      continue;
    }
    const [value, oldest] = evaluate(t);
    peak.note(value, t, oldest);
  }
  return peak.result();
}

/** Adds `amount` to the bucket starting at `s` in an interleaved [start, amount] array. */
function addToBucket(b: number[], s: number, amount: number): void {
  let i = b.length - 2;
  while (i >= 0 && b[i]! > s) i -= 2;
  if (i >= 0 && b[i] === s) {
    b[i + 1] = b[i + 1]! + amount;
    return;
  }
  // A decrement of a bucket that was already pruned has nothing left to take from.
  if (amount < 0) return;
  if (i === b.length - 2) b.push(s, amount);
  else b.splice(i + 2, 0, s, amount);
}

/** The first bucket of a group: an exact-size array (pushing onto [] reserves 17 slots). */
function firstBucket(s: number, amount: number): number[] {
  return [s, amount];
}

/** Sum of amounts of the buckets starting in [from, to], and the oldest non-empty one's start. */
function sumRange(b: number[], from: number, to: number): [number, number | null] {
  let sum = 0;
  let oldest: number | null = null;
  for (let i = b.length - 2; i >= 0; i -= 2) {
    const s = b[i]!;
    if (s > to) continue;
    if (s < from) break;
    const amount = b[i + 1]!;
    if (amount !== 0) {
      sum += amount;
      oldest = s;
    }
  }
  return [sum, oldest];
}

/** Drops the buckets that start before `cutoff`. */
function pruneBuckets(b: number[], cutoff: number): void {
  let n = 0;
  while (n < b.length && b[n]! < cutoff) n += 2;
  if (n > 0) b.splice(0, n);
}

/** Forgets the members last seen before `cutoff` (oldest first), then their buckets; once per bucket. */
function pruneMembers(e: DistinctEntry, cutoff: number, bucketMs: number): void {
  const to = bucketStart(cutoff, bucketMs);
  if (to <= e.prunedTo) return;
  e.prunedTo = to;
  for (const [member, s] of e.members) {
    if (s >= cutoff) break;
    e.members.delete(member);
  }
  pruneBuckets(e.h, cutoff);
}

/**
 * Forgets the `n` least recently seen members in one pass. Past the cap a tenth of it goes at
 * once, so passes are rare and iterating over the Map's deleted slots stays amortised.
 */
function forgetLeastRecent(e: DistinctEntry, n: number): void {
  let dropped = 0;
  for (const [member, s] of e.members) {
    if (dropped >= n) break;
    e.members.delete(member);
    addToBucket(e.h, s, -1);
    dropped++;
  }
}
