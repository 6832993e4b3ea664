/**
 * OTLP/JSON `ExportLogsServiceRequest` → {@link DecodedBatch}, for OTLP/HTTP JSON requests and
 * for files written by the Collector's `file` exporter (one request per line). Follows the
 * OTLP/JSON mapping: lowerCamelCase field names, int64 as decimal strings or numbers, enums as
 * ints (names are accepted too), trace and span ids as hex, bytes as base64. Unknown fields are
 * ignored.
 */
import { SecmonError } from "../errors.ts";
import type { AttrValue, Attributes, DecodedBatch, Scalar } from "../event.ts";
import {
  BatchBuilder,
  LIMITS,
  checkAttribute,
  emptyParts,
  idOrUndefined,
  noteProblem,
  serviceOf,
  setAttr,
  severityFromName,
} from "./normalize.ts";
import type { AttrCheck, RecordParts, ValueKind } from "./normalize.ts";

type Json = Record<string, unknown>;

/**
 * Decodes a parsed OTLP/JSON request. Throws SecmonError OTLP_MALFORMED when the value is not
 * shaped like an ExportLogsServiceRequest; bad records are rejected or ignored, not thrown.
 */
export function decodeLogsJson(value: unknown, arrivalMs: number): DecodedBatch {
  const root = asObject(value, "request");
  const out = new BatchBuilder(arrivalMs);
  const check: AttrCheck = { value: "", error: undefined };
  for (const rl of asArray(root["resourceLogs"], "resourceLogs")) {
    const resourceLogs = asObject(rl, "resourceLogs[]");
    const resource = decodeResource(resourceLogs["resource"]);
    const service = serviceOf(resource);
    for (const sl of asArray(resourceLogs["scopeLogs"], "scopeLogs")) {
      const scopeLogs = asObject(sl, "scopeLogs[]");
      for (const lr of asArray(scopeLogs["logRecords"], "logRecords")) {
        out.add(decodeRecord(asObject(lr, "logRecords[]"), check), resource, service);
      }
    }
  }
  return out.finish();
}

function malformed(detail: string): SecmonError {
  return new SecmonError("OTLP_MALFORMED", detail);
}

function asObject(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw malformed(`${what} must be an object`);
  }
  return value as Json;
}

function asArray(value: unknown, what: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(`${what} must be an array`);
  return value;
}

function optString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw malformed(`${what} must be a string`);
  return value;
}

function decodeResource(value: unknown): Attributes {
  const attrs: Attributes = {};
  if (value === undefined || value === null) return Object.freeze(attrs);
  const resource = asObject(value, "resource");
  for (const kv of asArray(resource["attributes"], "resource.attributes")) {
    const { key, kind, value: v } = decodeKeyValue(kv);
    // Resource attributes are not validated; values an event cannot hold are left out.
    if (kind !== "empty" && kind !== "kvlist" && v !== undefined) setAttr(attrs, key, v);
  }
  return Object.freeze(attrs);
}

interface Decoded {
  key: string;
  kind: ValueKind;
  /** Undefined for kvlist and empty values, and for arrays holding non-scalars. */
  value: AttrValue | undefined;
  /** Length problem (a string longer than the limit). */
  tooLong: boolean;
}

function decodeKeyValue(kv: unknown): Decoded {
  const obj = asObject(kv, "attribute");
  const key = optString(obj["key"], "attribute key") ?? "";
  const decoded = decodeAnyValue(obj["value"]);
  return { key, ...decoded };
}

function decodeAnyValue(value: unknown): Omit<Decoded, "key"> {
  if (value === undefined || value === null) return { kind: "empty", value: undefined, tooLong: false };
  const obj = asObject(value, "attribute value");
  if ("stringValue" in obj) {
    const s = optString(obj["stringValue"], "stringValue") ?? "";
    return { kind: "string", value: s, tooLong: tooLong(s) };
  }
  if ("boolValue" in obj) {
    const b = obj["boolValue"];
    if (typeof b !== "boolean") throw malformed("boolValue must be a boolean");
    return { kind: "bool", value: b, tooLong: false };
  }
  if ("intValue" in obj) return { kind: "int", value: int64(obj["intValue"], "intValue"), tooLong: false };
  if ("doubleValue" in obj) return { kind: "double", value: double(obj["doubleValue"]), tooLong: false };
  if ("bytesValue" in obj) {
    const s = optString(obj["bytesValue"], "bytesValue") ?? "";
    return { kind: "bytes", value: s, tooLong: false };
  }
  if ("arrayValue" in obj) {
    const arr = obj["arrayValue"] === null ? {} : asObject(obj["arrayValue"], "arrayValue");
    const values: Scalar[] = [];
    let scalarOnly = true;
    let long = false;
    for (const element of asArray(arr["values"], "arrayValue.values")) {
      // An array or kvlist element makes the value unacceptable: it is not read (nor its depth).
      if (isObject(element) && ("arrayValue" in element || "kvlistValue" in element)) {
        scalarOnly = false;
        continue;
      }
      const d = decodeAnyValue(element);
      if (d.value !== undefined) values.push(d.value as Scalar);
      long ||= d.tooLong;
    }
    return { kind: "array", value: scalarOnly ? values : undefined, tooLong: long };
  }
  // A kvlist attribute is rejected whatever it holds, so it is not read (as in the protobuf decoder).
  if ("kvlistValue" in obj) return { kind: "kvlist", value: undefined, tooLong: false };
  return { kind: "empty", value: undefined, tooLong: false };
}

function tooLong(s: string): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings need no byte count.
  return s.length * 3 > LIMITS.maxStringBytes && Buffer.byteLength(s, "utf8") > LIMITS.maxStringBytes;
}

const INT64_TEXT = /^-?\d+$/;

function int64(value: unknown, what: string): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && INT64_TEXT.test(value)) return Number(value);
  throw malformed(`${what} must be an integer or a decimal string`);
}

function double(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  throw malformed("doubleValue must be a number");
}

const UINT64_TEXT = /^\d+$/;

/** Nanoseconds (string or number) → whole ms; NaN for values that cannot be a time. */
function nanosToMs(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string") {
    if (!UINT64_TEXT.test(value)) return NaN;
    // Exact for any uint64: drop the last six digits instead of dividing a rounded double.
    return value.length <= 6 ? 0 : Number(value.slice(0, -6));
  }
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return Math.floor(value / 1e6);
  return NaN;
}

const HEX_ID = /^[0-9a-fA-F]*$/;

function hexId(value: unknown, bytes: number, what: string): string | undefined {
  const s = optString(value, what);
  if (s === undefined || s.length !== bytes * 2 || !HEX_ID.test(s)) return undefined;
  return idOrUndefined(s.toLowerCase());
}

function bodyText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, "body");
  if (typeof obj["stringValue"] === "string") return obj["stringValue"];
  const plain = anyValueToPlain(obj, 0);
  return plain === undefined ? undefined : JSON.stringify(plain);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An AnyValue as a plain JSON value (kvlists become objects), for non-string bodies. */
function anyValueToPlain(value: unknown, depth: number): unknown {
  if (depth > LIMITS.maxBodyDepth) throw malformed(`body nested deeper than ${LIMITS.maxBodyDepth} levels`);
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, "value");
  if ("kvlistValue" in obj) {
    const list = obj["kvlistValue"] === null ? {} : asObject(obj["kvlistValue"], "kvlistValue");
    const result: Record<string, unknown> = {};
    for (const kv of asArray(list["values"], "kvlistValue.values")) {
      const entry = asObject(kv, "kvlistValue entry");
      const key = optString(entry["key"], "key") ?? "";
      const v = anyValueToPlain(entry["value"], depth + 1);
      Object.defineProperty(result, key, {
        value: v ?? null,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }
  if ("arrayValue" in obj) {
    const arr = obj["arrayValue"] === null ? {} : asObject(obj["arrayValue"], "arrayValue");
    return asArray(arr["values"], "arrayValue.values").map((v) => anyValueToPlain(v, depth + 1) ?? null);
  }
  return decodeAnyValue(obj).value;
}

function severity(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isInteger(value)) return value === 0 ? undefined : value;
  if (typeof value === "string") return severityFromName(value);
  throw malformed("severityNumber must be an integer or an enum name");
}

function decodeRecord(lr: Json, check: AttrCheck): RecordParts {
  const parts = emptyParts();
  parts.eventName = optString(lr["eventName"], "eventName");
  const time = nanosToMs(lr["timeUnixNano"]);
  const observed = nanosToMs(lr["observedTimeUnixNano"]);
  if (Number.isNaN(time) || Number.isNaN(observed)) {
    noteProblem(parts, "invalid_timestamp", "timeUnixNano must be an unsigned integer of nanoseconds");
  } else {
    parts.timeMs = time;
    parts.observedMs = observed;
  }
  parts.severityNumber = severity(lr["severityNumber"]);
  const severityText = optString(lr["severityText"], "severityText");
  parts.severityText = severityText === "" ? undefined : severityText;
  parts.body = bodyText(lr["body"]);
  parts.traceId = hexId(lr["traceId"], 16, "traceId");
  parts.spanId = hexId(lr["spanId"], 8, "spanId");
  const attrs = parts.attributes;
  for (const kv of asArray(lr["attributes"], "attributes")) {
    parts.attributeCount++;
    if (parts.attributeCount > LIMITS.maxAttributes) continue;
    const d = decodeKeyValue(kv);
    if (d.kind === "empty") continue;
    if (d.kind === "kvlist") {
      noteProblem(
        parts,
        "invalid_attribute",
        `attribute ${d.key} is a kvlist; kvlist values are not accepted`,
      );
      continue;
    }
    if (d.value === undefined) {
      noteProblem(parts, "invalid_attribute", `attribute ${d.key} is an array holding arrays or kvlists`);
      continue;
    }
    if (d.tooLong) {
      noteProblem(
        parts,
        "value_too_long",
        `attribute ${d.key} has a string value longer than ${LIMITS.maxStringBytes} bytes`,
      );
      continue;
    }
    checkAttribute(d.key, d.kind, d.value, check);
    if (check.error !== undefined) {
      noteProblem(parts, "invalid_attribute", check.error);
      continue;
    }
    setAttr(attrs, d.key, check.value);
  }
  return parts;
}
