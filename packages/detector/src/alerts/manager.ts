import type { ObservableCallback } from "@opentelemetry/api";
import { asSecmonError } from "../errors.ts";
import type { Metrics } from "../metrics/catalog.ts";
import type { AlertPatch, AlertStore } from "./store.ts";
import type { AlertChange, Firing } from "./types.ts";

export type Clock = () => number;

/** The instruments the manager records through (a subset of createMetrics()). */
export type AlertMetrics = Pick<
  Metrics,
  "alerts" | "alertsOpen" | "detectionLatency" | "alertLatency" | "storeErrors"
>;

export interface AlertManagerOptions {
  readonly store: AlertStore;
  /** Detector time in ms. Default Date.now. */
  readonly clock?: Clock;
  readonly metrics?: AlertMetrics;
  /**
   * Called with every change the manager makes (from `handle` and `update`). Must not throw or
   * block; errors are swallowed.
   */
  readonly onChanges?: (changes: readonly AlertChange[]) => void;
  /**
   * Writes the deliveries of changes (the sink dispatcher's `dispatch`). `handle` waits for it,
   * so a batch is acknowledged only once its notifications are stored, and rejects when it
   * rejects; an operator's `update` does not wait.
   */
  readonly deliver?: (changes: readonly AlertChange[]) => Promise<void>;
  /** How often `start()` applies retention (store.purge). Default 60 s; 0 disables the timer. */
  readonly purgeIntervalSeconds?: number;
}

/**
 * Turns firings into alerts through the store (which deduplicates atomically) and applies
 * operators' changes. Lifecycle: `start()` schedules retention; `stop()` is idempotent.
 */
export class AlertManager {
  readonly store: AlertStore;
  readonly #clock: Clock;
  readonly #metrics: AlertMetrics | undefined;
  readonly #onChanges: ((changes: readonly AlertChange[]) => void) | undefined;
  readonly #deliver: ((changes: readonly AlertChange[]) => Promise<void>) | undefined;
  readonly #purgeIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #openCallback: ObservableCallback | undefined;
  #purging: Promise<unknown> = Promise.resolve();

  constructor(options: AlertManagerOptions) {
    this.store = options.store;
    this.#clock = options.clock ?? Date.now;
    this.#metrics = options.metrics;
    this.#onChanges = options.onChanges;
    this.#deliver = options.deliver;
    this.#purgeIntervalMs = (options.purgeIntervalSeconds ?? 60) * 1000;
  }

  async start(): Promise<void> {
    if (this.#metrics && !this.#openCallback) {
      this.#openCallback = async (result) => {
        try {
          const counts = await this.store.countOpen();
          for (const [severity, n] of Object.entries(counts)) result.observe(n, { severity });
        } catch {
          // the store being unreachable is counted by the operations that fail
        }
      };
      this.#metrics.alertsOpen.addCallback(this.#openCallback);
    }
    if (this.#purgeIntervalMs > 0 && !this.#timer) {
      this.#timer = setInterval(() => {
        this.#purging = this.purge();
      }, this.#purgeIntervalMs);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#metrics && this.#openCallback) this.#metrics.alertsOpen.removeCallback(this.#openCallback);
    this.#openCallback = undefined;
    await this.#purging;
  }

  /** Applies retention now; returns how many alerts were dropped (0 when the store failed). */
  async purge(): Promise<number> {
    try {
      return await this.store.purge(this.#clock());
    } catch {
      this.#metrics?.storeErrors.add(1, { store: "alerts", operation: "purge" });
      return 0;
    }
  }

  /**
   * Records firings (in order) and returns the changes to deliver: `alert.created` for a new
   * alert, `alert.updated` when an open alert absorbed the firing, nothing when a closed alert
   * inside its suppression period absorbed it. A store failure rejects (STORE_UNAVAILABLE is
   * retryable, so the sender retries the batch; deduplication makes the retry harmless). The
   * firing of a batch the store already recorded gives its change again, so that a delivery lost
   * between the two is written now (the outbox ignores one it holds), but is not counted again.
   */
  async handle(firings: readonly Firing[]): Promise<AlertChange[]> {
    const changes: AlertChange[] = [];
    for (const firing of firings) {
      let result;
      try {
        result = await this.store.record(firing, this.#clock());
      } catch (err) {
        this.#metrics?.storeErrors.add(1, { store: "alerts", operation: "record" });
        // what was recorded before the failure is still notified (the dispatcher keeps it)
        this.#emit(changes);
        if (changes.length > 0) this.#deliver?.(changes).catch(() => undefined);
        throw asSecmonError(err);
      }
      const now = this.#clock();
      const m = this.#metrics;
      // a retried batch's firing was counted (and its latency taken) the first time
      if (m && !result.repeated) {
        m.alerts.add(1, { rule: firing.rule, severity: result.alert.severity, outcome: result.outcome });
        if (result.outcome === "created") {
          m.detectionLatency.record(Math.max(0, now - firing.lastSeen) / 1000, { rule: firing.rule });
          m.alertLatency.record(Math.max(0, now - firing.receivedAt) / 1000, { rule: firing.rule });
        }
      }
      if (result.outcome === "created") changes.push({ type: "alert.created", alert: result.alert, firing });
      else if (result.outcome === "updated")
        changes.push({ type: "alert.updated", alert: result.alert, firing });
    }
    this.#emit(changes);
    if (changes.length > 0 && this.#deliver) {
      try {
        await this.#deliver(changes);
      } catch (err) {
        throw asSecmonError(err);
      }
    }
    return changes;
  }

  /**
   * An operator's change: `alert.status_changed` when the status moved, else `alert.updated`.
   * Rejects NOT_FOUND, BAD_REQUEST (invalid change, naming the field) or CONFLICT.
   */
  async update(id: string, patch: AlertPatch, actor: string): Promise<AlertChange> {
    let result;
    try {
      result = await this.store.update(id, patch, actor, this.#clock());
    } catch (err) {
      const e = asSecmonError(err);
      if (e.code === "STORE_UNAVAILABLE" || e.code === "INTERNAL") {
        this.#metrics?.storeErrors.add(1, { store: "alerts", operation: "update" });
      }
      throw e;
    }
    const change: AlertChange = {
      type: result.before.status !== result.alert.status ? "alert.status_changed" : "alert.updated",
      alert: result.alert,
    };
    this.#emit([change]);
    // the dispatcher keeps deliveries the outbox refused and writes them again
    this.#deliver?.([change]).catch(() => undefined);
    return change;
  }

  #emit(changes: readonly AlertChange[]): void {
    if (!this.#onChanges || changes.length === 0) return;
    try {
      this.#onChanges(changes);
    } catch {
      // a listener's fault never fails alerting
    }
  }
}
