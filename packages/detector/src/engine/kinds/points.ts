import type { Comparator } from "../../rules/language.ts";
import { bucketStart, type AggregateResult } from "../../state/types.ts";

/** Event times of one group in one batch, with an amount or a member each. */
export class Points {
  times: number[] = [];
  amounts: number[] = [];
  /** Only for distinct counts. */
  members: string[] | undefined = undefined;
  last = -Infinity;
  sorted = true;

  push(time: number, amount: number, member?: string): void {
    if (time < this.last) this.sorted = false;
    else this.last = time;
    if (this.times.length === 0) {
      // Most groups get one point per batch: exact-size arrays (a push onto [] reserves 17 slots).
      this.times = [time];
      this.amounts = [amount];
      if (member !== undefined) this.members = [member];
      return;
    }
    this.times.push(time);
    this.amounts.push(amount);
    if (member !== undefined) (this.members ??= []).push(member);
  }

  get length(): number {
    return this.times.length;
  }

  /** Puts the points in ascending time order (stable), as the store expects. */
  sort(): void {
    if (this.sorted) return;
    const order = this.times.map((_, i) => i).sort((a, b) => this.times[a]! - this.times[b]! || a - b);
    const members = this.members;
    this.times = order.map((i) => this.times[i]!);
    this.amounts = order.map((i) => this.amounts[i]!);
    if (members) this.members = order.map((i) => members[i]!);
    this.sorted = true;
  }

  /**
   * The earliest of these points inside the bucket starting at `oldest`: the first event counted
   * when that bucket came from this batch. Falls back to the bucket start.
   */
  firstIn(oldest: number, bucketMs: number): number {
    for (const t of this.times) if (bucketStart(t, bucketMs) === oldest) return t;
    return oldest;
  }
}

export function passes(value: number, compare: Comparator, threshold: number): boolean {
  return compare === ">=" ? value >= threshold : value > threshold;
}

/** Whether an aggregate result crossed the threshold at one of its evaluation points. */
export function crossed(
  r: AggregateResult,
  compare: Comparator,
  threshold: number,
): r is AggregateResult & {
  at: number;
} {
  return r.at !== null && passes(r.value, compare, threshold);
}
