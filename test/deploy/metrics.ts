import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { REJECT_REASONS } from "../../packages/detector/src/event.ts";
import { METRIC_CATALOG, type MetricSpec } from "../../packages/detector/src/metrics/catalog.ts";
import { ALERT_SEVERITIES } from "../../packages/semconv/src/index.ts";

/**
 * Metrics the dashboards use that the catalog does not have yet: proposed to the catalog's owner.
 * An entry drops out by itself once the catalog has a metric of that name.
 */
export const PROPOSED_METRICS: Readonly<Record<string, MetricSpec>> = {
  authAttempts: {
    name: "secmon_auth_attempts",
    kind: "counter",
    unit: "{attempt}",
    labels: ["outcome", "service"],
    description: "Sign-in attempts (auth.login events) by outcome (success, failure) and service",
  },
};

/** The catalog plus the proposals it does not contain yet. */
export function dashboardMetrics(): MetricSpec[] {
  const catalog = Object.values(METRIC_CATALOG) as MetricSpec[];
  const names = new Set(catalog.map((m) => m.name));
  return [...catalog, ...Object.values(PROPOSED_METRICS).filter((m) => !names.has(m.name))];
}

/** Label values that the detector can produce, per label (and per metric where they differ). */
const LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  event_name: ["auth.login", "api.request", "authz.decision", "input.validation_failure"],
  service: ["demo-service", "checkout"],
  reason: REJECT_REASONS,
  transport: ["grpc", "http"],
  rule: ["brute_force", "credential_stuffing", "api_scanning", "account_takeover"],
  severity: ALERT_SEVERITIES,
  store: ["windows", "alerts", "outbox"],
  operation: ["read", "write"],
  sink: ["webhook", "slack"],
};
const PER_METRIC_VALUES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  secmon_receiver_requests: {
    outcome: ["ok", "partial", "invalid", "too_large", "unauthenticated", "unavailable"],
  },
  secmon_rule_skipped_events: { reason: ["missing_group", "late"] },
  secmon_alerts: { outcome: ["created", "updated"] },
  secmon_sink_deliveries: { outcome: ["success", "retry", "failed", "dead_letter"] },
  secmon_auth_attempts: { outcome: ["success", "failure"] },
};

export function labelValues(metric: string, label: string): readonly string[] {
  const values = PER_METRIC_VALUES[metric]?.[label] ?? LABEL_VALUES[label];
  if (values === undefined) throw new Error(`no test values for label ${label} of ${metric}`);
  return values;
}

/** Every combination of the metric's label values (the cartesian product). */
function labelSets(spec: MetricSpec): Record<string, string>[] {
  let sets: Record<string, string>[] = [{}];
  for (const label of spec.labels) {
    sets = sets.flatMap((set) => labelValues(spec.name, label).map((v) => ({ ...set, [label]: v })));
  }
  return sets;
}

function fmt(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const BUCKETS = [0.005, 0.05, 0.5, 5, 60];

/**
 * Prometheus exposition text with every metric and every label combination; `tick` (the number
 * of scrapes so far) makes counters and histograms grow between scrapes, so rates are non-zero.
 */
export function exposition(metrics: readonly MetricSpec[], tick: number): string {
  const lines: string[] = [];
  for (const spec of metrics) {
    const sets = labelSets(spec);
    switch (spec.kind) {
      case "counter": {
        const name = `${spec.name}_total`;
        lines.push(`# HELP ${name} ${spec.description}`, `# TYPE ${name} counter`);
        sets.forEach((l, i) => lines.push(`${name}${fmt(l)} ${(i + 1) * 10 * (tick + 1)}`));
        break;
      }
      case "histogram": {
        lines.push(`# HELP ${spec.name} ${spec.description}`, `# TYPE ${spec.name} histogram`);
        for (const l of sets) {
          const n = 10 * (tick + 1);
          BUCKETS.forEach((le, b) => {
            lines.push(
              `${spec.name}_bucket${fmt({ ...l, le: String(le) })} ${Math.round((n * (b + 1)) / BUCKETS.length)}`,
            );
          });
          lines.push(`${spec.name}_bucket${fmt({ ...l, le: "+Inf" })} ${n}`);
          lines.push(`${spec.name}_sum${fmt(l)} ${n * 0.2}`, `${spec.name}_count${fmt(l)} ${n}`);
        }
        break;
      }
      case "gauge":
      case "updowncounter": {
        lines.push(`# HELP ${spec.name} ${spec.description}`, `# TYPE ${spec.name} gauge`);
        sets.forEach((l, i) => lines.push(`${spec.name}${fmt(l)} ${i + 1}`));
        break;
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

export interface MetricsServer {
  readonly target: string;
  /** How many times /metrics was served. */
  scrapes(): number;
  close(): Promise<void>;
}

/** Serves `exposition(metrics, scrapeCount)` at /metrics on 127.0.0.1 (random port). */
export async function serveMetrics(metrics: readonly MetricSpec[]): Promise<MetricsServer> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(exposition(metrics, count++));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    scrapes: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
