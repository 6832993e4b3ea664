import { z } from "zod";

/**
 * Config sections owned by the wiring itself (the other sections live beside the components
 * they configure and are composed in schema.ts).
 */

export const ingestSectionSchema = z
  .strictObject({
    max_in_flight_events: z
      .number()
      .int()
      .min(1000)
      .max(10_000_000)
      .default(200_000)
      .describe(
        "Events accepted but not yet evaluated; past this the receivers answer UNAVAILABLE / 503 so that senders retry",
      ),
  })
  .prefault({})
  .describe("Admission control between the receivers and the rules");

const endpointPattern = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
export const endpointSchema = z
  .string()
  .regex(endpointPattern, "must be host:port (IPv6 hosts in brackets)")
  .describe("host:port to listen on");

export const metricsSectionSchema = z
  .strictObject({
    prometheus: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Serve Prometheus metrics"),
        endpoint: endpointSchema
          // the exporter takes port 0 for "its default" (9464), not for a free port
          .refine((e) => !e.endsWith(":0"), "port 0 is not supported here: choose a port")
          .default("127.0.0.1:9464")
          .describe("Where to serve /metrics"),
      })
      .prefault({})
      .describe("Prometheus pull endpoint (@opentelemetry/exporter-prometheus)"),
    otlp: z
      .strictObject({
        endpoint: z.url().describe("OTLP/HTTP metrics URL, e.g. http://collector:4318/v1/metrics"),
        interval_seconds: z.number().min(1).max(3600).default(15).describe("Push interval"),
      })
      .optional()
      .describe("Push metrics over OTLP/HTTP as well (off unless set)"),
  })
  .prefault({})
  .describe("The detector's own metrics");

export const logSectionSchema = z
  .strictObject({
    level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Least severe level written"),
    format: z.enum(["text", "json"]).default("text").describe("Log line format on stderr"),
  })
  .prefault({})
  .describe("The detector's own log on stderr");
