import { ATTR, ATTR_EVENT_NAME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import { decodeLogsJson } from "../../src/receiver/decode-json.ts";
import { decodeLogsProtobuf } from "../../src/receiver/decode-protobuf.ts";
import { SDK_CASES, expectSdkCasesDecoded, failedLogin, jsonRequest, protobufRequest } from "./fixtures.ts";
import {
  anyValue,
  concat,
  exportRequest,
  field,
  keyValue,
  logRecord,
  resourceLogs,
  unknownFields,
  type LogRecordSpec,
} from "./wire.ts";

const ARRIVAL = 1_800_000_000_000;
const T0 = "1700000000000000000";

function one(
  spec: LogRecordSpec,
  resourceAttributes = [keyValue(RESOURCE_ATTR.SERVICE_NAME, { string: "svc" })],
) {
  return decodeLogsProtobuf(
    exportRequest([resourceLogs({ resourceAttributes, records: [logRecord(spec)] })]),
    ARRIVAL,
  );
}

function api(attributes: Uint8Array[], extra: Partial<LogRecordSpec> = {}): LogRecordSpec {
  return { eventName: EVENT.API_REQUEST, timeNanos: T0, attributes, ...extra };
}

function expectMalformed(bytes: Uint8Array, what: string): void {
  let thrown: unknown;
  try {
    decodeLogsProtobuf(bytes, ARRIVAL);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, what).toBeInstanceOf(SecmonError);
  expect((thrown as SecmonError).code, what).toBe("OTLP_MALFORMED");
}

describe("decodeLogsProtobuf", () => {
  it("decodes the OpenTelemetry SDK's protobuf exactly as the JSON decoder decodes its JSON", () => {
    const fromProtobuf = decodeLogsProtobuf(protobufRequest(SDK_CASES), ARRIVAL);
    const fromJson = decodeLogsJson(jsonRequest(SDK_CASES), ARRIVAL);
    expect(fromProtobuf).toEqual(fromJson);
    expectSdkCasesDecoded(fromProtobuf);
  });

  it("accepts a plain Uint8Array and a Buffer view with an offset", () => {
    const bytes = protobufRequest([failedLogin("198.51.100.1")]);
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), bytes]).subarray(3);
    expect(decodeLogsProtobuf(padded, ARRIVAL)).toEqual(decodeLogsProtobuf(new Uint8Array(bytes), ARRIVAL));
    expect(decodeLogsProtobuf(padded, ARRIVAL).events).toHaveLength(1);
  });

  it("converts nanoseconds to whole milliseconds exactly and falls back to observed and arrival time", () => {
    const bytes = exportRequest([
      resourceLogs({
        records: [
          logRecord({ eventName: "a", timeNanos: "1700000000123999999" }),
          logRecord({ eventName: "b", timeNanos: "1700000000124000000" }),
          logRecord({ eventName: "c", observedNanos: "1700000000002000000" }),
          logRecord({ eventName: "d", timeNanos: 0, observedNanos: 0 }),
        ],
      }),
    ]);
    expect(decodeLogsProtobuf(bytes, ARRIVAL).events.map((e) => e.time)).toEqual([
      1_700_000_000_123,
      1_700_000_000_124,
      1_700_000_000_002,
      ARRIVAL,
    ]);
  });

  it("reads the resource even when it follows the scope logs, and shares it between records", () => {
    const bytes = exportRequest([
      resourceLogs({
        resourceAttributes: [
          keyValue(RESOURCE_ATTR.SERVICE_NAME, { string: "late" }),
          keyValue("nested", { kvlist: [] }),
          keyValue("empty", undefined),
        ],
        records: [logRecord({ eventName: "a" }), logRecord({ eventName: "b" })],
        resourceLast: true,
      }),
    ]);
    const batch = decodeLogsProtobuf(bytes, ARRIVAL);
    expect(batch.events.map((e) => e.service)).toEqual(["late", "late"]);
    expect(batch.events[0]?.resource).toBe(batch.events[1]?.resource);
    expect(batch.events[0]?.resource).toEqual({ [RESOURCE_ATTR.SERVICE_NAME]: "late" });
    expect(Object.isFrozen(batch.events[0]?.resource)).toBe(true);
  });

  it("skips unknown fields of every wire type at every level, and known fields with the wrong wire type", () => {
    const wrongWireType = concat([
      pbVarint((12 << 3) | 0, 5), // event_name as a varint
      pbVarint((6 << 3) | 0, 1), // attributes as a varint
    ]);
    const record = logRecord({
      eventName: EVENT.AUTH_LOGIN,
      timeNanos: T0,
      attributes: [
        concat([keyValue(ATTR.CLIENT_ADDRESS, { string: "192.0.2.1" }), unknownFields()]),
        keyValue(ATTR.AUTH_OUTCOME, {
          raw: concat([unknownFields(), field(1, new TextEncoder().encode("failure"))]),
        }),
      ],
      extra: concat([unknownFields(), wrongWireType]),
    });
    const bytes = concat([
      unknownFields(),
      exportRequest([resourceLogs({ records: [record], extra: unknownFields() })]),
      unknownFields(),
    ]);
    const batch = decodeLogsProtobuf(bytes, ARRIVAL);
    expect(batch.rejected).toEqual({});
    expect(batch.events).toHaveLength(1);
    expect(batch.events[0]).toMatchObject({
      name: EVENT.AUTH_LOGIN,
      attributes: { [ATTR.CLIENT_ADDRESS]: "192.0.2.1", [ATTR.AUTH_OUTCOME]: "failure" },
    });
  });

  it("turns int64 into numbers, bytes into base64 and keeps only well-formed non-zero ids", () => {
    const batch = one({
      eventName: "custom.x",
      attributes: [
        keyValue("neg", { int: -1 }),
        keyValue("min", { int: "-9223372036854775808" }),
        keyValue("big", { int: "9007199254740993" }),
        keyValue("blob", { bytes: new Uint8Array([0, 1, 2, 255]) }),
        keyValue("key only", undefined),
      ],
      traceId: new Uint8Array(16),
      spanId: new Uint8Array([1, 2, 3]),
    });
    expect(batch.events[0]?.attributes).toEqual({
      neg: -1,
      min: -9223372036854775808,
      big: 9007199254740992,
      blob: "AAEC/w==",
    });
    expect(batch.events[0]?.traceId).toBeUndefined();
    expect(batch.events[0]?.spanId).toBeUndefined();
  });

  it("rejects wrong attribute types with the same messages as the JSON decoder", () => {
    const cases: [Uint8Array, string][] = [
      [keyValue(ATTR.HTTP_RESPONSE_STATUS_CODE, { bool: true }), "must be an int, got bool"],
      [
        keyValue(ATTR.HTTP_RESPONSE_STATUS_CODE, { double: 1.5 }),
        "must be an int, got double with a fraction",
      ],
      [keyValue(ATTR.GEO_LOCATION_LON, { string: "east" }), "must be a double, got non-numeric string"],
      [keyValue(ATTR.CLIENT_ADDRESS, { bytes: new Uint8Array([1]) }), "must be a string, got bytes"],
      [keyValue(ATTR.AUTHZ_MISSING_PERMISSIONS, { array: [] }), ""],
      [
        keyValue(ATTR.AUTHZ_MISSING_PERMISSIONS, { string: "admin" }),
        "must be an array of strings, got string",
      ],
      [keyValue("meta", { kvlist: [keyValue("a", { string: "b" })] }), "kvlist values are not accepted"],
      [keyValue("deep", { array: [anyValue({ array: [] })] }), "is an array holding arrays or kvlists"],
      [keyValue(ATTR.URL_PATH, { string: "x".repeat(8193) }), "longer than 8192 bytes"],
      [keyValue("tags", { array: [anyValue({ string: "x".repeat(8193) })] }), "longer than 8192 bytes"],
    ];
    for (const [attr, message] of cases) {
      const batch = one(api([attr]));
      if (message === "") expect(batch.rejected).toEqual({});
      else expect(batch.rejectMessage).toContain(message);
    }
    expect(
      one(api([keyValue(ATTR.HTTP_RESPONSE_STATUS_CODE, { string: " 503 " })])).events[0]?.attributes,
    ).toEqual({
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 503,
    });
  });

  it("enforces attribute count, event name and timestamp limits", () => {
    const many = Array.from({ length: 129 }, (_, i) => keyValue(`a${i}`, { int: i }));
    expect(one(api(many)).rejected).toEqual({ too_many_attributes: 1 });
    expect(one(api(many.slice(0, 128))).events[0]?.attributes).toHaveProperty("a127", 127);
    expect(one({ eventName: "n".repeat(257) }).rejected).toEqual({ invalid_event_name: 1 });
    expect(one({ attributes: [keyValue(ATTR_EVENT_NAME, { bool: true })] }).rejected).toEqual({
      invalid_event_name: 1,
    });
    expect(one({ eventName: "a", timeNanos: "18446744073709551615" }).rejected).toEqual({
      invalid_timestamp: 1,
    });
    expect(one({ eventName: "a", observedNanos: "7258118400000000000" }).rejected).toEqual({
      invalid_timestamp: 1,
    });
    expect(one({ timeNanos: "18446744073709551615" }).ignored).toBe(1);
  });

  it("renders non-string bodies as JSON and rejects absurdly deep ones as malformed", () => {
    const body = { kvlist: [keyValue("k", { bytes: new Uint8Array([255]) }), keyValue("n", undefined)] };
    expect(one({ eventName: "a", body }).events[0]?.body).toBe('{"k":"/w==","n":null}');
    expect(one({ eventName: "a", body: { bool: false } }).events[0]?.body).toBe("false");
    let deep = anyValue({ string: "bottom" });
    for (let i = 0; i < 40; i++) deep = anyValue({ array: [deep] });
    expectMalformed(
      exportRequest([resourceLogs({ records: [logRecord({ body: { raw: deep } })] })]),
      "deep body",
    );
  });

  it("decodes many similar short strings correctly (the string cache never returns a wrong string)", () => {
    const addresses = Array.from({ length: 6000 }, (_, i) => `10.${i % 7}.${(i * 31) % 256}.${i % 256}`);
    const paths = Array.from({ length: 6000 }, (_, i) => `/api/orders/${String(i).padStart(60, "0")}`);
    const records = addresses.map((a, i) =>
      logRecord({
        eventName: EVENT.API_REQUEST,
        attributes: [
          keyValue(ATTR.CLIENT_ADDRESS, { string: a }),
          keyValue(ATTR.URL_PATH, { string: paths[i] ?? "" }),
        ],
      }),
    );
    const batch = decodeLogsProtobuf(exportRequest([resourceLogs({ records })]), ARRIVAL);
    expect(batch.events.map((e) => e.attributes[ATTR.CLIENT_ADDRESS])).toEqual(addresses);
    expect(batch.events.map((e) => e.attributes[ATTR.URL_PATH])).toEqual(paths);
  });

  it("reads long keys and values (multi-byte lengths) and every scalar type the same way", () => {
    const longKey = `custom.${"k".repeat(150)}`;
    const longValue = "v".repeat(300);
    const batch = one({
      eventName: "custom.long",
      attributes: [
        keyValue(longKey, { string: longValue }),
        keyValue("flag", { bool: true }),
        keyValue("ratio", { double: 0.5 }),
        keyValue("count", { int: 300 }),
        keyValue("ünï", { string: "çødé" }),
      ],
    });
    expect(batch.events[0]?.attributes).toEqual({
      [longKey]: longValue,
      flag: true,
      ratio: 0.5,
      count: 300,
      ünï: "çødé",
    });
  });

  it("keeps every record's own strings and ids when a request brings many new ones", () => {
    const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
    const records = Array.from({ length: 300 }, (_, i) => {
      const traceId = new Uint8Array(16).map((_, j) => (i * 7 + j * 13 + 1) & 0xff);
      const spanId = new Uint8Array(8).map((_, j) => (i * 11 + j * 3 + 1) & 0xff);
      return {
        spec: logRecord({
          eventName: EVENT.API_REQUEST,
          attributes: [
            keyValue(ATTR.USER_ID, { string: `user-${i}` }),
            keyValue(ATTR.URL_PATH, { string: `/api/items/${i * 7919}/details` }),
            keyValue("note", { string: i % 3 === 0 ? `ü-${i}` : `n-${i}` }),
            keyValue("bad", {
              raw: anyValue({ string: "ok" }).map((b, j) => (j === 2 && i % 5 === 0 ? 0xff : b)),
            }),
          ],
          traceId,
          spanId,
        }),
        traceId: hexOf(traceId),
        spanId: hexOf(spanId),
        i,
      };
    });
    const bytes = exportRequest([resourceLogs({ records: records.map((r) => r.spec) })]);
    for (let round = 0; round < 2; round++) {
      const batch = decodeLogsProtobuf(bytes, ARRIVAL);
      expect(batch.events).toHaveLength(300);
      batch.events.forEach((e, i) => {
        expect(e.traceId).toBe(records[i]?.traceId);
        expect(e.spanId).toBe(records[i]?.spanId);
        expect(e.attributes).toEqual({
          [ATTR.USER_ID]: `user-${i}`,
          [ATTR.URL_PATH]: `/api/items/${i * 7919}/details`,
          note: i % 3 === 0 ? `ü-${i}` : `n-${i}`,
          // Invalid UTF-8 decodes as Buffer does it: a replacement character.
          bad: i % 5 === 0 ? "\ufffdk" : "ok",
        });
        expect(Object.keys(e.attributes)).toEqual([ATTR.USER_ID, ATTR.URL_PATH, "note", "bad"]);
      });
    }
  });

  it("keeps the order of first appearance and the last value of a repeated key, and the last of repeated ids", () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array(16).fill(i + 1));
    const many = Array.from({ length: 127 }, (_, i) => keyValue(`k${i}`, { string: `fresh-value-${i}` }));
    const record = logRecord({
      eventName: "custom.repeat",
      attributes: [
        keyValue("a", { string: "first" }),
        keyValue("b", { int: 2 }),
        keyValue("a", { string: "second" }),
        ...many.slice(0, 125),
      ],
      extra: concat([
        // More ids than attributes: the record's pending strings run out of room.
        ...ids(140).map((id) => field(9, id)),
        field(10, new Uint8Array(8).fill(9)),
        field(9, new Uint8Array(16)),
      ]),
    });
    const event = decodeLogsProtobuf(exportRequest([resourceLogs({ records: [record] })]), ARRIVAL).events[0];
    expect(Object.keys(event?.attributes ?? {}).slice(0, 3)).toEqual(["a", "b", "k0"]);
    expect(event?.attributes).toMatchObject({ a: "second", b: 2, k124: "fresh-value-124" });
    // The last trace id is all zero: no trace id.
    expect(event?.traceId).toBeUndefined();
    expect(event?.spanId).toBe("09".repeat(8));
    const repeated = logRecord({
      eventName: "custom.repeat",
      attributes: many,
      extra: concat(ids(140).map((id) => field(9, id))),
    });
    const again = decodeLogsProtobuf(exportRequest([resourceLogs({ records: [repeated] })]), ARRIVAL);
    expect(again.events[0]?.traceId).toBe("8c".repeat(16));
    expect(again.events[0]?.attributes).toHaveProperty("k126", "fresh-value-126");
  });

  it("decodes an empty request to an empty batch", () => {
    expect(decodeLogsProtobuf(new Uint8Array(), ARRIVAL)).toEqual({ events: [], ignored: 0, rejected: {} });
  });

  it("throws OTLP_MALFORMED for bytes that are not a valid ExportLogsServiceRequest", () => {
    const good = protobufRequest([failedLogin("203.0.113.9")]);
    expectMalformed(new TextEncoder().encode("this is not protobuf"), "text");
    expectMalformed(new TextEncoder().encode('{"resourceLogs":[]}'), "json");
    expectMalformed(good.subarray(0, good.length - 3), "truncated");
    expectMalformed(new Uint8Array([0x0a, 0x7f, 0x01]), "length past the end");
    expectMalformed(new Uint8Array([0x00, 0x01]), "field number 0");
    expectMalformed(new Uint8Array([0x0e]), "wire type 6");
    expectMalformed(new Uint8Array([0x0f]), "wire type 7");
    expectMalformed(new Uint8Array([0x0b, 0x08, 0x01]), "unterminated group");
    expectMalformed(new Uint8Array([0x08, 0xff, 0xff]), "truncated varint");
    // A nested length that overruns its parent.
    const record = logRecord({ eventName: "a" });
    const bad = Buffer.from(exportRequest([resourceLogs({ records: [record] })]));
    const inner = bad.indexOf(Buffer.from([0x12, record.length]));
    bad[inner + 1] = record.length + 5;
    expectMalformed(new Uint8Array(bad), "overrun");
  });
});

function pbVarint(tag: number, value: number): Uint8Array {
  return new Uint8Array([tag, value]);
}
