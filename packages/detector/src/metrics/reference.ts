import { METRIC_CATALOG, type MetricSpec } from "./catalog.ts";

const PROM_TYPE: Record<MetricSpec["kind"], string> = {
  counter: "counter",
  updowncounter: "gauge",
  histogram: "histogram",
  gauge: "gauge",
};

/** The metrics reference, generated from the catalog. */
export function metricsReferenceMarkdown(): string {
  const rows = (Object.values(METRIC_CATALOG) as MetricSpec[]).map((m) => {
    const name = m.kind === "counter" ? `${m.name}_total` : m.name;
    const labels = m.labels.length ? m.labels.map((l) => "`" + l + "`").join(", ") : "—";
    return `| \`${name}\` | ${PROM_TYPE[m.kind]} | \`${m.unit}\` | ${labels} | ${m.description} |`;
  });
  return [
    "# Metrics reference",
    "",
    "<!-- Generated from packages/detector/src/metrics/catalog.ts by `pnpm docs`. Do not edit. -->",
    "",
    "The detector serves these on its Prometheus endpoint (`/metrics`, default `127.0.0.1:9464`) and",
    "pushes them over OTLP when `metrics.otlp` is set. Labels are bounded sets: rule ids, severities,",
    "sinks, outcomes and reasons, event names of the spec (others show as `custom`) and service names.",
    "Specific addresses and users appear only in alerts (the HTTP API), never in metrics.",
    "",
    "| name | type | unit | labels | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
