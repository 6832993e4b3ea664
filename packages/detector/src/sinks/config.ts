import { ALERT_EVENT_TYPES, ALERT_SEVERITIES } from "@secmon/semconv";
import { z } from "zod";
import { secretRefSchema } from "../config/secret.ts";

const sinkName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1–64 of a-z, 0-9, _ and -, starting with a letter or digit")
  .describe("Unique name of the sink (metric label, dead-letter owner)");

/** Which alert changes a sink receives. Shared by every sink type. */
const filterFields = {
  min_severity: z
    .enum(ALERT_SEVERITIES)
    .default("low")
    .describe("Least severe alert delivered (critical > high > medium > low)"),
  rules: z
    .strictObject({
      include: z
        .array(z.string().min(1))
        .max(1000)
        .default([])
        .describe("Rule ids delivered; empty means every rule"),
      exclude: z.array(z.string().min(1)).max(1000).default([]).describe("Rule ids never delivered"),
    })
    .prefault({})
    .describe("Rule filter"),
  queue_capacity: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(10_000)
    .describe(
      "Deliveries the outbox holds for this sink (waiting, in flight or backing off); past it a new delivery becomes a dead letter (queue_full)",
    ),
};

const eventsField = (defaults: readonly (typeof ALERT_EVENT_TYPES)[number][]) =>
  z
    .array(z.enum(ALERT_EVENT_TYPES))
    .min(1)
    .default([...defaults])
    .describe("Alert change types delivered (alert.created, alert.updated, alert.status_changed)");

export const consoleSinkSchema = z
  .strictObject({
    type: z.literal("console").describe("Readable summaries on stdout"),
    name: sinkName.default("console"),
    ...filterFields,
    events: eventsField(["alert.created", "alert.status_changed"]),
    color: z
      .enum(["auto", "always", "never"])
      .default("auto")
      .describe("ANSI colours: auto uses them only when stdout is a terminal"),
  })
  .describe("Console sink (the default)");

/** Timeout, retries, concurrency and dead letters: shared by every sink that talks to a receiver. */
const deliveryFields = (timeoutDefault: number) => ({
  timeout_seconds: z.number().min(0.1).max(120).default(timeoutDefault).describe("Per-attempt timeout"),
  max_retry_seconds: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .default(3600)
    .describe(
      "How long a delivery is retried (network errors, timeouts, 408, 429, 5xx) before it becomes a dead letter",
    ),
  initial_backoff_seconds: z
    .number()
    .min(0.01)
    .max(3600)
    .default(1)
    .describe("First retry waits up to this (exponential backoff with full jitter)"),
  max_backoff_seconds: z.number().min(0.01).max(3600).default(300).describe("Longest wait between two tries"),
  max_concurrency: z.number().int().min(1).max(64).default(4).describe("Deliveries in flight to this sink"),
  max_dead_letters: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe("Dead letters kept for this sink; past it the oldest is dropped"),
});

const httpUrl = z.url({ protocol: /^https?$/ });

export const webhookSinkSchema = z
  .strictObject({
    type: z.literal("webhook").describe("Generic signed JSON webhook (alerts.md, Webhook delivery)"),
    name: sinkName,
    url: httpUrl.describe("Where to POST `{ type, alert }`"),
    secret: secretRefSchema.describe(
      "HMAC-SHA256 key for X-Secmon-Signature (`{ env: NAME }` or `{ file: PATH }`)",
    ),
    ...filterFields,
    events: eventsField(["alert.created", "alert.updated", "alert.status_changed"]),
    ...deliveryFields(10),
  })
  .describe("Generic webhook sink");

export const slackSinkSchema = z
  .strictObject({
    type: z.literal("slack").describe("Slack incoming webhook: Block Kit message with a text fallback"),
    name: sinkName,
    webhook_url: secretRefSchema.describe(
      "The incoming-webhook URL, a credential (`{ env: NAME }` or `{ file: PATH }`); https://hooks.slack.com/services/…",
    ),
    ...filterFields,
    events: eventsField(["alert.created", "alert.status_changed"]),
    ...deliveryFields(10),
  })
  .describe("Slack sink");

export const pagerDutySinkSchema = z
  .strictObject({
    type: z
      .literal("pagerduty")
      .describe(
        "PagerDuty Events API v2: trigger on creation, acknowledge on investigating, resolve when closed",
      ),
    name: sinkName,
    routing_key: secretRefSchema.describe(
      "Integration (routing) key of the Events API v2 integration (`{ env: NAME }` or `{ file: PATH }`)",
    ),
    url: httpUrl
      .default("https://events.pagerduty.com/v2/enqueue")
      .describe("Events API v2 enqueue endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)"),
    source: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe("payload.source; default the alert's first service"),
    ...filterFields,
    min_severity: z
      .enum(ALERT_SEVERITIES)
      .default("critical")
      .describe("Least severe alert delivered (critical > high > medium > low); paging defaults to critical"),
    events: eventsField(["alert.created", "alert.status_changed"]),
    ...deliveryFields(10),
  })
  .describe("PagerDuty sink");

export const alertmanagerSinkSchema = z
  .strictObject({
    type: z.literal("alertmanager").describe("Prometheus Alertmanager POST /api/v2/alerts"),
    name: sinkName,
    url: httpUrl.describe("Base URL of Alertmanager, e.g. http://alertmanager:9093"),
    bearer_token: secretRefSchema
      .optional()
      .describe("Sent as `Authorization: Bearer …` (a proxy in front of Alertmanager)"),
    basic_auth: z
      .strictObject({
        username: z.string().min(1).describe("User name"),
        password: secretRefSchema.describe("Password (`{ env: NAME }` or `{ file: PATH }`)"),
      })
      .optional()
      .describe("HTTP basic authentication (a proxy in front of Alertmanager)"),
    resend_interval_seconds: z
      .number()
      .min(5)
      .max(3600)
      .default(60)
      .describe(
        "Open alerts are posted again this often, so that Alertmanager (resolve_timeout) does not end them; keep it well below resolve_timeout",
      ),
    ...filterFields,
    events: eventsField(["alert.created", "alert.updated", "alert.status_changed"]),
    ...deliveryFields(10),
  })
  .refine((c) => !(c.bearer_token && c.basic_auth), {
    message: "set bearer_token or basic_auth, not both",
    path: ["basic_auth"],
  })
  .describe("Alertmanager sink");

export const emailSinkSchema = z
  .strictObject({
    type: z.literal("email").describe("E-mail over SMTP with batching (one message per batch window)"),
    name: sinkName,
    smtp: z
      .strictObject({
        host: z.string().min(1).describe("SMTP server"),
        port: z.number().int().min(1).max(65_535).default(587).describe("587 for STARTTLS, 465 for TLS"),
        security: z
          .enum(["starttls", "tls"])
          .default("starttls")
          .describe(
            "starttls: upgrade with STARTTLS (required, never plain text); tls: TLS from the first byte",
          ),
        username: secretRefSchema.optional().describe("Login user (`{ env: NAME }` or `{ file: PATH }`)"),
        password: secretRefSchema.optional().describe("Login password (`{ env: NAME }` or `{ file: PATH }`)"),
        ca_file: z
          .string()
          .min(1)
          .optional()
          .describe("PEM file of certificates to trust besides the system's (private CA)"),
      })
      .refine((s) => (s.username === undefined) === (s.password === undefined), {
        message: "set both username and password, or neither",
        path: ["password"],
      })
      .describe("The SMTP server"),
    from: z.email().describe("Sender address"),
    to: z.array(z.email()).min(1).max(100).describe("Recipients; each gets one message per batch"),
    subject_prefix: z.string().max(50).default("[secmon]").describe("Start of every subject"),
    batch_seconds: z
      .number()
      .min(1)
      .max(86_400)
      .default(60)
      .describe(
        "At most one message per this many seconds: the first change after a quiet period goes at once, the rest of the window's changes follow together",
      ),
    max_alerts_per_message: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(100)
      .describe("Most alert changes in one message; the rest wait for the next window"),
    ...filterFields,
    events: eventsField(["alert.created", "alert.status_changed"]),
    ...deliveryFields(30),
    max_concurrency: z.literal(1).default(1).describe("One message at a time (batches are sequential)"),
  })
  .describe("E-mail sink");

export const otlpSinkSchema = z
  .strictObject({
    type: z
      .literal("otlp")
      .describe("Every alert change as an OpenTelemetry log record (event secmon.alert) to a Collector"),
    name: sinkName,
    endpoint: httpUrl.describe(
      "grpc: http(s)://collector:4317; http/protobuf and http/json: the logs URL, e.g. http://collector:4318/v1/logs",
    ),
    protocol: z
      .enum(["grpc", "http/protobuf", "http/json"])
      .default("http/protobuf")
      .describe("OTLP transport"),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "must be a header name"), secretRefSchema)
      .default({})
      .describe("Request headers (gRPC metadata), each a secret, e.g. `authorization: { env: OTLP_TOKEN }`"),
    service_name: z
      .string()
      .min(1)
      .default("secmon-detector")
      .describe("service.name of the records' resource"),
    rule_reference_url: httpUrl
      .optional()
      .describe("security_rule.reference: a URL with `{rule}` replaced by the rule id"),
    ...filterFields,
    events: eventsField(["alert.created", "alert.updated", "alert.status_changed"]),
    ...deliveryFields(10),
  })
  .describe("OTLP log sink");

/** One entry of `sinks`; the `type` discriminates, so new sink types are added here. */
export const sinkConfigSchema = z.discriminatedUnion("type", [
  consoleSinkSchema,
  webhookSinkSchema,
  slackSinkSchema,
  pagerDutySinkSchema,
  alertmanagerSinkSchema,
  emailSinkSchema,
  otlpSinkSchema,
]);

export const sinksSectionSchema = z
  .array(sinkConfigSchema)
  .max(50)
  .superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    sinks.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate sink name ${s.name}` });
      }
      seen.add(s.name);
    });
  })
  .prefault([{ type: "console" }])
  .describe("Where alert changes are delivered; default: the console sink only");

export type SinkConfig = z.infer<typeof sinkConfigSchema>;
export type ConsoleSinkConfig = z.infer<typeof consoleSinkSchema>;
export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>;
export type SlackSinkConfig = z.infer<typeof slackSinkSchema>;
export type PagerDutySinkConfig = z.infer<typeof pagerDutySinkSchema>;
export type AlertmanagerSinkConfig = z.infer<typeof alertmanagerSinkSchema>;
export type EmailSinkConfig = z.infer<typeof emailSinkSchema>;
export type OtlpSinkConfig = z.infer<typeof otlpSinkSchema>;
export type SinksConfig = z.infer<typeof sinksSectionSchema>;
