import { hash } from "node:crypto";
import { hostname } from "node:os";
import type { ObservableCallback } from "@opentelemetry/api";
import { monotonicFactory } from "ulidx";
import type { AlertChange } from "../alerts/types.ts";
import { SecmonError } from "../errors.ts";
import type { Metrics } from "../metrics/catalog.ts";
import { MemoryOutbox } from "../outbox/memory.ts";
import type {
  DeadLetter,
  DeadLetterReason,
  DeadLetterStore,
  EnqueueOutcome,
  NewDelivery,
  Outbox,
  OutboxItem,
} from "../outbox/types.ts";
import { backoffMs, passes, type AttemptResult, type Delivery, type SinkRoute } from "./sink.ts";

export type SinkMetrics = Pick<
  Metrics,
  | "sinkDeliveries"
  | "sinkAttemptDuration"
  | "sinkQueueDepth"
  | "sinkOldestAge"
  | "sinkDeadLetters"
  | "storeErrors"
>;

/** Waits `ms`; rejects when `signal` aborts. Tests pass one that advances a fake clock. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** Something that runs beside the dispatcher and shares its lifecycle (Alertmanager re-sends). */
export interface Companion {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SinkDispatcherOptions {
  readonly routes: readonly SinkRoute[];
  /**
   * Where deliveries wait (started by the caller before `start()`, stopped after `stop()`).
   * Default: a MemoryOutbox of the dispatcher's own.
   */
  readonly outbox?: Outbox;
  /** Dead letters kept per sink when the route does not say. Default 1000. */
  readonly maxDeadLetters?: (sink: string) => number;
  readonly clock?: () => number;
  /** Waits for the next due delivery and bounds the drain; tests pass a fake one. */
  readonly sleep?: Sleep;
  readonly random?: () => number;
  readonly metrics?: SinkMetrics;
  /** How long `stop()` keeps delivering what is due before it aborts attempts. Default 5 s. */
  readonly drainMs?: number;
  /** Called when the outbox fails (the operation is counted in secmon_store_errors{store="outbox"}). */
  readonly onError?: (err: unknown) => void;
  /** Started and stopped with the dispatcher. */
  readonly companions?: readonly Companion[];
  /** Lease holder name in the outbox. Default `<host>/<pid>/<ulid>`. */
  readonly owner?: string;
  /**
   * With a shared outbox (Redis), how often an otherwise idle lane looks for due work: what
   * other replicas enqueued, or left leased when they died. Default 5000 ms; 0 never looks.
   */
  readonly sharedPollMs?: number;
}

class Lane {
  readonly route: SinkRoute;
  readonly name: string;
  inFlight = 0;
  pumping = false;
  again = false;
  /** Cancels the wait for the next due delivery. */
  wake: AbortController | undefined;
  /** Batching sinks: no message before this (ms). */
  nextBatchAt = 0;
  constructor(route: SinkRoute) {
    this.route = route;
    this.name = route.sink.name;
  }
  get slots(): number {
    return this.route.batch ? 1 : this.route.maxConcurrency;
  }
}

const RETRY_STORE_MS = 1000;
/**
 * How long an update of a new alert waits in the outbox for the alert's creation to get there
 * first: the replica (or batch) that created the alert stores the creation after the rest of its
 * batch is recorded, and another replica may store an update of the same alert meanwhile.
 */
export const CREATION_WAIT_MS = 5000;
const DEFAULT_SHARED_POLL_MS = 5000;
/** Most deliveries kept in memory while the outbox refuses them (the pipeline stops taking batches meanwhile). */
const MAX_UNWRITTEN = 100_000;

/**
 * The id of the delivery of `change` to `sink`: derived from the sink, the change type, the alert
 * id and its `updated_at` (which every change moves), so that the same change handed over again
 * (a sender's retry of its batch) gets the same id and the outbox ignores it, and a receiver that
 * already took it can recognise it by X-Secmon-Delivery.
 */
export function deliveryId(sink: string, change: Pick<AlertChange, "type" | "alert">): string {
  const key = `${sink}\n${change.type}\n${change.alert.id}\n${change.alert.updated_at}`;
  return `dlv_${hash("sha256", key, "hex").slice(0, 32)}`;
}

/**
 * Fans alert changes out to sinks through an outbox, without ever blocking the caller. Every
 * (change, sink) delivery is written to the outbox before its first attempt and removed on
 * success, so deliveries survive receiver outages and (with a durable outbox) detector crashes;
 * `start()` resumes what an earlier run left. Per sink at most `maxConcurrency` attempts run at
 * once; a failed attempt frees its slot and is scheduled again in the outbox (exponential
 * backoff with full jitter, or the receiver's Retry-After). What finally fails becomes a dead
 * letter an operator can list, replay or drop.
 */
export class SinkDispatcher {
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetterStore;
  readonly owner: string;
  readonly #lanes = new Map<string, Lane>();
  readonly #o: SinkDispatcherOptions;
  readonly #clock: () => number;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  #quietWaiters: (() => void)[] = [];
  #checking = false;
  #activity = 0;
  readonly #pendingWrites = new Set<Promise<unknown>>();
  /** Deliveries whose outbox write failed: kept here and written again until it succeeds. */
  #unwritten: NewDelivery[] = [];
  #rewriting = false;
  #callbacks: [SinkMetrics["sinkQueueDepth"], ObservableCallback][] = [];

  constructor(options: SinkDispatcherOptions) {
    this.#o = options;
    this.outbox = options.outbox ?? new MemoryOutbox();
    this.deadLetters = this.outbox.deadLetters;
    this.owner = options.owner ?? `${hostname()}/${process.pid}/${monotonicFactory()()}`;
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    for (const route of options.routes) {
      if (this.#lanes.has(route.sink.name)) {
        throw new SecmonError("CONFIG_INVALID", `sinks: duplicate sink name ${route.sink.name}`);
      }
      this.#lanes.set(route.sink.name, new Lane(route));
    }
  }

  /** Sink names, in configuration order. */
  get sinks(): string[] {
    return [...this.#lanes.keys()];
  }

  /** Registers the gauges, starts companions and resumes what the outbox holds. */
  async start(): Promise<void> {
    const m = this.#o.metrics;
    if (m && this.#callbacks.length === 0) {
      const backlog: ObservableCallback = async (r) => {
        try {
          const b = await this.outbox.backlog();
          for (const name of this.#lanes.keys()) r.observe(b[name]?.depth ?? 0, { sink: name });
        } catch {
          // counted where the outbox fails
        }
      };
      const oldest: ObservableCallback = async (r) => {
        try {
          const b = await this.outbox.backlog();
          const now = this.#clock();
          for (const name of this.#lanes.keys()) {
            const at = b[name]?.oldestEnqueuedAt;
            r.observe(at === undefined ? 0 : Math.max(0, now - at) / 1000, { sink: name });
          }
        } catch {
          // counted where the outbox fails
        }
      };
      const dead: ObservableCallback = async (r) => {
        try {
          const counts = await this.deadLetters.counts();
          for (const name of this.#lanes.keys()) r.observe(counts[name] ?? 0, { sink: name });
        } catch {
          // counted where the outbox fails
        }
      };
      this.#callbacks = [
        [m.sinkQueueDepth, backlog],
        [m.sinkOldestAge, oldest],
        [m.sinkDeadLetters, dead],
      ];
      for (const [g, cb] of this.#callbacks) g.addCallback(cb);
    }
    for (const c of this.#o.companions ?? []) await c.start();
    for (const lane of this.#lanes.values()) this.#pump(lane);
  }

  /**
   * Hands changes to every sink whose filter accepts them. Never throws and never blocks the
   * caller: the deliveries are written to the outbox (one atomic write per call), then attempted.
   * A sink whose backlog is at `queue_capacity` dead-letters the new delivery (queue_full).
   *
   * The returned promise settles once the write is done: it rejects with STORE_UNAVAILABLE
   * (retryable) when the outbox failed, so that a caller that must not acknowledge before its
   * deliveries are safe (the pipeline) can refuse its batch. The deliveries are not lost then:
   * they are kept and written again until the outbox takes them (`blocked()` says so meanwhile).
   */
  dispatch(changes: readonly AlertChange[]): Promise<void> {
    const now = this.#clock();
    const deliveries: NewDelivery[] = [];
    for (const change of changes) {
      // an update waits in the outbox for its alert's creation, up to CREATION_WAIT_MS after it
      const createdAt = change.type === "alert.updated" ? Date.parse(change.alert.created_at) : NaN;
      const creationWaitUntil = Number.isFinite(createdAt) ? createdAt + CREATION_WAIT_MS : undefined;
      for (const lane of this.#lanes.values()) {
        try {
          if (!passes(lane.route.filter, change)) continue;
          const waitsForCreation =
            creationWaitUntil !== undefined && lane.route.filter.events.includes("alert.created");
          deliveries.push({
            id: deliveryId(lane.name, change),
            sink: lane.name,
            type: change.type,
            alert: change.alert,
            enqueuedAt: now,
            dueAt: now,
            ...(waitsForCreation ? { creationWaitUntil } : {}),
          });
        } catch (err) {
          this.#o.onError?.(err);
        }
      }
    }
    if (deliveries.length === 0) return Promise.resolve();
    if (this.#stopping && !this.outbox.durable) {
      for (const d of deliveries) this.#deadLetter(d, "shutdown", "detector stopping", 0);
      return Promise.resolve();
    }
    const written = this.#store(deliveries);
    this.#track(written.catch(() => undefined));
    return written;
  }

  /**
   * Why new alert changes cannot be taken now (deliveries the outbox refused are waiting to be
   * written again), or undefined. The pipeline refuses batches (retryably) while this is set, and
   * readiness reports it.
   */
  blocked(): string | undefined {
    const n = this.#unwritten.length;
    return n > 0 ? `${n} alert deliveries wait for the outbox, which failed to store them` : undefined;
  }

  /**
   * Sends a dead letter again (same delivery id) through its sink, bypassing filters.
   * NOT_FOUND when there is no such dead letter or its sink is no longer configured.
   */
  async replay(id: string): Promise<Delivery> {
    const dl = await this.deadLetters.get(id);
    if (!dl) throw new SecmonError("NOT_FOUND", `dead letter ${id}`);
    const lane = this.#lanes.get(dl.sink);
    if (!lane) throw new SecmonError("NOT_FOUND", `sink ${dl.sink} is not configured`);
    if (this.#stopping) throw new SecmonError("SHUTTING_DOWN");
    const delivery = await this.outbox.replay(id, this.#clock());
    if (!delivery) throw new SecmonError("NOT_FOUND", `dead letter ${id}`);
    this.#pump(lane);
    return delivery;
  }

  /** Resolves once the outbox holds nothing for these sinks and nothing is in flight (tests). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  /**
   * Stops taking new work: keeps delivering what is due for up to `drainMs` (failures are not
   * retried now; batches go out at once), then aborts what is in flight. With a durable outbox
   * every undelivered delivery stays there for the next start; with the memory outbox it becomes
   * a dead letter (shutdown). Idempotent, safe before start. Does not stop the outbox.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const [g, cb] of this.#callbacks) g.removeCallback(cb);
    this.#callbacks = [];
    await Promise.allSettled((this.#o.companions ?? []).map((c) => c.stop()));
    for (const lane of this.#lanes.values()) {
      lane.nextBatchAt = 0;
      this.#pump(lane);
    }
    const drain = new AbortController();
    const deadline = this.#sleep(this.#o.drainMs ?? 5000, drain.signal).catch(() => undefined);
    await Promise.race([this.#whenQuiet(), deadline]);
    drain.abort();
    this.#abort.abort(new SecmonError("SHUTTING_DOWN"));
    for (const lane of this.#lanes.values()) lane.wake?.abort();
    await this.#whenQuiet();
    await this.#lastWrite();
    if (this.outbox.durable) {
      await this.outbox.release(this.owner).catch((err: unknown) => this.#storeFailed("release", err));
    } else {
      await this.#sweep();
    }
    await Promise.allSettled([...this.#pendingWrites]);
    await Promise.allSettled([...this.#lanes.values()].map((l) => l.route.sink.close?.()));
  }

  /** At stop: one more write of the deliveries the outbox refused; what still fails is reported. */
  async #lastWrite(): Promise<void> {
    const left = this.#unwritten;
    if (left.length === 0) return;
    this.#unwritten = [];
    try {
      await this.#enqueue(left);
    } catch (err) {
      this.#storeFailed("enqueue", err);
      for (const d of left) this.#o.metrics?.sinkDeliveries.add(1, { sink: d.sink, outcome: "dropped" });
      this.#o.onError?.(
        new SecmonError(
          "STORE_UNAVAILABLE",
          `${left.length} alert deliveries lost at stop: the outbox is down`,
        ),
      );
    }
  }

  /** Non-durable outbox at stop: what is left would vanish with the process; keep it as dead letters. */
  async #sweep(): Promise<void> {
    for (const lane of this.#lanes.values()) {
      try {
        const seen = new Set<string>();
        for (;;) {
          const items = await this.outbox.claim({
            sink: lane.name,
            limit: 1000,
            now: Number.MAX_SAFE_INTEGER,
            leaseMs: 0,
            owner: this.owner,
            together: true,
          });
          const fresh = items.filter((i) => !seen.has(i.id));
          if (fresh.length === 0) break;
          for (const item of fresh) {
            seen.add(item.id);
            this.#deadLetter(item, "shutdown", "detector stopped", item.attempts - 1);
          }
          await Promise.allSettled([...this.#pendingWrites]);
        }
      } catch (err) {
        this.#storeFailed("claim", err);
      }
    }
  }

  /**
   * Writes deliveries to the outbox; on failure keeps them for #rewrite and rejects retryably.
   * `kept`: they are kept ones written again, older than any refused meanwhile.
   */
  async #store(deliveries: NewDelivery[], kept = false): Promise<void> {
    let outcomes;
    try {
      outcomes = await this.#enqueue(deliveries);
    } catch (err) {
      this.#storeFailed("enqueue", err);
      this.#keepUnwritten(deliveries, kept);
      throw new SecmonError("STORE_UNAVAILABLE", "the outbox failed to store alert deliveries", {
        cause: err,
      });
    }
    this.#afterWrite(deliveries, outcomes);
  }

  #enqueue(deliveries: readonly NewDelivery[]): Promise<EnqueueOutcome[]> {
    return this.outbox.enqueue(deliveries, {
      maxDepth: (sink) => this.#lanes.get(sink)?.route.queueCapacity ?? 0,
    });
  }

  /** Keeps refused deliveries in change order: kept ones refused again go back before the rest. */
  #keepUnwritten(deliveries: readonly NewDelivery[], kept: boolean): void {
    if (kept) this.#unwritten.unshift(...deliveries);
    else this.#unwritten.push(...deliveries);
    if (this.#unwritten.length > MAX_UNWRITTEN) {
      const lost = this.#unwritten.splice(0, this.#unwritten.length - MAX_UNWRITTEN);
      for (const d of lost) this.#o.metrics?.sinkDeliveries.add(1, { sink: d.sink, outcome: "dropped" });
      this.#o.onError?.(
        new SecmonError("STORE_UNAVAILABLE", `${lost.length} alert deliveries dropped: the outbox is down`),
      );
    }
    if (!this.#rewriting) this.#track(this.#rewrite());
  }

  /** Writes the kept deliveries again every RETRY_STORE_MS until the outbox takes them. */
  async #rewrite(): Promise<void> {
    this.#rewriting = true;
    try {
      while (this.#unwritten.length > 0 && !this.#abort.signal.aborted) {
        try {
          await this.#sleep(RETRY_STORE_MS, this.#abort.signal);
        } catch {
          break; // stopping
        }
        const batch = this.#unwritten;
        this.#unwritten = [];
        // refused again: #store keeps the batch (in order) and counts the failure
        await this.#store(batch, true).catch(() => undefined);
      }
    } finally {
      this.#rewriting = false;
    }
  }

  /** After a write: dead-letters what a full queue refused, wakes the lanes of the rest. */
  #afterWrite(deliveries: readonly NewDelivery[], outcomes: readonly EnqueueOutcome[]): void {
    const touched = new Set<Lane>();
    outcomes.forEach((outcome, i) => {
      const d = deliveries[i] as NewDelivery;
      const lane = this.#lanes.get(d.sink) as Lane;
      if (outcome === "full") {
        this.#deadLetter(d, "queue_full", `queue of ${lane.route.queueCapacity} is full`, 0);
      } else {
        if (outcome === "coalesced" || outcome === "duplicate" || outcome === "superseded") {
          this.#o.metrics?.sinkDeliveries.add(1, { sink: d.sink, outcome });
        }
        touched.add(lane);
      }
    });
    for (const lane of touched) this.#pump(lane);
  }

  /** Claims what is due for a lane while it has free slots, then waits for the next due item. */
  #pump(lane: Lane): void {
    if (this.#abort.signal.aborted) return;
    if (lane.pumping) {
      lane.again = true;
      return;
    }
    lane.pumping = true;
    this.#activity++;
    void this.#fill(lane).finally(() => {
      lane.pumping = false;
      // a pump asked for while this one was past its last claim
      if (lane.again) this.#pump(lane);
      this.#checkIdle();
    });
  }

  async #fill(lane: Lane): Promise<void> {
    const { route } = lane;
    try {
      do {
        lane.again = false;
        while (!this.#abort.signal.aborted && lane.inFlight < lane.slots) {
          const now = this.#clock();
          if (route.batch && now < lane.nextBatchAt) break;
          const items = await this.outbox.claim({
            sink: lane.name,
            limit: route.batch ? route.batch.maxItems : lane.slots - lane.inFlight,
            now,
            leaseMs: leaseMs(route),
            owner: this.owner,
            ...(route.batch ? { together: true } : {}),
          });
          if (items.length === 0) break;
          if (route.batch) this.#run(lane, items);
          else for (const item of items) this.#run(lane, [item]);
        }
      } while (lane.again && !this.#abort.signal.aborted);
      await this.#arm(lane);
    } catch (err) {
      this.#storeFailed("claim", err);
      this.#wakeAt(lane, this.#clock() + RETRY_STORE_MS);
    }
  }

  /** Sets the lane's timer to the next due delivery (or batch window). */
  async #arm(lane: Lane): Promise<void> {
    lane.wake?.abort();
    lane.wake = undefined;
    if (this.#abort.signal.aborted || lane.inFlight >= lane.slots) return;
    let at = await this.outbox.nextDue(lane.name, this.owner);
    const pollMs = this.#o.sharedPollMs ?? DEFAULT_SHARED_POLL_MS;
    if (this.outbox.shared === true && pollMs > 0) {
      // other replicas may enqueue (or die holding leases) without this one hearing of it
      const poll = this.#clock() + pollMs;
      at = at === undefined ? poll : Math.min(at, poll);
    }
    if (at === undefined) return;
    if (lane.route.batch) at = Math.max(at, lane.nextBatchAt);
    this.#wakeAt(lane, at);
  }

  #wakeAt(lane: Lane, at: number): void {
    if (this.#abort.signal.aborted) return;
    lane.wake?.abort();
    const wake = new AbortController();
    lane.wake = wake;
    const wait = Math.max(1, at - this.#clock());
    this.#sleep(wait, wake.signal).then(
      () => {
        if (lane.wake !== wake) return;
        lane.wake = undefined;
        this.#pump(lane);
      },
      () => undefined,
    );
  }

  #run(lane: Lane, items: OutboxItem[]): void {
    lane.inFlight++;
    this.#activity++;
    void this.#attempt(lane, items).finally(() => {
      lane.inFlight--;
      this.#pump(lane);
      this.#checkIdle();
    });
  }

  async #attempt(lane: Lane, items: OutboxItem[]): Promise<void> {
    const { sink } = lane.route;
    const deliveries: Delivery[] = items.map((i) => ({
      id: i.id,
      sink: i.sink,
      type: i.type,
      alert: i.alert,
      enqueuedAt: i.enqueuedAt,
    }));
    const started = performance.now();
    let result: AttemptResult;
    try {
      result =
        lane.route.batch && sink.sendBatch
          ? await sink.sendBatch(deliveries, this.#abort.signal)
          : await sink.send(deliveries[0] as Delivery, this.#abort.signal);
    } catch (err) {
      result = { ok: false, retryable: true, detail: err instanceof Error ? err.message : String(err) };
    }
    const m = this.#o.metrics;
    m?.sinkAttemptDuration.record((performance.now() - started) / 1000, { sink: lane.name });
    try {
      await this.#settle(lane, items, result);
    } catch (err) {
      // the items stay leased; another start (or the lease's end) brings them back
      this.#storeFailed(result.ok ? "ack" : "nack", err);
    }
  }

  async #settle(lane: Lane, items: OutboxItem[], result: AttemptResult): Promise<void> {
    const m = this.#o.metrics;
    const now = this.#clock();
    if (result.ok) {
      if (lane.route.batch) lane.nextBatchAt = now + lane.route.batch.windowMs;
      for (const item of items) {
        await this.outbox.ack(item.id);
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "success" });
      }
      return;
    }
    const status = result.status ?? 0;
    const { retry } = lane.route;
    // one wait for the whole claim, so that a batch stays together
    const attempts = Math.max(...items.map((i) => i.attempts));
    const wait = result.retryAfterMs ?? backoffMs(retry, attempts, this.#random);
    for (const item of items) {
      if (!result.retryable) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        this.#deadLetter(item, "final_status", result.detail, item.attempts, status);
        continue;
      }
      if (this.#stopping) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        // durable: it stays leased until stop() hands it back for the next start
        if (!this.outbox.durable) this.#deadLetter(item, "shutdown", result.detail, item.attempts, status);
        continue;
      }
      if (now - item.firstAttemptAt + wait > retry.maxRetryMs) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        this.#deadLetter(item, "retries_exhausted", result.detail, item.attempts, status);
        continue;
      }
      m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "retry" });
      await this.outbox.nack(item.id, this.owner, {
        dueAt: now + wait,
        error: result.detail,
        ...(status > 0 ? { status } : {}),
      });
    }
  }

  #deadLetter(
    d: Pick<NewDelivery, "id" | "sink" | "type" | "alert" | "enqueuedAt">,
    reason: DeadLetterReason,
    detail: string,
    attempts: number,
    status = 0,
  ): void {
    const dl: DeadLetter = {
      id: d.id,
      sink: d.sink,
      type: d.type,
      alert: d.alert,
      reason,
      detail,
      ...(status > 0 ? { status } : {}),
      attempts,
      enqueued_at: new Date(d.enqueuedAt).toISOString(),
      failed_at: new Date(this.#clock()).toISOString(),
    };
    this.#o.metrics?.sinkDeliveries.add(1, { sink: d.sink, outcome: "dead_letter" });
    const lane = this.#lanes.get(d.sink);
    const max = lane?.route.maxDeadLetters ?? this.#o.maxDeadLetters?.(d.sink) ?? 1000;
    this.#track(this.deadLetters.add(dl, max).catch((err: unknown) => this.#storeFailed("dead_letter", err)));
  }

  #track(p: Promise<unknown>): void {
    this.#pendingWrites.add(p);
    this.#activity++;
    void p.finally(() => {
      this.#pendingWrites.delete(p);
      this.#checkIdle();
    });
  }

  #storeFailed(operation: string, err: unknown): void {
    this.#o.metrics?.storeErrors.add(1, { store: "outbox", operation });
    this.#o.onError?.(err);
  }

  /** Nothing in flight, no claim or write under way. */
  #quiet(): boolean {
    if (this.#pendingWrites.size > 0) return false;
    for (const lane of this.#lanes.values()) if (lane.inFlight > 0 || lane.pumping) return false;
    return true;
  }

  #whenQuiet(): Promise<void> {
    if (this.#quiet()) return Promise.resolve();
    return new Promise((resolve) => this.#quietWaiters.push(resolve));
  }

  #checkIdle(): void {
    this.#activity++;
    if (!this.#quiet()) return;
    const quiet = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const w of quiet) w();
    if (this.#idleWaiters.length === 0 || this.#checking) return;
    this.#checking = true;
    const seen = this.#activity;
    void this.outbox
      .backlog()
      .then(
        (b) => {
          const empty = [...this.#lanes.keys()].every((name) => !b[name]?.depth);
          if (empty && this.#quiet() && seen === this.#activity) {
            const idle = this.#idleWaiters;
            this.#idleWaiters = [];
            for (const w of idle) w();
          }
        },
        () => undefined,
      )
      .finally(() => {
        this.#checking = false;
        if (seen !== this.#activity) this.#checkIdle();
      });
  }
}

/** How long a claimed delivery stays ours: comfortably past the attempt's own timeout. */
function leaseMs(route: SinkRoute): number {
  return Math.max(60_000, 3 * (route.timeoutMs ?? 60_000));
}
