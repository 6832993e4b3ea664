import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from "@opentelemetry/sdk-metrics";
import type { Config } from "./config/schema.ts";
import { createMetrics, type Metrics } from "./metrics/catalog.ts";
import { listenError, splitEndpoint } from "./net.ts";

export const DETECTOR_VERSION = "0.1.0";

/** The detector's own metrics pipeline: the catalog's instruments and their readers. */
export class Telemetry {
  readonly metrics: Metrics;
  readonly provider: MeterProvider;
  readonly prometheus: PrometheusExporter | undefined;
  #stopped = false;
  #prometheusEndpoint = "";

  constructor(config: Config["metrics"], extraReaders: IMetricReader[] = []) {
    const readers: IMetricReader[] = [...extraReaders];
    if (config.prometheus.enabled) {
      const { host, port } = splitEndpoint(config.prometheus.endpoint);
      this.#prometheusEndpoint = config.prometheus.endpoint;
      this.prometheus = new PrometheusExporter({
        host,
        port,
        preventServerStart: true,
        withoutScopeInfo: true,
      });
      readers.push(this.prometheus);
    }
    if (config.otlp) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: config.otlp.endpoint }),
          exportIntervalMillis: config.otlp.interval_seconds * 1000,
        }),
      );
    }
    this.provider = new MeterProvider({
      resource: resourceFromAttributes({
        "service.name": "secmon-detector",
        "service.version": DETECTOR_VERSION,
      }),
      readers,
    });
    this.metrics = createMetrics(this.provider.getMeter("secmon-detector", DETECTOR_VERSION));
  }

  async start(): Promise<void> {
    try {
      await this.prometheus?.startServer();
    } catch (err) {
      throw listenError("metrics.prometheus.endpoint", this.#prometheusEndpoint, err);
    }
  }

  /** Flushes pushed metrics and closes the Prometheus endpoint. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.provider.shutdown();
  }
}
