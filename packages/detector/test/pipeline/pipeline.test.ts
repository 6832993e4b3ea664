import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import type { Firing } from "../../src/alerts/types.ts";
import { SecmonError } from "../../src/errors.ts";
import type { DecodedBatch, SecurityEvent } from "../../src/event.ts";
import { createMetrics } from "../../src/metrics/catalog.ts";
import { Engine } from "../../src/engine/engine.ts";
import { Pipeline, type Evaluator, type PipelineOptions } from "../../src/pipeline.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { testMetrics } from "../alerts/metrics.ts";

const metrics = createMetrics(new MeterProvider().getMeter("test"));
const event = (i: number): SecurityEvent => ({
  name: "auth.login",
  time: 1_700_000_000_000 + i,
  service: "svc",
  attributes: {},
  resource: {},
});
const batch = (n: number): DecodedBatch => ({
  events: Array.from({ length: n }, (_, i) => event(i)),
  ignored: 0,
  rejected: {},
});
const ctx = { batchId: "b", transport: "grpc" as const, receivedAt: 0 };

/** A pipeline that evaluates to no firings, alerts on nothing and admits 1000 events in flight. */
const pipeline = (options: Partial<PipelineOptions> = {}) =>
  new Pipeline({
    evaluator: { evaluate: async () => [] },
    alerting: { handle: async () => [] },
    metrics,
    maxInFlightEvents: 1000,
    ...options,
  });

/** An evaluator whose calls stay pending until released. */
function gatedEvaluator() {
  const releases: (() => void)[] = [];
  const evaluator: Evaluator = {
    evaluate: () =>
      new Promise<Firing[]>((resolve) => {
        releases.push(() => resolve([]));
      }),
  };
  return { evaluator, release: () => releases.splice(0).forEach((r) => r()) };
}

describe("Pipeline", () => {
  it("records one rule-evaluation duration per batch, wired as the detector wires it", async () => {
    const { metrics: m, points } = testMetrics();
    const engine = new Engine({ rules: loadRules({}), store: new MemoryWindowStore(), metrics: m });
    const p = pipeline({ evaluator: engine, metrics: m });
    for (const id of ["b1", "b2", "b3"]) await p.ingest(batch(5), { ...ctx, batchId: id });
    const [histogram] = await points("secmon_rule_evaluation_seconds");
    expect((histogram?.value as { count: number }).count).toBe(3);
    const [evaluated] = await points("secmon_events_evaluated");
    expect(evaluated?.value).toBe(15);
  });

  it("refuses with a retryable error past the in-flight bound, and admits again once drained", async () => {
    const gate = gatedEvaluator();
    const p = pipeline({ evaluator: gate.evaluator });
    const first = p.ingest(batch(800), ctx);
    await expect(p.ingest(batch(300), ctx)).rejects.toMatchObject({
      code: "INGEST_OVERLOADED",
      retryable: true,
    });
    expect(p.inFlight).toBe(800);
    gate.release();
    await first;
    const again = p.ingest(batch(300), ctx);
    gate.release();
    await again;
    expect(p.inFlight).toBe(0);
  });

  it("admits one oversized batch when nothing is in flight", async () => {
    const p = pipeline();
    await expect(p.ingest(batch(5000), ctx)).resolves.toBeUndefined();
  });

  it("passes firings to alerting and observers see evaluated events", async () => {
    const firing = { rule: "brute_force" } as unknown as Firing;
    const seen: number[] = [];
    const handled: Firing[][] = [];
    const p = pipeline({
      evaluator: { evaluate: async () => [firing] },
      alerting: {
        handle: async (f) => {
          handled.push(f);
          return [];
        },
      },
      observers: [{ observe: (events) => seen.push(events.length) }],
    });
    await p.ingest(batch(3), ctx);
    expect(handled).toEqual([[firing]]);
    expect(seen).toEqual([3]);
  });

  it("surfaces a store failure as the retryable error it is, and unknown faults as INTERNAL", async () => {
    const failing = (err: unknown) =>
      pipeline({
        evaluator: {
          evaluate: async () => {
            throw err;
          },
        },
      });
    await expect(failing(new SecmonError("STORE_UNAVAILABLE")).ingest(batch(1), ctx)).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
      retryable: true,
    });
    await expect(failing(new TypeError("boom")).ingest(batch(1), ctx)).rejects.toMatchObject({
      code: "INTERNAL",
      retryable: false,
    });
  });

  it("stop() waits for batches in flight, then refuses new ones; it is idempotent", async () => {
    const gate = gatedEvaluator();
    const p = pipeline({ evaluator: gate.evaluator });
    await p.stop(); // safe before start and with nothing in flight
    await p.start();
    const pending = p.ingest(batch(10), ctx);
    let stopped = false;
    const stopping = p.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false);
    await expect(p.ingest(batch(1), ctx)).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    gate.release();
    await pending;
    await stopping;
    expect(stopped).toBe(true);
    await p.stop();
  });
});
