import type {
  Attributes as MetricAttributes,
  Counter,
  Histogram,
  Meter,
  ObservableGauge,
  UpDownCounter,
} from "@opentelemetry/api";

/**
 * The one catalog of the detector's own metrics. Names are given as Prometheus will show them
 * (counters gain `_total`). Labels are bounded sets only: never an address, a user or a raw
 * event name outside the spec (those become `custom` / `other`).
 */
export const METRIC_CATALOG = {
  eventsReceived: {
    name: "secmon_events_received",
    kind: "counter",
    unit: "{event}",
    labels: ["event_name", "service"],
    description: "Security events accepted for evaluation, by event name and service",
  },
  authAttempts: {
    name: "secmon_auth_attempts",
    kind: "counter",
    unit: "{attempt}",
    labels: ["outcome", "service"],
    description: "Evaluated auth.login events by outcome (success, failure, other) and service",
  },
  eventsIgnored: {
    name: "secmon_events_ignored",
    kind: "counter",
    unit: "{record}",
    labels: [],
    description: "Log records that carry no event name (not security events), dropped",
  },
  eventsRejected: {
    name: "secmon_events_rejected",
    kind: "counter",
    unit: "{record}",
    labels: ["reason"],
    description: "Security event records rejected as malformed, by reason",
  },
  eventsEvaluated: {
    name: "secmon_events_evaluated",
    kind: "counter",
    unit: "{event}",
    labels: [],
    description: "Security events run through the rules; received = evaluated + ignored + rejected",
  },
  requests: {
    name: "secmon_receiver_requests",
    kind: "counter",
    unit: "{request}",
    labels: ["transport", "outcome"],
    description:
      "OTLP export requests by transport (grpc, http) and outcome (ok, partial, invalid, too_large, unauthenticated, unavailable)",
  },
  ingestInFlight: {
    name: "secmon_ingest_in_flight_events",
    kind: "updowncounter",
    unit: "{event}",
    labels: [],
    description: "Events received and not yet fully evaluated",
  },
  ruleSkipped: {
    name: "secmon_rule_skipped_events",
    kind: "counter",
    unit: "{event}",
    labels: ["rule", "reason"],
    description: "Events a rule matched but could not count (reason: missing_group, late)",
  },
  ruleEvaluation: {
    name: "secmon_rule_evaluation_seconds",
    kind: "histogram",
    unit: "s",
    labels: [],
    description: "Time to evaluate one received batch against every rule, store round trips included",
  },
  alerts: {
    name: "secmon_alerts",
    kind: "counter",
    unit: "{alert}",
    labels: ["rule", "severity", "outcome"],
    description: "Alert changes from firings by rule, severity and outcome (created, updated)",
  },
  alertsOpen: {
    name: "secmon_alerts_open",
    kind: "gauge",
    unit: "{alert}",
    labels: ["severity"],
    description: "Alerts whose status is new or investigating, by severity",
  },
  detectionLatency: {
    name: "secmon_detection_latency_seconds",
    kind: "histogram",
    unit: "s",
    labels: ["rule"],
    description: "From the triggering event's time to the alert",
  },
  alertLatency: {
    name: "secmon_alert_latency_seconds",
    kind: "histogram",
    unit: "s",
    labels: ["rule"],
    description: "From receipt of the triggering batch to the alert",
  },
  stateGroups: {
    name: "secmon_state_groups",
    kind: "gauge",
    unit: "{group}",
    labels: ["rule"],
    description: "Groups tracked in the window state, by rule",
  },
  stateEvictions: {
    name: "secmon_state_evictions",
    kind: "counter",
    unit: "{group}",
    labels: ["rule"],
    description: "Groups evicted (least recently used) because a rule reached its cap on tracked groups",
  },
  storeErrors: {
    name: "secmon_store_errors",
    kind: "counter",
    unit: "{error}",
    labels: ["store", "operation"],
    description: "Failed state store operations by store (windows, alerts, outbox) and operation",
  },
  sinkDeliveries: {
    name: "secmon_sink_deliveries",
    kind: "counter",
    unit: "{delivery}",
    labels: ["sink", "outcome"],
    description:
      "Alert deliveries by sink and outcome: attempts that succeeded (success), failed and will be retried (retry) or failed for good (failed); deliveries that became dead letters (dead_letter) or were merged into a pending update of the same alert (coalesced) or ignored as one the outbox already held (duplicate) or as an update older than one it already took for the alert (superseded) or dropped because the outbox refused them past the in-memory bound (dropped); failed periodic Alertmanager re-sends (resend_failed)",
  },
  sinkAttemptDuration: {
    name: "secmon_sink_attempt_seconds",
    kind: "histogram",
    unit: "s",
    labels: ["sink"],
    description: "Duration of one delivery attempt (one request, or one message for a batch), by sink",
  },
  sinkQueueDepth: {
    name: "secmon_sink_queue_depth",
    kind: "gauge",
    unit: "{delivery}",
    labels: ["sink"],
    description: "Deliveries in the outbox (waiting, in flight or backing off), by sink",
  },
  sinkOldestAge: {
    name: "secmon_sink_oldest_undelivered_seconds",
    kind: "gauge",
    unit: "s",
    labels: ["sink"],
    description: "Age of the oldest undelivered alert change, by sink",
  },
  sinkDeadLetters: {
    name: "secmon_sink_dead_letters",
    kind: "gauge",
    unit: "{delivery}",
    labels: ["sink"],
    description: "Deliveries kept as dead letters, by sink",
  },
} as const satisfies Record<string, MetricSpec>;

export interface MetricSpec {
  readonly name: string;
  readonly kind: "counter" | "updowncounter" | "histogram" | "gauge";
  readonly unit: string;
  readonly labels: readonly string[];
  readonly description: string;
}

type Catalog = typeof METRIC_CATALOG;
type InstrumentOf<K extends MetricSpec["kind"]> = K extends "counter"
  ? Counter<MetricAttributes>
  : K extends "updowncounter"
    ? UpDownCounter<MetricAttributes>
    : K extends "histogram"
      ? Histogram<MetricAttributes>
      : ObservableGauge<MetricAttributes>;

/** One instrument per catalog entry. Gauges are observable: register callbacks on them. */
export type Metrics = { readonly [K in keyof Catalog]: InstrumentOf<Catalog[K]["kind"]> };

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createMetrics(meter: Meter): Metrics {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(METRIC_CATALOG) as [string, MetricSpec][]) {
    const opts = { description: spec.description, unit: spec.unit };
    switch (spec.kind) {
      case "counter":
        out[key] = meter.createCounter(spec.name, opts);
        break;
      case "updowncounter":
        out[key] = meter.createUpDownCounter(spec.name, opts);
        break;
      case "histogram":
        out[key] = meter.createHistogram(spec.name, {
          ...opts,
          advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
        });
        break;
      case "gauge":
        out[key] = meter.createObservableGauge(spec.name, opts);
        break;
    }
  }
  return out as Metrics;
}
