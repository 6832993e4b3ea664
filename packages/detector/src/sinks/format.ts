import type { AlertEventType } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";

/** Text helpers shared by the sinks that write for people. */

/** The alert in the HTTP API, or undefined without a base URL. */
export function alertUrl(apiBaseUrl: string | undefined, id: string): string | undefined {
  return apiBaseUrl ? `${apiBaseUrl.replace(/\/+$/, "")}/api/alerts/${encodeURIComponent(id)}` : undefined;
}

/** `client.address=203.0.113.7, user.name=…`, keys sorted: stable for labels and dedup. */
export function groupText(alert: Pick<Alert, "group">): string {
  return Object.keys(alert.group)
    .sort()
    .map((k) => `${k}=${alert.group[k]}`)
    .join(", ");
}

/** `12 (threshold 10, window 300 s)`, or undefined when the rule reports no value. */
export function valueText(alert: Pick<Alert, "value" | "threshold" | "window_seconds">): string | undefined {
  if (alert.value === undefined) return undefined;
  const extra: string[] = [];
  if (alert.threshold !== undefined) extra.push(`threshold ${alert.threshold}`);
  if (alert.window_seconds !== undefined) extra.push(`window ${alert.window_seconds} s`);
  return extra.length > 0 ? `${alert.value} (${extra.join(", ")})` : String(alert.value);
}

/** What happened, for a person: `new alert`, `alert updated`, `alert resolved` … */
export function changeText(type: AlertEventType, alert: Pick<Alert, "status">): string {
  switch (type) {
    case "alert.created":
      return "new alert";
    case "alert.updated":
      return "alert updated";
    case "alert.status_changed":
      return `alert ${alert.status.replace("_", " ")}`;
  }
}

/** Cuts `text` to at most `max` UTF-16 units, ending with `…` when cut (never inside a character). */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = "";
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return out + "…";
}
