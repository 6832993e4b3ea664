/**
 * Test data for the receiver tests: SDK log records (as the OpenTelemetry SDK hands them to an
 * exporter) and their OTLP protobuf / JSON request bytes, made by the SDK's own serializers.
 */
import type { AnyValue, Attributes, HrTime } from "@opentelemetry/api";
import { JsonLogsSerializer, ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { ATTR, ATTR_EVENT_NAME, AUTH_OUTCOME, AUTHZ_DECISION, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { expect } from "vitest";
import type { DecodedBatch } from "../../src/event.ts";

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

/**
 * What the SDK sends, for both decoders: a traced login, an API request with an int over 32 bits,
 * a non-ASCII string and a negative int, an authz decision with an array and a map body, a custom
 * event, a name from the event.name attribute, a plain log (ignored), a wrong attribute type
 * (rejected), and records of a resource without and with another service.name.
 */
export const SDK_CASES: RecordSpec[] = [
  { ...failedLogin("203.0.113.7", "f00d"), traced: true },
  {
    eventName: EVENT.API_REQUEST,
    timeMs: 1_700_000_000_500,
    attributes: {
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.25,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 5_000_000_000,
      [ATTR.URL_PATH]: "/admin/ünïcode",
      "custom.negative": -12,
    },
  },
  {
    eventName: EVENT.AUTHZ_DECISION,
    attributes: {
      [ATTR.AUTHZ_DECISION]: AUTHZ_DECISION.DENY,
      [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin", "billing"],
    },
    body: { reason: "role", roles: ["a", 1, true] },
  },
  { eventName: "custom.thing", body: 42, attributes: { flags: [true, false], "tenant.tier": 3 } },
  { attributes: { [ATTR_EVENT_NAME]: EVENT.AUTH_LOGOUT } },
  { body: "GET / 200" },
  { eventName: EVENT.API_REQUEST, attributes: { [ATTR.HTTP_RESPONSE_STATUS_CODE]: "oops" } },
  { eventName: EVENT.AUTH_LOGIN, resource: resourceFromAttributes({}) },
  {
    eventName: EVENT.DATA_ACCESS,
    resource: resourceFromAttributes({ [RESOURCE_ATTR.SERVICE_NAME]: "billing" }),
  },
];

/** What either decoder must make of `SDK_CASES`. */
export function expectSdkCasesDecoded(batch: DecodedBatch): void {
  expect(batch.events.map((e) => [e.name, e.service])).toEqual([
    [EVENT.AUTH_LOGIN, "checkout"],
    [EVENT.API_REQUEST, "checkout"],
    [EVENT.AUTHZ_DECISION, "checkout"],
    ["custom.thing", "checkout"],
    [EVENT.AUTH_LOGOUT, "checkout"],
    [EVENT.AUTH_LOGIN, "unknown_service"],
    [EVENT.DATA_ACCESS, "billing"],
  ]);
  expect(batch.ignored).toBe(1);
  expect(batch.rejected).toEqual({ invalid_attribute: 1 });
  expect(batch.rejectMessage).toBe(
    "record 6 (api.request): attribute http.response.status_code must be an int, got non-numeric string",
  );
  const [login, api, authz, custom] = batch.events;
  expect(login).toMatchObject({
    time: 1_700_000_000_123,
    service: "checkout",
    severityNumber: 13,
    severityText: "WARN",
    body: "login failed: invalid credentials",
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    attributes: { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.USER_HASH]: "f00d" },
  });
  expect(login?.resource).toEqual({ [RESOURCE_ATTR.SERVICE_NAME]: "checkout" });
  expect(api?.time).toBe(1_700_000_000_500);
  expect(api?.traceId).toBeUndefined();
  expect(api?.attributes).toEqual({
    [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
    [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.25,
    [ATTR.HTTP_RESPONSE_BODY_SIZE]: 5_000_000_000,
    [ATTR.URL_PATH]: "/admin/ünïcode",
    "custom.negative": -12,
  });
  expect(authz?.attributes[ATTR.AUTHZ_MISSING_PERMISSIONS]).toEqual(["admin", "billing"]);
  expect(authz?.body).toBe('{"reason":"role","roles":["a",1,true]}');
  expect(custom?.body).toBe("42");
}
