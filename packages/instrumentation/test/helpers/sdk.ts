import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { createSecurityEvents } from "../../src/events.ts";
import type { SecurityEvents, SecurityEventsOptions } from "../../src/types.ts";

/** The least input each method accepts as a valid call (its required fields, spec values). */
export const MINIMAL_INPUTS: Readonly<Record<keyof SecurityEvents, Readonly<Record<string, unknown>>>> = {
  loginSuccess: {},
  loginFailure: { reason: "other" },
  logout: {},
  mfa: { outcome: "success", method: "totp" },
  passwordChange: { outcome: "success" },
  passwordReset: { stage: "requested" },
  accountLocked: { reason: "admin" },
  accountChange: { changeType: "created" },
  authzDecision: { decision: "allow" },
  inputValidationFailure: { rule: "xss" },
  dataAccess: { resource: "r", operation: "read" },
  apiRequest: { method: "GET", path: "/", durationSeconds: 0.1, statusCode: 200 },
};

/** A 32-character secret used by the tests. */
export const TEST_SECRET = "test-secret-0123456789abcdef0123";

export interface MemoryLogs {
  readonly provider: LoggerProvider;
  readonly exporter: InMemoryLogRecordExporter;
  readonly events: SecurityEvents;
  /** Finished records, optionally only those of one event name. */
  records(eventName?: string): ReadableLogRecord[];
  shutdown(): Promise<void>;
}

/** A real SDK pipeline (LoggerProvider → SimpleLogRecordProcessor → InMemoryLogRecordExporter). */
export function memoryLogs(options: SecurityEventsOptions = {}): MemoryLogs {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": "test-service" }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const events = createSecurityEvents({
    hashSecret: TEST_SECRET,
    environment: "production",
    loggerProvider: provider,
    ...options,
  });
  return {
    provider,
    exporter,
    events,
    records: (eventName) =>
      exporter.getFinishedLogRecords().filter((r) => eventName === undefined || r.eventName === eventName),
    shutdown: () => provider.shutdown(),
  };
}

/** Everything of a record an exporter could send, as one string (body, attributes, resource, scope). */
export function serializeRecord(record: ReadableLogRecord): string {
  return JSON.stringify({
    eventName: record.eventName,
    body: record.body,
    severityText: record.severityText,
    attributes: record.attributes,
    resource: record.resource.attributes,
    scope: record.instrumentationScope,
  });
}
