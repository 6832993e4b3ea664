import { ATTR, ATTR_EVENT_NAME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import { decodeLogsJson } from "../../src/receiver/decode-json.ts";
import { SDK_CASES, SPAN_ID, TRACE_ID, expectSdkCasesDecoded, jsonRequest } from "./fixtures.ts";

const ARRIVAL = 1_800_000_000_000;

/** A request with one resource (service checkout) and the given raw JSON log records. */
function request(records: unknown[], resourceAttrs: unknown[] = [svc("checkout")]): unknown {
  return {
    resourceLogs: [
      { resource: { attributes: resourceAttrs }, scopeLogs: [{ scope: {}, logRecords: records }] },
    ],
  };
}

function svc(name: string): unknown {
  return { key: RESOURCE_ATTR.SERVICE_NAME, value: { stringValue: name } };
}

function kv(key: string, value: unknown): unknown {
  return { key, value };
}

function record(attributes: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { eventName: EVENT.API_REQUEST, timeUnixNano: "1700000000000000000", attributes, ...extra };
}

describe("decodeLogsJson", () => {
  it("decodes what the OpenTelemetry SDK's JSON serializer writes", () => {
    expectSdkCasesDecoded(decodeLogsJson(jsonRequest(SDK_CASES), ARRIVAL));
  });

  it("shares one frozen resource object between the records of a ResourceLogs", () => {
    const batch = decodeLogsJson(request([record([]), record([])]), ARRIVAL);
    const [a, b] = batch.events;
    expect(a?.resource).toBe(b?.resource);
    expect(Object.isFrozen(a?.resource)).toBe(true);
  });

  it("takes the event name from the field, else from the event.name attribute", () => {
    const batch = decodeLogsJson(
      request([
        { attributes: [kv(ATTR_EVENT_NAME, { stringValue: EVENT.AUTH_LOGOUT })] },
        { eventName: EVENT.AUTH_MFA, attributes: [kv(ATTR_EVENT_NAME, { stringValue: EVENT.AUTH_LOGOUT })] },
      ]),
      ARRIVAL,
    );
    expect(batch.events.map((e) => e.name)).toEqual([EVENT.AUTH_LOGOUT, EVENT.AUTH_MFA]);
  });

  it("ignores records with no event name (also an empty one)", () => {
    const batch = decodeLogsJson(
      request([
        { body: { stringValue: "GET / 200" } },
        { eventName: "", attributes: [kv(ATTR_EVENT_NAME, { stringValue: "" })] },
        record([]),
      ]),
      ARRIVAL,
    );
    expect(batch.ignored).toBe(2);
    expect(batch.events).toHaveLength(1);
  });

  it("falls back from time to observed time to arrival time", () => {
    const batch = decodeLogsJson(
      request([
        { eventName: EVENT.AUTH_LOGIN, timeUnixNano: 1_700_000_000_001_000_000 },
        { eventName: EVENT.AUTH_LOGIN, timeUnixNano: "0", observedTimeUnixNano: "1700000000002999999" },
        { eventName: EVENT.AUTH_LOGIN },
      ]),
      ARRIVAL,
    );
    expect(batch.events.map((e) => e.time)).toEqual([1_700_000_000_001, 1_700_000_000_002, ARRIVAL]);
  });

  it("takes int64 as strings or numbers and numeric strings as numbers for numeric attributes", () => {
    const batch = decodeLogsJson(
      request([
        record([
          kv(ATTR.HTTP_RESPONSE_STATUS_CODE, { stringValue: "404" }),
          kv(ATTR.HTTP_RESPONSE_BODY_SIZE, { intValue: "123456" }),
          kv(ATTR.HTTP_REQUEST_BODY_SIZE, { intValue: 17 }),
          kv(ATTR.HTTP_SERVER_REQUEST_DURATION, { stringValue: "0.5" }),
          kv(ATTR.GEO_LOCATION_LAT, { intValue: "52" }),
          kv(ATTR.DATA_BYTES, { doubleValue: 2048 }),
          kv("custom.count", { intValue: "-9" }),
        ]),
      ]),
      ARRIVAL,
    );
    expect(batch.rejected).toEqual({});
    expect(batch.events[0]?.attributes).toEqual({
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 123456,
      [ATTR.HTTP_REQUEST_BODY_SIZE]: 17,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.5,
      [ATTR.GEO_LOCATION_LAT]: 52,
      [ATTR.DATA_BYTES]: 2048,
      "custom.count": -9,
    });
  });

  it("keeps unknown event names, attributes and enum values", () => {
    const batch = decodeLogsJson(
      request([
        {
          eventName: "custom.export_started",
          attributes: [
            kv(ATTR.AUTH_OUTCOME, { stringValue: "maybe" }),
            kv("tenant.tier", { intValue: "3" }),
            kv("flags", { arrayValue: { values: [{ boolValue: true }, { intValue: 2 }] } }),
            kv("raw", { bytesValue: "AAEC" }),
            kv("nothing", {}),
          ],
        },
      ]),
      ARRIVAL,
    );
    expect(batch.events[0]).toMatchObject({
      name: "custom.export_started",
      attributes: { [ATTR.AUTH_OUTCOME]: "maybe", "tenant.tier": 3, flags: [true, 2], raw: "AAEC" },
    });
    expect(batch.events[0]?.attributes).not.toHaveProperty("nothing");
  });

  it("renders non-string bodies as JSON text and accepts severity enum names", () => {
    const batch = decodeLogsJson(
      request([
        record([], {
          severityNumber: "SEVERITY_NUMBER_WARN",
          body: {
            kvlistValue: { values: [kv("a", { intValue: "1" }), kv("b", { arrayValue: { values: [] } })] },
          },
        }),
        record([], { severityNumber: 0, body: { intValue: "42" } }),
      ]),
      ARRIVAL,
    );
    expect(batch.events[0]).toMatchObject({ severityNumber: 13, body: '{"a":1,"b":[]}' });
    expect(batch.events[1]?.severityNumber).toBeUndefined();
    expect(batch.events[1]?.body).toBe("42");
  });

  it("lower-cases ids and leaves out all-zero or malformed ones", () => {
    const batch = decodeLogsJson(
      request([
        record([], { traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID }),
        record([], { traceId: "0".repeat(32), spanId: "" }),
        record([], { traceId: "xyz", spanId: "00" }),
      ]),
      ARRIVAL,
    );
    expect(batch.events.map((e) => [e.traceId, e.spanId])).toEqual([
      [TRACE_ID, SPAN_ID],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it("uses unknown_service when the resource has no service.name", () => {
    const noResource = { resourceLogs: [{ scopeLogs: [{ logRecords: [record([])] }] }] };
    expect(decodeLogsJson(noResource, ARRIVAL).events[0]?.service).toBe("unknown_service");
    expect(decodeLogsJson(request([record([])], []), ARRIVAL).events[0]?.service).toBe("unknown_service");
  });

  it("rejects security events with attributes of the wrong type, counting them by reason", () => {
    const batch = decodeLogsJson(
      request([
        record([kv(ATTR.HTTP_RESPONSE_STATUS_CODE, { boolValue: true })]),
        record([kv(ATTR.HTTP_RESPONSE_STATUS_CODE, { doubleValue: 404.5 })]),
        record([kv(ATTR.HTTP_SERVER_REQUEST_DURATION, { stringValue: "slow" })]),
        record([kv(ATTR.USER_ID, { intValue: "42" })]),
        record([kv(ATTR.AUTHZ_MISSING_PERMISSIONS, { stringValue: "admin" })]),
        record([kv(ATTR.AUTHZ_MISSING_PERMISSIONS, { arrayValue: { values: [{ intValue: 1 }] } })]),
        record([kv("meta", { kvlistValue: { values: [kv("a", { stringValue: "b" })] } })]),
        record([kv("nested", { arrayValue: { values: [{ arrayValue: { values: [] } }] } })]),
        // Not a security event: its attribute types do not matter.
        { attributes: [kv(ATTR.HTTP_RESPONSE_STATUS_CODE, { boolValue: true })] },
      ]),
      ARRIVAL,
    );
    expect(batch.events).toHaveLength(0);
    expect(batch.ignored).toBe(1);
    expect(batch.rejected).toEqual({ invalid_attribute: 8 });
    expect(batch.rejectMessage).toBe(
      "record 0 (api.request): attribute http.response.status_code must be an int, got bool",
    );
  });

  it("names the first problem of each kind", () => {
    const messages = [
      [kv(ATTR.HTTP_RESPONSE_STATUS_CODE, { doubleValue: 404.5 })],
      [kv(ATTR.USER_ID, { intValue: "42" })],
      [kv("meta", { kvlistValue: { values: [] } })],
    ].map((attrs) => decodeLogsJson(request([record(attrs)]), ARRIVAL).rejectMessage);
    expect(messages).toEqual([
      "record 0 (api.request): attribute http.response.status_code must be an int, got double with a fraction",
      "record 0 (api.request): attribute user.id must be a string, got int",
      "record 0 (api.request): attribute meta is a kvlist; kvlist values are not accepted",
    ]);
  });

  it("enforces the limits on attributes, string length, event name and time", () => {
    const many = Array.from({ length: 129 }, (_, i) => kv(`a${i}`, { intValue: i }));
    const batch = decodeLogsJson(
      request([
        record(many),
        record(many.slice(0, 128)),
        record([kv(ATTR.URL_PATH, { stringValue: "x".repeat(8 * 1024 + 1) })]),
        record([kv(ATTR.URL_PATH, { stringValue: "é".repeat(4097) })]),
        record([kv(ATTR.URL_PATH, { stringValue: "x".repeat(8 * 1024) })]),
        record([kv("tags", { arrayValue: { values: [{ stringValue: "y".repeat(9000) }] } })]),
        { eventName: "n".repeat(257) },
        { eventName: "n".repeat(256) },
        { attributes: [kv(ATTR_EVENT_NAME, { intValue: 5 })] },
        { eventName: EVENT.AUTH_LOGIN, timeUnixNano: "7258118400000000000" },
        { eventName: EVENT.AUTH_LOGIN, timeUnixNano: "7258118399999000000" },
        { eventName: EVENT.AUTH_LOGIN, observedTimeUnixNano: "99999999999999999999" },
        { eventName: EVENT.AUTH_LOGIN, timeUnixNano: "-5" },
      ]),
      ARRIVAL,
    );
    expect(batch.rejected).toEqual({
      too_many_attributes: 1,
      value_too_long: 3,
      invalid_event_name: 2,
      invalid_timestamp: 3,
    });
    expect(batch.events).toHaveLength(4);
    expect(batch.rejectMessage).toBe("record 0 (api.request): 129 attributes, more than 128");
  });

  it("accepts empty requests", () => {
    expect(decodeLogsJson({}, ARRIVAL)).toEqual({ events: [], ignored: 0, rejected: {} });
    expect(decodeLogsJson({ resourceLogs: [] }, ARRIVAL).events).toEqual([]);
  });

  it("throws OTLP_MALFORMED for values that are not an ExportLogsServiceRequest", () => {
    const cases: unknown[] = [
      null,
      "text",
      [],
      { resourceLogs: {} },
      { resourceLogs: [5] },
      { resourceLogs: [{ scopeLogs: "x" }] },
      request([{ eventName: 7 }]),
      request([record([kv("n", { intValue: "12abc" })])]),
      request([record([kv("n", { boolValue: "yes" })])]),
      request([record(["not a key value"])]),
      request([{ severityNumber: 1.5 }]),
    ];
    for (const value of cases) {
      let thrown: unknown;
      try {
        decodeLogsJson(value, ARRIVAL);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(value)).toBeInstanceOf(SecmonError);
      expect((thrown as SecmonError).code).toBe("OTLP_MALFORMED");
    }
  });

  it("bounds nesting: a deep body is malformed, a deep attribute only rejects its record (no stack overflow)", () => {
    let nested: unknown = { stringValue: "x" };
    for (let i = 0; i < 20_000; i++) nested = { arrayValue: { values: [nested] } };
    let kvlist: unknown = { stringValue: "x" };
    for (let i = 0; i < 20_000; i++) kvlist = { kvlistValue: { values: [{ key: "k", value: kvlist }] } };
    expect(() => decodeLogsJson(request([{ eventName: "auth.login", body: nested }]), ARRIVAL)).toThrow(
      /body nested deeper than 32 levels/,
    );
    for (const value of [nested, kvlist]) {
      const batch = decodeLogsJson(request([record([kv("deep", value)])]), ARRIVAL);
      expect(batch.events).toEqual([]);
      expect(batch.rejected).toEqual({ invalid_attribute: 1 });
    }
  });

  it("does not let an attribute named __proto__ change the attributes' prototype", () => {
    const batch = decodeLogsJson(request([record([kv("__proto__", { stringValue: "x" })])]), ARRIVAL);
    const attrs = batch.events[0]?.attributes;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.keys(attrs ?? {})).toEqual(["__proto__"]);
  });
});
