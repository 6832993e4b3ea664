/**
 * Test data for the receiver tests: SDK log records (as the OpenTelemetry SDK hands them to an
 * exporter) and their OTLP protobuf / JSON request bytes, made by the SDK's own serializers.
 */
import type { AnyValue, Attributes, HrTime } from "@opentelemetry/api";
import { JsonLogsSerializer, ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { ATTR, AUTH_OUTCOME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";

export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
export const SPAN_ID = "00f067aa0ba902b7";

export function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

export interface RecordSpec {
  eventName?: string;
  timeMs?: number;
  observedMs?: number;
  attributes?: Attributes;
  body?: AnyValue;
  severityNumber?: number;
  severityText?: string;
  traced?: boolean;
  resource?: Resource;
}

export const checkoutResource = resourceFromAttributes({ [RESOURCE_ATTR.SERVICE_NAME]: "checkout" });

export function logRecord(spec: RecordSpec): ReadableLogRecord {
  const time = spec.timeMs ?? 1_700_000_000_123;
  const record: ReadableLogRecord = {
    hrTime: hrTime(time),
    hrTimeObserved: hrTime(spec.observedMs ?? time),
    severityNumber: spec.severityNumber,
    severityText: spec.severityText,
    body: spec.body,
    eventName: spec.eventName,
    resource: spec.resource ?? checkoutResource,
    instrumentationScope: { name: "secmon-test", version: "1.0.0" },
    attributes: spec.attributes ?? {},
    droppedAttributesCount: 0,
    ...(spec.traced ? { spanContext: { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 } } : {}),
  };
  return record;
}

export function failedLogin(address: string, userHash = "a1b2c3"): RecordSpec {
  return {
    eventName: EVENT.AUTH_LOGIN,
    severityNumber: 13,
    severityText: "WARN",
    body: "login failed: invalid credentials",
    attributes: {
      [ATTR.CLIENT_ADDRESS]: address,
      [ATTR.USER_HASH]: userHash,
      [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
    },
  };
}

export function protobufRequest(specs: readonly RecordSpec[]): Uint8Array {
  const bytes = ProtobufLogsSerializer.serializeRequest(specs.map(logRecord));
  if (bytes === undefined) throw new Error("serializer returned nothing");
  return bytes;
}

export function jsonRequest(specs: readonly RecordSpec[]): unknown {
  const bytes = JsonLogsSerializer.serializeRequest(specs.map(logRecord));
  if (bytes === undefined) throw new Error("serializer returned nothing");
  return JSON.parse(new TextDecoder().decode(bytes));
}
