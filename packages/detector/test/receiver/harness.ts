/**
 * Test doubles for the receiver tests: an Ingestor that records (and can refuse) batches, and the
 * detector's metric catalog on an in-memory reader.
 */
import type { Attributes } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import type { ErrorCode } from "../../src/errors.ts";
import { SecmonError } from "../../src/errors.ts";
import type { DecodedBatch } from "../../src/event.ts";
import type { IngestContext, Ingestor } from "../../src/ingest.ts";
import { createMetrics } from "../../src/metrics/catalog.ts";
import type { Metrics } from "../../src/metrics/catalog.ts";

export interface Ingested {
  readonly batch: DecodedBatch;
  readonly ctx: IngestContext;
}

/**
 * Records every batch it accepts. `failNext(code, n)` refuses the next n batches with that
 * error; `hold()` keeps batches in flight until the returned release is called. Counts
 * `evaluated` as the pipeline would: the events of every batch it accepted.
 */
export class RecordingIngestor implements Ingestor {
  readonly accepted: Ingested[] = [];
  readonly refused: Ingested[] = [];
  evaluated = 0;
  #failures: { code: ErrorCode; left: number } | undefined;
  #gate: Promise<void> | undefined;
  #arrived: (() => void) | undefined;

  failNext(code: ErrorCode, times = 1): void {
    this.#failures = { code, left: times };
  }

  /** Holds batches until release() is called; `arrived` resolves when the first one is held. */
  hold(): { release: () => void; arrived: Promise<void> } {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => (release = resolve));
    const arrived = new Promise<void>((resolve) => (this.#arrived = resolve));
    return {
      arrived,
      release: () => {
        this.#gate = undefined;
        release();
      },
    };
  }

  async ingest(batch: DecodedBatch, ctx: IngestContext): Promise<void> {
    const failures = this.#failures;
    if (failures !== undefined && failures.left > 0) {
      failures.left--;
      this.refused.push({ batch, ctx });
      throw new SecmonError(failures.code, "test ingestor refused the batch");
    }
    if (this.#gate !== undefined) {
      this.#arrived?.();
      await this.#gate;
    }
    this.accepted.push({ batch, ctx });
    this.evaluated += batch.events.length;
  }

  get events() {
    return this.accepted.flatMap((i) => i.batch.events);
  }
}

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The metric catalog on an in-memory reader; `sum()` reads a counter's total. */
export class TestMetrics {
  readonly reader = new TestReader();
  readonly provider = new MeterProvider({ readers: [this.reader] });
  readonly metrics: Metrics = createMetrics(this.provider.getMeter("test"));

  /** Sum of a counter's points whose attributes include `match`. */
  async sum(name: string, match: Attributes = {}): Promise<number> {
    const { resourceMetrics } = await this.reader.collect();
    let total = 0;
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) {
          const attrs = point.attributes;
          if (Object.entries(match).every(([k, v]) => attrs[k] === v)) total += point.value as number;
        }
      }
    }
    return total;
  }

  /** All points of a counter as `label=value,… → value`. */
  async points(name: string): Promise<Record<string, number>> {
    const { resourceMetrics } = await this.reader.collect();
    const out: Record<string, number> = {};
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) {
          const key = Object.entries(point.attributes)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(",");
          out[key] = point.value as number;
        }
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.provider.shutdown();
  }
}
