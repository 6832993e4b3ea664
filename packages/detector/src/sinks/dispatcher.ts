import type { ObservableCallback } from "@opentelemetry/api";
import { monotonicFactory } from "ulidx";
import type { AlertChange } from "../alerts/types.ts";
import { SecmonError } from "../errors.ts";
import type { Metrics } from "../metrics/catalog.ts";
import type { DeadLetter, DeadLetterReason, DeadLetterStore } from "./dead-letters.ts";
import { MemoryDeadLetterStore } from "./dead-letters.ts";
import { backoffMs, passes, type AttemptResult, type Delivery, type SinkRoute } from "./sink.ts";

export type SinkMetrics = Pick<
  Metrics,
  "sinkDeliveries" | "sinkQueueDepth" | "sinkOldestAge" | "sinkDeadLetters" | "storeErrors"
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

export interface SinkDispatcherOptions {
  readonly routes: readonly SinkRoute[];
  readonly deadLetters?: DeadLetterStore;
  /** Dead letters kept per sink. Default 1000 (or per route, see maxDeadLetters). */
  readonly maxDeadLetters?: (sink: string) => number;
  readonly clock?: () => number;
  readonly sleep?: Sleep;
  readonly random?: () => number;
  readonly metrics?: SinkMetrics;
  /** How long `stop()` keeps delivering what is queued before the rest becomes dead letters. Default 5 s. */
  readonly drainMs?: number;
  /** Called when the dead-letter store fails (the letter is then lost; counted in secmon_store_errors). */
  readonly onError?: (err: unknown) => void;
}

class Lane {
  readonly route: SinkRoute;
  readonly queue: Delivery[] = [];
  readonly inFlight = new Set<Delivery>();
  constructor(route: SinkRoute) {
    this.route = route;
  }
  get name(): string {
    return this.route.sink.name;
  }
}

/**
 * Fans alert changes out to sinks without ever blocking the caller: each sink has a bounded
 * queue and at most `maxConcurrency` deliveries in flight (a delivery holds its slot while it
 * waits between retries, so a slow receiver never piles up requests). What finally fails is a
 * dead letter an operator can list, replay or drop.
 */
export class SinkDispatcher {
  readonly deadLetters: DeadLetterStore;
  readonly #lanes = new Map<string, Lane>();
  readonly #o: SinkDispatcherOptions;
  readonly #clock: () => number;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #newId = monotonicFactory();
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  #pendingWrites = new Set<Promise<unknown>>();
  #callbacks: [SinkMetrics[keyof SinkMetrics], ObservableCallback][] = [];

  constructor(options: SinkDispatcherOptions) {
    this.#o = options;
    this.deadLetters = options.deadLetters ?? new MemoryDeadLetterStore();
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

  async start(): Promise<void> {
    const m = this.#o.metrics;
    if (!m || this.#callbacks.length > 0) return;
    const depth: ObservableCallback = (r) => {
      for (const lane of this.#lanes.values())
        r.observe(lane.queue.length + lane.inFlight.size, { sink: lane.name });
    };
    const oldest: ObservableCallback = (r) => {
      const now = this.#clock();
      for (const lane of this.#lanes.values()) {
        let first = Infinity;
        for (const d of lane.inFlight) first = Math.min(first, d.enqueuedAt);
        const queued = lane.queue[0];
        if (queued) first = Math.min(first, queued.enqueuedAt);
        r.observe(first === Infinity ? 0 : Math.max(0, now - first) / 1000, { sink: lane.name });
      }
    };
    const dead: ObservableCallback = async (r) => {
      try {
        const counts = await this.deadLetters.counts();
        for (const name of this.#lanes.keys()) r.observe(counts[name] ?? 0, { sink: name });
      } catch {
        // counted where the store fails
      }
    };
    this.#callbacks = [
      [m.sinkQueueDepth, depth],
      [m.sinkOldestAge, oldest],
      [m.sinkDeadLetters, dead],
    ];
    for (const [g, cb] of this.#callbacks) (g as SinkMetrics["sinkQueueDepth"]).addCallback(cb);
  }

  /**
   * Hands changes to every sink whose filter accepts them. Synchronous, never throws, never
   * waits: a full queue turns the delivery into a dead letter (queue_full).
   */
  dispatch(changes: readonly AlertChange[]): void {
    for (const change of changes) {
      for (const lane of this.#lanes.values()) {
        try {
          if (!passes(lane.route.filter, change)) continue;
          const delivery: Delivery = {
            id: `dlv_${this.#newId(this.#clock())}`,
            sink: lane.name,
            type: change.type,
            alert: change.alert,
            enqueuedAt: this.#clock(),
          };
          this.#enqueue(lane, delivery);
        } catch (err) {
          this.#o.onError?.(err);
        }
      }
    }
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
    await this.deadLetters.remove(id);
    const delivery: Delivery = {
      id: dl.id,
      sink: dl.sink,
      type: dl.type,
      alert: dl.alert,
      enqueuedAt: this.#clock(),
    };
    this.#enqueue(lane, delivery);
    return delivery;
  }

  /** Resolves once every queue is empty and nothing is in flight (tests, drain). */
  whenIdle(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops accepting, keeps delivering what is queued for up to `drainMs` (no more retries),
   * then aborts: what is left becomes dead letters (shutdown). Idempotent, safe before start.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const [g, cb] of this.#callbacks) (g as SinkMetrics["sinkQueueDepth"]).removeCallback(cb);
    this.#callbacks = [];
    const drain = new AbortController();
    const deadline = this.#sleep(this.#o.drainMs ?? 5000, drain.signal).catch(() => undefined);
    await Promise.race([this.whenIdle(), deadline]);
    drain.abort();
    this.#abort.abort(new SecmonError("SHUTTING_DOWN"));
    for (const lane of this.#lanes.values()) {
      for (const d of lane.queue.splice(0)) this.#deadLetter(lane, d, "shutdown", "detector stopped", 0);
    }
    await this.whenIdle();
    await Promise.allSettled([...this.#pendingWrites]);
    await Promise.allSettled([...this.#lanes.values()].map((l) => l.route.sink.close?.()));
  }

  #enqueue(lane: Lane, delivery: Delivery): void {
    if (this.#stopping) {
      this.#deadLetter(lane, delivery, "shutdown", "detector stopping", 0);
      return;
    }
    if (lane.queue.length >= lane.route.queueCapacity) {
      this.#deadLetter(lane, delivery, "queue_full", `queue of ${lane.route.queueCapacity} is full`, 0);
      return;
    }
    lane.queue.push(delivery);
    this.#pump(lane);
  }

  #pump(lane: Lane): void {
    while (lane.inFlight.size < lane.route.maxConcurrency && lane.queue.length > 0) {
      const d = lane.queue.shift() as Delivery;
      lane.inFlight.add(d);
      void this.#run(lane, d).finally(() => {
        lane.inFlight.delete(d);
        this.#pump(lane);
        this.#checkIdle();
      });
    }
  }

  async #run(lane: Lane, d: Delivery): Promise<void> {
    const { sink, retry } = lane.route;
    const m = this.#o.metrics;
    const started = this.#clock();
    for (let attempt = 1; ; attempt++) {
      let result: AttemptResult;
      try {
        result = await sink.send(d, this.#abort.signal);
      } catch (err) {
        result = { ok: false, retryable: true, detail: err instanceof Error ? err.message : String(err) };
      }
      if (result.ok) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "success" });
        return;
      }
      const status = result.status ?? 0;
      if (!result.retryable) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        this.#deadLetter(lane, d, "final_status", result.detail, attempt, status);
        return;
      }
      if (this.#stopping) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        this.#deadLetter(lane, d, "shutdown", result.detail, attempt, status);
        return;
      }
      const wait = result.retryAfterMs ?? backoffMs(retry, attempt, this.#random);
      if (this.#clock() - started + wait > retry.maxRetryMs) {
        m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "failed" });
        this.#deadLetter(lane, d, "retries_exhausted", result.detail, attempt, status);
        return;
      }
      m?.sinkDeliveries.add(1, { sink: lane.name, outcome: "retry" });
      try {
        await this.#sleep(wait, this.#abort.signal);
      } catch {
        this.#deadLetter(lane, d, "shutdown", result.detail, attempt, status);
        return;
      }
    }
  }

  #deadLetter(
    lane: Lane,
    d: Delivery,
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
    this.#o.metrics?.sinkDeliveries.add(1, { sink: lane.name, outcome: "dead_letter" });
    const max = this.#o.maxDeadLetters?.(lane.name) ?? 1000;
    const write = this.deadLetters.add(dl, max).catch((err: unknown) => {
      this.#o.metrics?.storeErrors.add(1, { store: "outbox", operation: "dead_letter" });
      this.#o.onError?.(err);
    });
    this.#pendingWrites.add(write);
    void write.finally(() => this.#pendingWrites.delete(write));
  }

  #idle(): boolean {
    for (const lane of this.#lanes.values())
      if (lane.queue.length > 0 || lane.inFlight.size > 0) return false;
    return true;
  }

  #checkIdle(): void {
    if (!this.#idle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
