/**
 * A space-saving style top-k sketch (Metwally et al. 2005) with batched eviction: it holds up
 * to 2 × `capacity` counters and, when full, keeps the `capacity` largest. A value first seen
 * after an eviction starts at the largest evicted count (`floor`), so counts never
 * underestimate and overestimate by at most their `error`. Exact while fewer than
 * 2 × `capacity` distinct values were seen. Amortised O(log capacity) per add.
 */
export interface TopEntry {
  readonly value: string;
  readonly count: number;
  /** Upper bound of the overestimate (0 while exact). */
  readonly error: number;
}

export class SpaceSaving {
  readonly capacity: number;
  readonly #counts = new Map<string, { count: number; error: number }>();
  #floor = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#counts.size;
  }

  add(value: string, n = 1): void {
    const c = this.#counts.get(value);
    if (c) {
      c.count += n;
      return;
    }
    this.#counts.set(value, { count: this.#floor + n, error: this.#floor });
    if (this.#counts.size > 2 * this.capacity) this.#prune();
  }

  entries(): TopEntry[] {
    return [...this.#counts].map(([value, c]) => ({ value, count: c.count, error: c.error }));
  }

  #prune(): void {
    const sorted = [...this.#counts].sort((a, b) => b[1].count - a[1].count);
    for (let i = this.capacity; i < sorted.length; i++) {
      const [value, c] = sorted[i] as [string, { count: number }];
      if (c.count > this.#floor) this.#floor = c.count;
      this.#counts.delete(value);
    }
  }
}

/**
 * Merges several sketches' entries (e.g. hourly buckets) into the `k` largest, count descending,
 * ties by value. The result is approximate as soon as one entry carries an error.
 */
export function mergeTop(lists: Iterable<readonly TopEntry[]>, k: number): TopEntry[] {
  const sum = new Map<string, { count: number; error: number }>();
  for (const list of lists) {
    for (const e of list) {
      const s = sum.get(e.value);
      if (s) {
        s.count += e.count;
        s.error += e.error;
      } else sum.set(e.value, { count: e.count, error: e.error });
    }
  }
  return [...sum]
    .map(([value, s]) => ({ value, count: s.count, error: s.error }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, k);
}
