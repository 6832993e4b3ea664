import { z } from "zod";
import type { Attributes, SecurityEvent } from "../event.ts";
import { explainIssues } from "./diagnostics.ts";

/**
 * Our own simple JSON-lines form of a security event, used by golden cases and accepted by
 * `secmon-detector replay` next to OTLP/JSON:
 * `{"time": "2026-11-21T10:00:00Z", "event_name": "auth.login", "service": "checkout", "attributes": {…}}`.
 */
const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const eventLineSchema = z.strictObject({
  time: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), { message: "must be an ISO-8601 time" })
    .describe("Event time, ISO-8601"),
  event_name: z.string().min(1).describe("The event name"),
  service: z.string().min(1).default("unknown_service").describe("service.name"),
  attributes: z
    .record(z.string(), z.union([scalar, z.array(scalar)]))
    .default({})
    .describe("The record's attributes"),
  resource: z.record(z.string(), z.union([scalar, z.array(scalar)])).default({}),
  trace_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  span_id: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional(),
  severity_text: z.string().optional(),
  body: z.string().optional(),
  /** Golden cases: consecutive lines with the same batch value are evaluated as one batch. */
  batch: z.union([z.string(), z.number()]).optional(),
});

export type EventLine = z.infer<typeof eventLineSchema>;

/** Whether a parsed JSON line looks like our event form (rather than OTLP/JSON). */
export function isEventLine(value: unknown): boolean {
  return typeof value === "object" && value !== null && "event_name" in value;
}

/** A parsed event line, or the reason it is not one. */
export function parseEventLine(value: unknown): { event: SecurityEvent; batch?: string } | { error: string } {
  const r = eventLineSchema.safeParse(value);
  if (!r.success) {
    return {
      error: explainIssues(r.error.issues, [], value)
        .map((p) => {
          const where = [...p.path, ...(p.key ? [p.key] : [])].join(".");
          return where ? `${where}: ${p.message}` : p.message;
        })
        .join("; "),
    };
  }
  const l = r.data;
  const event: SecurityEvent = {
    name: l.event_name,
    time: Date.parse(l.time),
    service: l.service,
    attributes: l.attributes as Attributes,
    resource: l.resource as Attributes,
    ...(l.trace_id !== undefined ? { traceId: l.trace_id } : {}),
    ...(l.span_id !== undefined ? { spanId: l.span_id } : {}),
    ...(l.severity_text !== undefined ? { severityText: l.severity_text } : {}),
    ...(l.body !== undefined ? { body: l.body } : {}),
  };
  return l.batch === undefined ? { event } : { event, batch: String(l.batch) };
}
