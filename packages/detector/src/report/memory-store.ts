import { SpaceSaving, mergeTop } from "./space-saving.ts";
import {
  COUNTER_KEYS,
  HOUR_MS,
  zeroCounters,
  type HourTally,
  type ReportCounters,
  type ReportStore,
  type ReportSummary,
} from "./store.ts";

export interface MemoryReportStoreOptions {
  /** Counters per top-k sketch. Default 100. */
  readonly topKCapacity?: number;
  /** Distinct client addresses remembered per hour. Default 10 000. */
  readonly distinctMaxPerHour?: number;
  /** Hours kept (the longest report period plus the current hour). Default 30 days + 1 h. */
  readonly retentionHours?: number;
  /** Detector time (ms), to drop buckets past retention. Default Date.now. */
  readonly clock?: () => number;
}

interface Bucket {
  readonly counters: ReportCounters;
  readonly addresses: Set<string>;
  saturated: boolean;
  readonly identifiers: SpaceSaving;
  readonly failedAddresses: SpaceSaving;
}

/** As many batch ids as the window store remembers for the same purpose. */
const MAX_RECENT_BATCHES = 1024;

/** ReportStore in process memory: hour buckets with bounded sketches. */
export class MemoryReportStore implements ReportStore {
  readonly #buckets = new Map<number, Bucket>();
  readonly #topK: number;
  readonly #distinctMax: number;
  readonly #retentionMs: number;
  readonly #clock: () => number;
  /** Batch ids applied lately, oldest first. */
  readonly #recentBatches = new Set<string>();

  constructor(options: MemoryReportStoreOptions = {}) {
    this.#topK = options.topKCapacity ?? 100;
    this.#distinctMax = options.distinctMaxPerHour ?? 10_000;
    this.#retentionMs = (options.retentionHours ?? 30 * 24 + 1) * HOUR_MS;
    this.#clock = options.clock ?? Date.now;
  }

  async add(tallies: readonly HourTally[], options?: { readonly batchId?: string }): Promise<void> {
    this.addSync(tallies, options?.batchId);
  }

  /**
   * `add` without the promise, for the in-process hot path. A batch id seen among the last
   * MAX_RECENT_BATCHES is not counted again (a sender's retry of an accepted request).
   */
  addSync(tallies: readonly HourTally[], batchId?: string): void {
    if (batchId !== undefined) {
      if (this.#recentBatches.has(batchId)) return;
      this.#recentBatches.add(batchId);
      if (this.#recentBatches.size > MAX_RECENT_BATCHES) {
        const oldest = this.#recentBatches.values().next().value;
        if (oldest !== undefined) this.#recentBatches.delete(oldest);
      }
    }
    const oldest = Math.floor((this.#clock() - this.#retentionMs) / HOUR_MS) * HOUR_MS;
    for (const t of tallies) {
      if (t.hour < oldest) continue;
      let b = this.#buckets.get(t.hour);
      if (!b) {
        b = {
          counters: zeroCounters(),
          addresses: new Set(),
          saturated: false,
          identifiers: new SpaceSaving(this.#topK),
          failedAddresses: new SpaceSaving(this.#topK),
        };
        this.#buckets.set(t.hour, b);
        this.#expire(oldest);
      }
      for (const k of COUNTER_KEYS) b.counters[k] += t.counters[k];
      for (const a of t.clientAddresses) {
        if (b.addresses.has(a)) continue;
        if (b.addresses.size >= this.#distinctMax) {
          b.saturated = true;
          break;
        }
        b.addresses.add(a);
      }
      for (const [v, n] of t.failuresByIdentifier) b.identifiers.add(v, n);
      for (const [v, n] of t.failuresByAddress) b.failedAddresses.add(v, n);
    }
  }

  async summarize(fromHour: number, toHour: number, top: number): Promise<ReportSummary> {
    const counters = zeroCounters();
    const addresses = new Set<string>();
    let exact = true;
    const identifiers = [];
    const failedAddresses = [];
    for (const [hour, b] of this.#buckets) {
      if (hour < fromHour || hour >= toHour) continue;
      for (const k of COUNTER_KEYS) counters[k] += b.counters[k];
      for (const a of b.addresses) addresses.add(a);
      if (b.saturated) exact = false;
      identifiers.push(b.identifiers.entries());
      failedAddresses.push(b.failedAddresses.entries());
    }
    return {
      counters,
      uniqueClientAddresses: addresses.size,
      uniqueClientAddressesExact: exact,
      topFailedIdentifiers: mergeTop(identifiers, top),
      topFailedAddresses: mergeTop(failedAddresses, top),
    };
  }

  async countEvents(fromHour: number, toHour: number): Promise<number> {
    let n = 0;
    for (const [hour, b] of this.#buckets) if (hour >= fromHour && hour < toHour) n += b.counters.events;
    return n;
  }

  /** Hour buckets held (for tests). */
  get bucketCount(): number {
    return this.#buckets.size;
  }

  #expire(oldest: number): void {
    for (const hour of this.#buckets.keys()) if (hour < oldest) this.#buckets.delete(hour);
  }
}
