import { SecmonError } from "../errors.ts";
import {
  decodeCursor,
  encodeCursor,
  type ClaimOptions,
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterQuery,
  type DeadLetterStore,
  type Delivery,
  enqueueStep,
  rememberedAlerts,
  revisionOf,
  type EnqueueOutcome,
  type NewDelivery,
  type Outbox,
  type OutboxItem,
  type Retry,
  type SinkBacklog,
  type Taken,
} from "./types.ts";

interface Held {
  seq: number;
  item: OutboxItem;
  leaseOwner: string | undefined;
  leaseUntil: number;
}

interface HeldLetter {
  readonly seq: number;
  readonly letter: DeadLetter;
}

/**
 * The outbox in process memory: the same semantics as the durable ones, lost on exit. For tests,
 * the `replay` CLI and detectors that run without a data directory.
 */
export class MemoryOutbox implements Outbox {
  readonly durable: boolean = false;
  readonly deadLetters: DeadLetterStore;
  /** Insertion order is enqueue order; a coalesced item keeps its place. */
  readonly #items = new Map<string, Held>();
  readonly #letters = new Map<string, HeldLetter>();
  /** Sink → alert id → what was taken, least recently changed first (bounded: rememberedAlerts). */
  readonly #taken = new Map<string, Map<string, Taken>>();
  #seq = 0;
  #letterSeq = 0;
  #stopped = false;

  constructor() {
    this.deadLetters = {
      add: (letter, max) => this.#addLetter(letter, max),
      get: async (id) => this.#letters.get(id)?.letter,
      list: (query) => this.#listLetters(query),
      remove: async (id) => this.#letters.delete(id),
      counts: async () => {
        const out: Record<string, number> = {};
        for (const { letter } of this.#letters.values()) out[letter.sink] = (out[letter.sink] ?? 0) + 1;
        return out;
      },
    };
  }

  async start(): Promise<void> {
    this.#stopped = false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
  }

  async enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]> {
    this.#open();
    return deliveries.map((d) => {
      if (this.#items.has(d.id) || this.#letters.has(d.id)) return "duplicate";
      const last = this.#newestOf(d.sink, d.alert.id);
      const step = enqueueStep(
        d,
        this.#taken.get(d.sink)?.get(d.alert.id),
        last && {
          held: last,
          rev: revisionOf(last.item.alert),
          type: last.item.type,
          leased: last.leaseOwner !== undefined,
        },
      );
      let outcome: EnqueueOutcome;
      switch (step.action) {
        case "duplicate":
        case "superseded":
          return step.action;
        case "coalesce":
          this.#rename(step.waiting.held, d.id, { alert: d.alert });
          outcome = "coalesced";
          break;
        case "take_over": {
          const { held } = step.waiting;
          this.#rename(held, d.id, { type: d.type, dueAt: Math.min(held.item.dueAt, d.dueAt) });
          outcome = "coalesced";
          break;
        }
        case "append":
          outcome = this.#append(step.delivery, limits.maxDepth(d.sink));
          break;
      }
      if (outcome !== "full") this.#remember(d.sink, d.alert.id, step.taken, limits.maxDepth(d.sink));
      return outcome;
    });
  }

  #append(d: NewDelivery, maxDepth: number): EnqueueOutcome {
    if (this.#depth(d.sink) >= maxDepth) return "full";
    const { creationWaitUntil: _, ...item } = d;
    this.#items.set(d.id, {
      seq: ++this.#seq,
      item: { ...item, attempts: 0, firstAttemptAt: 0 },
      leaseOwner: undefined,
      leaseUntil: 0,
    });
    return "queued";
  }

  /** The held item under a new id, with some fields changed; it keeps its place (seq). */
  #rename(h: Held, id: string, change: Partial<Pick<OutboxItem, "type" | "alert" | "dueAt">>): void {
    this.#items.delete(h.item.id);
    h.item = { ...h.item, ...change, id };
    this.#items.set(id, h);
  }

  #remember(sink: string, alertId: string, taken: Taken, maxDepth: number): void {
    let bySink = this.#taken.get(sink);
    if (!bySink) this.#taken.set(sink, (bySink = new Map()));
    bySink.delete(alertId);
    bySink.set(alertId, taken);
    const max = rememberedAlerts(maxDepth);
    for (const oldest of bySink.keys()) {
      if (bySink.size <= max) break;
      bySink.delete(oldest);
    }
  }

  async claim(o: ClaimOptions): Promise<OutboxItem[]> {
    this.#open();
    const out: OutboxItem[] = [];
    /** Alerts whose older item was not handed out: their later items wait. */
    const blocked = new Set<string>();
    for (const h of this.#sorted(o.sink)) {
      if (out.length >= o.limit) break;
      const alertId = h.item.alert.id;
      if (blocked.has(alertId)) continue;
      const claimable =
        h.item.dueAt <= o.now &&
        (h.leaseOwner === undefined || (h.leaseOwner !== o.owner && h.leaseUntil <= o.now));
      if (!claimable || !o.together) blocked.add(alertId);
      if (!claimable) continue;
      h.leaseOwner = o.owner;
      h.leaseUntil = o.now + o.leaseMs;
      h.item = {
        ...h.item,
        attempts: h.item.attempts + 1,
        firstAttemptAt: h.item.attempts === 0 ? o.now : h.item.firstAttemptAt,
      };
      out.push(h.item);
    }
    return out;
  }

  async ack(id: string): Promise<void> {
    this.#open();
    this.#items.delete(id);
  }

  async nack(id: string, owner: string, retry: Retry): Promise<void> {
    this.#open();
    const h = this.#items.get(id);
    if (!h || h.leaseOwner !== owner) return;
    h.leaseOwner = undefined;
    h.leaseUntil = 0;
    const { lastStatus: _, ...rest } = h.item;
    h.item = {
      ...rest,
      dueAt: retry.dueAt,
      lastError: retry.error,
      ...(retry.status !== undefined ? { lastStatus: retry.status } : {}),
    };
  }

  async release(owner: string): Promise<void> {
    this.#open();
    for (const h of this.#items.values()) {
      if (h.leaseOwner === owner) {
        h.leaseOwner = undefined;
        h.leaseUntil = 0;
      }
    }
  }

  async nextDue(sink: string, owner: string): Promise<number | undefined> {
    this.#open();
    let next: number | undefined;
    const seen = new Set<string>();
    for (const h of this.#sorted(sink)) {
      if (seen.has(h.item.alert.id)) continue;
      seen.add(h.item.alert.id);
      if (h.leaseOwner === owner) continue;
      const at = h.leaseOwner === undefined ? h.item.dueAt : Math.max(h.item.dueAt, h.leaseUntil);
      next = next === undefined ? at : Math.min(next, at);
    }
    return next;
  }

  async backlog(): Promise<Record<string, SinkBacklog>> {
    this.#open();
    const out: Record<string, { depth: number; oldestEnqueuedAt: number | undefined }> = {};
    for (const { item } of this.#items.values()) {
      const b = (out[item.sink] ??= { depth: 0, oldestEnqueuedAt: undefined });
      b.depth++;
      b.oldestEnqueuedAt = Math.min(b.oldestEnqueuedAt ?? Infinity, item.enqueuedAt);
    }
    return out;
  }

  async replay(id: string, now: number): Promise<Delivery | undefined> {
    this.#open();
    const held = this.#letters.get(id);
    if (!held) return undefined;
    this.#letters.delete(id);
    const { letter } = held;
    const delivery: Delivery = {
      id: letter.id,
      sink: letter.sink,
      type: letter.type,
      alert: letter.alert,
      enqueuedAt: now,
    };
    this.#items.delete(id);
    this.#items.set(id, {
      seq: ++this.#seq,
      item: { ...delivery, dueAt: now, attempts: 0, firstAttemptAt: 0 },
      leaseOwner: undefined,
      leaseUntil: 0,
    });
    return delivery;
  }

  async #addLetter(letter: DeadLetter, maxPerSink: number): Promise<void> {
    this.#open();
    this.#items.delete(letter.id);
    this.#letters.delete(letter.id);
    this.#letters.set(letter.id, { seq: ++this.#letterSeq, letter });
    let n = 0;
    for (const h of this.#letters.values()) if (h.letter.sink === letter.sink) n++;
    for (const [id, h] of this.#letters) {
      if (n <= maxPerSink) break;
      if (h.letter.sink === letter.sink) {
        this.#letters.delete(id);
        n--;
      }
    }
  }

  async #listLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    let below = Infinity;
    if (query.cursor !== undefined) {
      const seq = decodeCursor(query.cursor);
      if (seq === undefined)
        throw new SecmonError("BAD_REQUEST", "cursor: not a cursor returned by this API");
      below = seq;
    }
    const matching = [...this.#letters.values()]
      .filter((h) => h.seq < below && (query.sink === undefined || h.letter.sink === query.sink))
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(0, query.limit);
    const last = page.at(-1);
    return {
      dead_letters: page.map((h) => h.letter),
      ...(matching.length > page.length && last ? { next_cursor: encodeCursor(last.seq) } : {}),
    };
  }

  /** The sink's items in enqueue order. */
  #sorted(sink: string): Held[] {
    return [...this.#items.values()].filter((h) => h.item.sink === sink).sort((a, b) => a.seq - b.seq);
  }

  #newestOf(sink: string, alertId: string): Held | undefined {
    let newest: Held | undefined;
    for (const h of this.#items.values()) {
      if (h.item.sink === sink && h.item.alert.id === alertId && (!newest || h.seq > newest.seq)) newest = h;
    }
    return newest;
  }

  #depth(sink: string): number {
    let n = 0;
    for (const h of this.#items.values()) if (h.item.sink === sink) n++;
    return n;
  }

  #open(): void {
    if (this.#stopped) throw new SecmonError("SHUTTING_DOWN", "the outbox is closed");
  }
}
