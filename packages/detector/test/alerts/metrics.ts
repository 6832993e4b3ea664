import { MeterProvider, MetricReader, type DataPoint } from "@opentelemetry/sdk-metrics";
import { createMetrics, type Metrics } from "../../src/metrics/catalog.ts";

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** Real SDK instruments plus a way to read what they recorded. */
export function testMetrics(): {
  metrics: Metrics;
  points: (name: string) => Promise<DataPoint<unknown>[]>;
} {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = createMetrics(provider.getMeter("test"));
  return {
    metrics,
    points: async (name) => {
      const { resourceMetrics } = await reader.collect();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const m of scope.metrics) {
          if (m.descriptor.name === name) return m.dataPoints as DataPoint<unknown>[];
        }
      }
      return [];
    },
  };
}
