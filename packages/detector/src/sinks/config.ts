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
    .default(1000)
    .describe("Deliveries waiting for this sink; past it a new delivery becomes a dead letter (queue_full)"),
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

export const webhookSinkSchema = z
  .strictObject({
    type: z.literal("webhook").describe("Generic signed JSON webhook (alerts.md, Webhook delivery)"),
    name: sinkName,
    url: z.url({ protocol: /^https?$/ }).describe("Where to POST `{ type, alert }`"),
    secret: secretRefSchema.describe(
      "HMAC-SHA256 key for X-Secmon-Signature (`{ env: NAME }` or `{ file: PATH }`)",
    ),
    ...filterFields,
    events: eventsField(["alert.created", "alert.updated", "alert.status_changed"]),
    timeout_seconds: z.number().min(0.1).max(120).default(10).describe("Per-request timeout"),
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
    max_backoff_seconds: z
      .number()
      .min(0.01)
      .max(3600)
      .default(300)
      .describe("Longest wait between two tries"),
    max_concurrency: z.number().int().min(1).max(64).default(4).describe("Deliveries in flight to this sink"),
    max_dead_letters: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe("Dead letters kept for this sink; past it the oldest is dropped"),
  })
  .describe("Generic webhook sink");

/** One entry of `sinks`; the `type` discriminates, so new sink types are added here. */
export const sinkConfigSchema = z.discriminatedUnion("type", [consoleSinkSchema, webhookSinkSchema]);

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
export type SinksConfig = z.infer<typeof sinksSectionSchema>;
