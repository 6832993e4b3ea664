import { ALERT_SEVERITIES } from "@secmon/semconv";
import { isClosed, severityRank } from "../alerts/build.ts";
import type { AlertStore } from "../alerts/store.ts";
import type { Alert } from "../alerts/types.ts";
import { alertUrl, groupText, valueText } from "./format.ts";
import { postJson } from "./http.ts";
import type { AttemptResult, Delivery, Sink, SinkFilter } from "./sink.ts";

export interface AlertmanagerSinkOptions {
  readonly name: string;
  /** Base URL of Alertmanager (`http://alertmanager:9093`); alerts go to `<url>/api/v2/alerts`. */
  readonly url: string;
  /** Extra request headers, e.g. `authorization` (secrets, resolved). */
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
  readonly apiBaseUrl?: string;
  readonly clock?: () => number;
}

/** Labels set by the sink; group attributes never override them. */
const FIXED_LABELS = new Set(["alertname", "rule", "severity", "service", "group", "alert_id", "source"]);

/** A Prometheus label name for a group attribute: `client.address` → `client_address`. */
export function labelName(attribute: string): string {
  const name = attribute.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`;
}

/**
 * One alert in Alertmanager's `postableAlert` shape. Labels identify it (the alert id is one of
 * them, so two alerts of one rule and group stay apart); `endsAt` is set once it is closed.
 */
export function alertmanagerAlert(alert: Alert, apiBaseUrl?: string): Record<string, unknown> {
  const labels: Record<string, string> = {
    alertname: alert.rule,
    rule: alert.rule,
    severity: alert.severity,
    alert_id: alert.id,
    source: "secmon",
  };
  if (alert.services[0]) labels["service"] = alert.services[0];
  const group = groupText(alert);
  if (group) labels["group"] = group;
  for (const [k, v] of Object.entries(alert.group)) {
    const name = labelName(k);
    if (!FIXED_LABELS.has(name) && v !== "" && !(name in labels)) labels[name] = v;
  }
  const annotations: Record<string, string> = { title: alert.title, summary: alert.title };
  const value = valueText(alert);
  const description = [group && `group ${group}`, value && `value ${value}`].filter(Boolean).join("; ");
  if (description) annotations["description"] = description;
  if (alert.recommended_actions.length > 0) annotations["actions"] = alert.recommended_actions.join("\n");
  const link = alertUrl(apiBaseUrl, alert.id);
  return {
    labels,
    annotations,
    startsAt: alert.created_at,
    ...(isClosed(alert.status) ? { endsAt: alert.resolution?.at ?? alert.updated_at } : {}),
    ...(link ? { generatorURL: link } : {}),
  };
}

function endpoint(url: string): string {
  return `${url.replace(/\/+$/, "")}/api/v2/alerts`;
}

/**
 * Prometheus Alertmanager `POST /api/v2/alerts`: every change posts the alert's current state;
 * resolved and false-positive alerts carry `endsAt`. Alertmanager ends an alert without
 * `endsAt` after its resolve_timeout, so AlertmanagerResender posts the open ones again
 * periodically.
 */
export class AlertmanagerSink implements Sink {
  readonly type = "alertmanager";
  readonly name: string;
  readonly #o: AlertmanagerSinkOptions;
  readonly #clock: () => number;

  constructor(options: AlertmanagerSinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    return this.post([delivery.alert], signal);
  }

  /** Posts alerts in one request. */
  post(alerts: readonly Alert[], signal: AbortSignal): Promise<AttemptResult> {
    return postJson({
      url: endpoint(this.#o.url),
      headers: { "user-agent": "secmon-detector", ...this.#o.headers },
      body: JSON.stringify(alerts.map((a) => alertmanagerAlert(a, this.#o.apiBaseUrl))),
      timeoutMs: this.#o.timeoutMs,
      signal,
      now: this.#clock,
    });
  }
}

/** Runs `fn` every `ms` until the returned function is called. Tests pass one they drive by hand. */
export type Every = (fn: () => void, ms: number) => () => void;

export const realEvery: Every = (fn, ms) => {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface AlertmanagerResenderOptions {
  readonly sink: AlertmanagerSink;
  readonly filter: SinkFilter;
  readonly store: AlertStore;
  readonly intervalMs: number;
  readonly every?: Every;
  /** Alerts per request. Default 100. */
  readonly chunk?: number;
  /** A failed re-send (the next one repeats it); counted by the caller. */
  readonly onFailure?: (detail: string) => void;
}

/**
 * Keeps open alerts alive in Alertmanager: every interval, posts every open alert (new,
 * investigating) that the sink's filter accepts, read page by page from the AlertStore. A
 * failed round is simply repeated at the next interval; it never touches the outbox.
 */
export class AlertmanagerResender {
  readonly #o: AlertmanagerResenderOptions;
  readonly #abort = new AbortController();
  #cancel: (() => void) | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(options: AlertmanagerResenderOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    if (this.#cancel || this.#abort.signal.aborted) return;
    this.#cancel = (this.#o.every ?? realEvery)(() => {
      this.#running = this.#running.then(async () => void (await this.tick()));
    }, this.#o.intervalMs);
  }

  /** Cancels the timer and lets a running round finish (each request is bounded by the sink's timeout). */
  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#running;
    this.#abort.abort();
  }

  /** One round: returns how many alerts were posted successfully. */
  async tick(): Promise<number> {
    const { filter, store, sink } = this.#o;
    const severities = ALERT_SEVERITIES.filter((s) => severityRank(s) <= severityRank(filter.minSeverity));
    let posted = 0;
    let cursor: string | undefined;
    try {
      do {
        const page = await store.list({
          status: ["new", "investigating"],
          severity: severities,
          ...(filter.includeRules.length > 0 ? { rule: filter.includeRules } : {}),
          limit: this.#o.chunk ?? 100,
          ...(cursor !== undefined ? { cursor } : {}),
        });
        const alerts = page.alerts.filter((a) => !filter.excludeRules.includes(a.rule));
        if (alerts.length > 0 && !this.#abort.signal.aborted) {
          const result = await sink.post(alerts, this.#abort.signal);
          if (!result.ok) {
            this.#o.onFailure?.(result.detail);
            return posted;
          }
          posted += alerts.length;
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined && !this.#abort.signal.aborted);
    } catch (err) {
      this.#o.onFailure?.(err instanceof Error ? err.message : String(err));
    }
    return posted;
  }
}
