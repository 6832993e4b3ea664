import type { AlertEventType } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import { SecmonError } from "../errors.ts";

/** Why a delivery became a dead letter. */
export type DeadLetterReason =
  /** The receiver answered a status that is not retried (4xx other than 408/429, 3xx). */
  | "final_status"
  /** Retryable failures for longer than the sink's max_retry_seconds. */
  | "retries_exhausted"
  /** The sink's queue was full when the change arrived. */
  | "queue_full"
  /** The detector stopped before the delivery succeeded. */
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

export interface DeadLetterPage {
  readonly dead_letters: readonly DeadLetter[];
  readonly next_cursor?: string;
}

/** Where dead letters wait for an operator. A durable implementation shares this interface. */
export interface DeadLetterStore {
  /** Keeps a dead letter (replacing one with the same id); drops the sink's oldest past its bound. */
  add(deadLetter: DeadLetter, maxPerSink: number): Promise<void>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** Newest first. BAD_REQUEST for an invalid cursor. */
  list(query: {
    readonly sink?: string;
    readonly limit: number;
    readonly cursor?: string;
  }): Promise<DeadLetterPage>;
  /** Removes it; false when absent. */
  remove(id: string): Promise<boolean>;
  /** Dead letters held, by sink. */
  counts(): Promise<Record<string, number>>;
}

interface Held {
  readonly seq: number;
  readonly deadLetter: DeadLetter;
}

/** Dead letters in process memory (lost on restart; the durable outbox replaces it). */
export class MemoryDeadLetterStore implements DeadLetterStore {
  readonly #items = new Map<string, Held>();
  #seq = 0;

  async add(deadLetter: DeadLetter, maxPerSink: number): Promise<void> {
    this.#items.delete(deadLetter.id);
    this.#items.set(deadLetter.id, { seq: ++this.#seq, deadLetter });
    let n = 0;
    for (const h of this.#items.values()) if (h.deadLetter.sink === deadLetter.sink) n++;
    for (const [id, h] of this.#items) {
      if (n <= maxPerSink) break;
      if (h.deadLetter.sink === deadLetter.sink) {
        this.#items.delete(id);
        n--;
      }
    }
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return this.#items.get(id)?.deadLetter;
  }

  async list(query: { sink?: string; limit: number; cursor?: string }): Promise<DeadLetterPage> {
    let below = Infinity;
    if (query.cursor !== undefined) {
      const m = /^d1\.(\d{1,15})$/.exec(query.cursor);
      if (!m) throw new SecmonError("BAD_REQUEST", "cursor: not a cursor returned by this API");
      below = Number(m[1]);
    }
    const matching = [...this.#items.values()]
      .filter((h) => h.seq < below && (query.sink === undefined || h.deadLetter.sink === query.sink))
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(0, query.limit);
    const last = page.at(-1);
    return {
      dead_letters: page.map((h) => h.deadLetter),
      ...(matching.length > page.length && last ? { next_cursor: `d1.${last.seq}` } : {}),
    };
  }

  async remove(id: string): Promise<boolean> {
    return this.#items.delete(id);
  }

  async counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const h of this.#items.values()) out[h.deadLetter.sink] = (out[h.deadLetter.sink] ?? 0) + 1;
    return out;
  }
}
