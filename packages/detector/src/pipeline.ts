import type { AlertChange, Firing } from "./alerts/types.ts";
import { SecmonError, asSecmonError } from "./errors.ts";
import type { DecodedBatch, SecurityEvent } from "./event.ts";
import type { IngestContext, Ingestor } from "./ingest.ts";
import type { Metrics } from "./metrics/catalog.ts";

/** The rule engine as the pipeline sees it. */
export interface Evaluator {
  evaluate(events: SecurityEvent[], ctx: { batchId: string; receivedAt: number }): Promise<Firing[]>;
}

/** Turns firings into alert changes (deduplicated) and hands them to the sinks. */
export interface Alerting {
  handle(firings: Firing[]): Promise<readonly AlertChange[]>;
}

/** Sees every evaluated event (recent-event index, report). Must be cheap and never throw. */
export interface EventObserver {
  /** `batch.batchId` lets an observer recognise a sender's retry of the same request. */
  observe(events: readonly SecurityEvent[], batch?: { readonly batchId: string }): void;
}

export interface PipelineOptions {
  readonly evaluator: Evaluator;
  readonly alerting: Alerting;
  readonly observers?: readonly EventObserver[];
  /** The engine records `ruleEvaluation` itself (once per batch). */
  readonly metrics: Pick<Metrics, "eventsEvaluated" | "ingestInFlight">;
  readonly maxInFlightEvents: number;
  /**
   * Why batches cannot be taken now (e.g. alert deliveries wait for a failed outbox), or
   * undefined. While set, the pipeline refuses with STORE_UNAVAILABLE (retryable).
   */
  readonly blocked?: () => string | undefined;
  /** Called with every firing batch's changes once recorded (e.g. for the demo's live summary). */
  readonly onChanges?: (changes: readonly AlertChange[]) => void;
}

/**
 * Receivers → rules → alerts. Admission control bounds the events in flight: past the bound the
 * pipeline refuses with INGEST_OVERLOADED (retryable), so senders hold the data and retry rather
 * than the detector queueing without limit. A batch is acknowledged only once its state is
 * committed and its firings are recorded as alerts.
 */
export class Pipeline implements Ingestor {
  readonly #o: PipelineOptions;
  #inFlight = 0;
  #stopping = false;
  #idle: (() => void) | undefined;
  #drained: Promise<void> | undefined;

  constructor(options: PipelineOptions) {
    this.#o = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async ingest(batch: DecodedBatch, ctx: IngestContext): Promise<void> {
    if (this.#stopping) throw new SecmonError("SHUTTING_DOWN");
    const n = batch.events.length;
    if (n === 0) return;
    const blocked = this.#o.blocked?.();
    if (blocked !== undefined) throw new SecmonError("STORE_UNAVAILABLE", blocked);
    // One batch larger than the bound is still admitted when nothing else is in flight.
    if (this.#inFlight > 0 && this.#inFlight + n > this.#o.maxInFlightEvents) {
      throw new SecmonError("INGEST_OVERLOADED", `${this.#inFlight} events in flight`);
    }
    this.#inFlight += n;
    this.#o.metrics.ingestInFlight.add(n);
    try {
      const firings = await this.#o.evaluator.evaluate(batch.events, ctx);
      if (firings.length > 0) {
        const changes = await this.#o.alerting.handle(firings);
        if (changes.length > 0) this.#o.onChanges?.(changes);
      }
      for (const observer of this.#o.observers ?? []) observer.observe(batch.events, ctx);
      this.#o.metrics.eventsEvaluated.add(n);
    } catch (err) {
      throw asSecmonError(err);
    } finally {
      this.#inFlight -= n;
      this.#o.metrics.ingestInFlight.add(-n);
      if (this.#inFlight === 0) this.#idle?.();
    }
  }

  async start(): Promise<void> {
    this.#stopping = false;
  }

  /** Refuses new batches and waits for those in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#inFlight === 0) return;
    this.#drained ??= new Promise<void>((resolve) => {
      this.#idle = () => {
        this.#idle = undefined;
        this.#drained = undefined;
        resolve();
      };
    });
    await this.#drained;
  }
}
