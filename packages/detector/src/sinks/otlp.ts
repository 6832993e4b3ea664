import { basename, extname } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { SeverityNumber, type Attributes } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as JsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type ReadWriteLogRecord,
} from "@opentelemetry/sdk-logs";
import { ALERT_LOG_EVENT_NAME, type AlertSeverity } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import type { CompiledRule } from "../engine/types.ts";
import { alertUrl, changeText, groupText, valueText } from "./format.ts";
import type { AttemptResult, Delivery, Sink } from "./sink.ts";

export type OtlpProtocol = "grpc" | "http/protobuf" | "http/json";

/** What the rule pack knows about a rule, for OpenTelemetry's `security_rule.*` attributes. */
export interface RuleInfo {
  readonly description?: string;
  readonly category?: string;
  readonly reference?: string;
  readonly ruleset?: string;
  readonly version?: string;
}

export type RuleInfoLookup = (ruleId: string) => RuleInfo | undefined;

/**
 * Rule facts from the loaded rules: the description, the first topic tag (after the maturity)
 * as category, the rule file's name as ruleset, and `reference` from a URL template with `{rule}`.
 */
export function ruleInfoFromRules(rules: readonly CompiledRule[], referenceUrl?: string): RuleInfoLookup {
  const byId = new Map<string, RuleInfo>();
  for (const r of rules) {
    const file = r.source.replace(/:\d+:\d+$/, "");
    const category = r.spec.tags[1];
    byId.set(r.id, {
      description: r.spec.description.trim(),
      ...(category ? { category } : {}),
      ...(file ? { ruleset: basename(file, extname(file)) } : {}),
      ...(referenceUrl ? { reference: referenceUrl.replace("{rule}", encodeURIComponent(r.id)) } : {}),
    });
  }
  return (id) => byId.get(id);
}

/**
 * OpenTelemetry semantic-convention keys (registry `security_rule.*`, development status, as in
 * @opentelemetry/semantic-conventions 1.45 incubating). Kept here, as OTel advises for
 * incubating names, so that a rename upstream is a deliberate change here.
 */
export const SECURITY_RULE = {
  NAME: "security_rule.name",
  UUID: "security_rule.uuid",
  CATEGORY: "security_rule.category",
  DESCRIPTION: "security_rule.description",
  REFERENCE: "security_rule.reference",
  RULESET_NAME: "security_rule.ruleset.name",
  VERSION: "security_rule.version",
} as const;

/** Prefix of the alert's own attributes on the log record. */
export const ALERT_ATTR_PREFIX = "secmon.alert.";

const SEVERITY_NUMBER: Record<AlertSeverity, SeverityNumber> = {
  critical: SeverityNumber.FATAL,
  high: SeverityNumber.ERROR,
  medium: SeverityNumber.WARN,
  low: SeverityNumber.INFO,
};

/** A short sentence for the record body. */
export function alertSentence(delivery: Pick<Delivery, "type" | "alert">): string {
  const a = delivery.alert;
  const what = changeText(delivery.type, a);
  return `${a.severity.toUpperCase()} ${what} from rule ${a.rule}: ${a.title}`;
}

/** The alert flattened into log attributes (`secmon.alert.*`) plus `security_rule.*`. */
export function alertAttributes(
  delivery: Pick<Delivery, "type" | "alert" | "id">,
  o: { readonly ruleInfo?: RuleInfoLookup; readonly apiBaseUrl?: string } = {},
): Attributes {
  const a: Alert = delivery.alert;
  const p = ALERT_ATTR_PREFIX;
  const attrs: Attributes = {
    [`${p}id`]: a.id,
    [`${p}change`]: delivery.type,
    [`${p}delivery_id`]: delivery.id,
    [`${p}rule`]: a.rule,
    [`${p}title`]: a.title,
    [`${p}severity`]: a.severity,
    [`${p}status`]: a.status,
    [`${p}group`]: groupText(a),
    [`${p}first_seen`]: a.first_seen,
    [`${p}last_seen`]: a.last_seen,
    [`${p}created_at`]: a.created_at,
    [`${p}updated_at`]: a.updated_at,
    [`${p}count`]: a.count,
    [`${p}services`]: [...a.services],
    [`${p}trace_ids`]: [...a.trace_ids],
    [`${p}recommended_actions`]: [...a.recommended_actions],
    [`${p}indicators`]: a.indicators.map((i) => `${i.type}:${i.value}`),
    [`${p}responses`]: a.responses.map((r) => `${r.action} ${r.target}${r.until ? ` until ${r.until}` : ""}`),
  };
  for (const [k, v] of Object.entries(a.group)) attrs[`${p}group.${k}`] = v;
  if (a.value !== undefined) attrs[`${p}value`] = a.value;
  if (a.threshold !== undefined) attrs[`${p}threshold`] = a.threshold;
  if (a.window_seconds !== undefined) attrs[`${p}window_seconds`] = a.window_seconds;
  const value = valueText(a);
  if (value !== undefined) attrs[`${p}value_text`] = value;
  if (a.assignee !== undefined) attrs[`${p}assignee`] = a.assignee;
  if (a.resolution) {
    attrs[`${p}resolution.at`] = a.resolution.at;
    attrs[`${p}resolution.by`] = a.resolution.by;
    attrs[`${p}resolution.note`] = a.resolution.note;
  }
  const link = alertUrl(o.apiBaseUrl, a.id);
  if (link) attrs[`${p}url`] = link;
  const info = o.ruleInfo?.(a.rule);
  attrs[SECURITY_RULE.NAME] = a.rule;
  attrs[SECURITY_RULE.UUID] = a.rule;
  attrs[SECURITY_RULE.RULESET_NAME] = info?.ruleset ?? "secmon";
  if (info?.category) attrs[SECURITY_RULE.CATEGORY] = info.category;
  if (info?.description) attrs[SECURITY_RULE.DESCRIPTION] = info.description;
  if (info?.reference) attrs[SECURITY_RULE.REFERENCE] = info.reference;
  if (info?.version) attrs[SECURITY_RULE.VERSION] = info.version;
  return attrs;
}

export interface OtlpSinkOptions {
  readonly name: string;
  /** gRPC: `http(s)://host:4317`; HTTP: the full logs URL, e.g. `http://collector:4318/v1/logs`. */
  readonly endpoint: string;
  readonly protocol: OtlpProtocol;
  /** Request headers / gRPC metadata (resolved secrets). */
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
  /** `service.name` of the records' resource. Default `secmon-detector`. */
  readonly serviceName?: string;
  readonly ruleInfo?: RuleInfoLookup;
  readonly apiBaseUrl?: string;
  readonly clock?: () => number;
  /** Replaces the OTLP exporter (tests). */
  readonly exporter?: LogRecordExporter;
}

/** Hands the record the LoggerProvider built back to the sink instead of to a batch. */
class CaptureProcessor implements LogRecordProcessor {
  captured: ReadWriteLogRecord | undefined;
  onEmit(record: ReadWriteLogRecord): void {
    this.captured = record;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** gRPC status codes that no retry can fix. */
const GRPC_FINAL = new Set([3, 5, 6, 7, 9, 11, 12, 16]);

function createExporter(o: OtlpSinkOptions): LogRecordExporter {
  const base = { url: o.endpoint, timeoutMillis: o.timeoutMs };
  switch (o.protocol) {
    case "grpc": {
      const metadata = new Metadata();
      for (const [k, v] of Object.entries(o.headers ?? {})) metadata.set(k, v);
      return new GrpcLogExporter({ ...base, metadata });
    }
    case "http/protobuf":
      return new ProtoLogExporter({ ...base, headers: { ...o.headers } });
    case "http/json":
      return new JsonLogExporter({ ...base, headers: { ...o.headers } });
  }
}

/**
 * Every alert change as an OpenTelemetry log record (EventName `secmon.alert`) exported to a
 * Collector, so any SIEM the Collector reaches receives it. The record is built by a real
 * LoggerProvider and exported directly (one export per delivery), so the export's result — not
 * a batch processor that drops on failure — decides success, retry or dead letter.
 */
export class OtlpSink implements Sink {
  readonly type = "otlp";
  readonly name: string;
  readonly #o: OtlpSinkOptions;
  readonly #exporter: LogRecordExporter;
  readonly #capture = new CaptureProcessor();
  readonly #provider: LoggerProvider;
  #closed = false;

  constructor(options: OtlpSinkOptions) {
    this.name = options.name;
    this.#o = options;
    this.#exporter = options.exporter ?? createExporter(options);
    this.#provider = new LoggerProvider({
      resource: resourceFromAttributes({ "service.name": options.serviceName ?? "secmon-detector" }),
      processors: [this.#capture],
    });
  }

  /** The log record of one delivery, as the SDK builds it. */
  record(delivery: Delivery): ReadableLogRecord {
    const now = (this.#o.clock ?? Date.now)();
    this.#provider.getLogger("secmon.alerts").emit({
      eventName: ALERT_LOG_EVENT_NAME,
      timestamp: Date.parse(delivery.alert.updated_at) || now,
      observedTimestamp: now,
      severityNumber: SEVERITY_NUMBER[delivery.alert.severity],
      severityText: delivery.alert.severity.toUpperCase(),
      body: alertSentence(delivery),
      attributes: alertAttributes(delivery, {
        ...(this.#o.ruleInfo ? { ruleInfo: this.#o.ruleInfo } : {}),
        ...(this.#o.apiBaseUrl ? { apiBaseUrl: this.#o.apiBaseUrl } : {}),
      }),
    });
    const record = this.#capture.captured;
    this.#capture.captured = undefined;
    if (!record) throw new Error("the logger did not emit the record");
    return record;
  }

  async send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult> {
    if (this.#closed) return { ok: false, retryable: true, detail: "sink closed" };
    let record: ReadableLogRecord;
    try {
      record = this.record(delivery);
    } catch (err) {
      return {
        ok: false,
        retryable: false,
        detail: `cannot build the log record: ${(err as Error).message}`,
      };
    }
    const exported = new Promise<ExportResult>((resolve) => this.#exporter.export([record], resolve));
    const aborted = new Promise<"aborted">((resolve) => {
      if (signal.aborted) resolve("aborted");
      signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    const result = await Promise.race([exported, aborted]);
    if (result === "aborted") return { ok: false, retryable: true, detail: "aborted: detector stopping" };
    if (result.code === ExportResultCode.SUCCESS) return { ok: true };
    return this.#classify(result.error);
  }

  #classify(error: Error | undefined): AttemptResult {
    const code = (error as { code?: unknown } | undefined)?.code;
    const message = error?.message ?? "export failed";
    if (typeof code === "number") {
      if (this.#o.protocol === "grpc") {
        return { ok: false, retryable: !GRPC_FINAL.has(code), detail: `gRPC status ${code}: ${message}` };
      }
      const retryable = code >= 500 || code === 408 || code === 429;
      return { ok: false, retryable, status: code, detail: `HTTP ${code}` };
    }
    return { ok: false, retryable: true, detail: message };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([this.#exporter.shutdown(), this.#provider.shutdown()]);
  }
}
