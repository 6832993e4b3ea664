import type { AlertSeverity } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import { alertUrl, changeText, groupText, truncate, valueText } from "./format.ts";
import { postJson } from "./http.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

export interface SlackSinkOptions {
  readonly name: string;
  /** The incoming-webhook URL (a secret: it is the credential). */
  readonly webhookUrl: string;
  readonly timeoutMs: number;
  readonly apiBaseUrl?: string;
  readonly clock?: () => number;
}

/** Slack's limits (Block Kit reference): header text 150, section text 3000, field text 2000, 10 fields. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;

const SEVERITY_ICON: Record<AlertSeverity, string> = {
  critical: ":red_circle:",
  high: ":large_orange_circle:",
  medium: ":large_yellow_circle:",
  low: ":large_blue_circle:",
};

/** Slack's mrkdwn control characters; everything else is shown as written. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `<!date^…>` shows a time in the reader's time zone, with the ISO string as fallback. */
function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return slackEscape(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${slackEscape(iso)}>`;
}

/** The incoming-webhook message: Block Kit `blocks` plus a plain `text` fallback for notifications. */
export function slackMessage(
  delivery: Pick<Delivery, "type" | "alert">,
  apiBaseUrl?: string,
): Record<string, unknown> {
  const a: Alert = delivery.alert;
  const what = changeText(delivery.type, a);
  const fallback = truncate(
    `[${a.severity.toUpperCase()}] ${a.title} (${what}, rule ${a.rule})`,
    SECTION_MAX,
  );
  const field = (label: string, value: string) => ({
    type: "mrkdwn",
    text: truncate(`*${label}*\n${value}`, FIELD_MAX),
  });
  const fields = [
    field("Severity", a.severity),
    field("Status", a.assignee ? `${a.status} (${slackEscape(a.assignee)})` : a.status),
    field("Group", slackEscape(groupText(a) || "(none)")),
    field("Value", slackEscape(valueText(a) ?? "n/a")),
    field("First seen", slackDate(a.first_seen)),
    field("Last seen", slackDate(a.last_seen)),
    field("Firings", String(a.count)),
  ];
  if (a.services.length > 0) fields.push(field("Services", slackEscape(a.services.join(", "))));
  const blocks: Record<string, unknown>[] = [
    {
      type: "header",
      text: { type: "plain_text", text: truncate(`${a.severity.toUpperCase()}: ${a.title}`, HEADER_MAX) },
    },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: truncate(
          `${SEVERITY_ICON[a.severity]} *${what}* from rule \`${slackEscape(a.rule)}\``,
          SECTION_MAX,
        ),
      },
      fields: fields.slice(0, FIELDS_MAX),
    },
  ];
  if (a.recommended_actions.length > 0) {
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: truncate(
          `*Recommended actions*\n${a.recommended_actions.map((x) => `• ${slackEscape(x)}`).join("\n")}`,
          SECTION_MAX,
        ),
      },
    });
  }
  if (a.resolution) {
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: truncate(
          `*Resolution* by ${slackEscape(a.resolution.by)}: ${slackEscape(a.resolution.note || "(no note)")}`,
          SECTION_MAX,
        ),
      },
    });
  }
  const link = alertUrl(apiBaseUrl, a.id);
  blocks.push({
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: truncate(`${a.id}${link ? ` · <${link}|Open in secmon>` : ""}`, SECTION_MAX),
      },
    ],
  });
  return { text: fallback, blocks };
}

/**
 * Slack incoming webhooks: one message per alert change. Slack answers 200 `ok`; 429 with
 * Retry-After and 5xx are retried, other 4xx (invalid_payload, no_service, channel_is_archived)
 * are final.
 */
export class SlackSink implements Sink {
  readonly type = "slack";
  readonly name: string;
  readonly #o: SlackSinkOptions;
  readonly #clock: () => number;

  constructor(options: SlackSinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    return postJson({
      url: this.#o.webhookUrl,
      headers: { "user-agent": "secmon-detector" },
      body: JSON.stringify(slackMessage(delivery, this.#o.apiBaseUrl)),
      timeoutMs: this.#o.timeoutMs,
      signal,
      now: this.#clock,
    });
  }
}
