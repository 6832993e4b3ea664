import type { AlertSeverity } from "@secmon/semconv";
import { isClosed } from "../alerts/build.ts";
import type { Alert } from "../alerts/types.ts";
import { alertUrl, groupText, truncate, valueText } from "./format.ts";
import { postJson } from "./http.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutySinkOptions {
  readonly name: string;
  /** The Events API v2 integration (routing) key; never logged. */
  readonly routingKey: string;
  readonly url?: string;
  /** `payload.source`: where the problem is; default the alert's first service, else "secmon". */
  readonly source?: string;
  readonly timeoutMs: number;
  readonly apiBaseUrl?: string;
  readonly clock?: () => number;
}

export type PagerDutyAction = "trigger" | "acknowledge" | "resolve";

/** Our severities on PagerDuty's four. */
export const PAGERDUTY_SEVERITY: Record<AlertSeverity, "critical" | "error" | "warning" | "info"> = {
  critical: "critical",
  high: "error",
  medium: "warning",
  low: "info",
};

/** new → trigger (also for updates, which PagerDuty deduplicates), investigating → acknowledge, closed → resolve. */
export function pagerDutyAction(alert: Pick<Alert, "status">): PagerDutyAction {
  if (isClosed(alert.status)) return "resolve";
  return alert.status === "investigating" ? "acknowledge" : "trigger";
}

/** The Events API v2 enqueue body; `dedup_key` is the alert id, so every change lands on one PagerDuty alert. */
export function pagerDutyEvent(
  delivery: Pick<Delivery, "alert">,
  o: Pick<PagerDutySinkOptions, "routingKey" | "source" | "apiBaseUrl">,
): Record<string, unknown> {
  const a = delivery.alert;
  const action = pagerDutyAction(a);
  const event: Record<string, unknown> = {
    routing_key: o.routingKey,
    event_action: action,
    dedup_key: a.id,
  };
  if (action !== "trigger") return event;
  const link = alertUrl(o.apiBaseUrl, a.id);
  return {
    ...event,
    payload: {
      summary: truncate(`[${a.severity.toUpperCase()}] ${a.title}`, 1024),
      source: o.source ?? a.services[0] ?? "secmon",
      severity: PAGERDUTY_SEVERITY[a.severity],
      timestamp: a.created_at,
      component: a.services[0] ?? "secmon",
      group: groupText(a) || a.rule,
      class: a.rule,
      custom_details: {
        rule: a.rule,
        group: a.group,
        value: valueText(a) ?? null,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        count: a.count,
        services: a.services,
        indicators: a.indicators,
        recommended_actions: a.recommended_actions,
        responses: a.responses,
        ...(link ? { alert_url: link } : {}),
      },
    },
    client: "secmon",
    ...(link ? { client_url: link, links: [{ href: link, text: "Alert in secmon" }] } : {}),
  };
}

/**
 * PagerDuty Events API v2: `trigger` on creation (and on updates while open), `acknowledge`
 * when someone investigates, `resolve` when the alert is resolved or a false positive. 202 is
 * success; 429 and 5xx are retried; 400 (invalid event) is final.
 */
export class PagerDutySink implements Sink {
  readonly type = "pagerduty";
  readonly name: string;
  readonly #o: PagerDutySinkOptions;
  readonly #clock: () => number;

  constructor(options: PagerDutySinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    return postJson({
      url: this.#o.url ?? PAGERDUTY_EVENTS_URL,
      headers: { "user-agent": "secmon-detector" },
      body: JSON.stringify(pagerDutyEvent(delivery, this.#o)),
      timeoutMs: this.#o.timeoutMs,
      signal,
      now: this.#clock,
    });
  }
}
