/**
 * OTLP protobuf `ExportLogsServiceRequest` → {@link DecodedBatch}, walking the wire format with
 * protobufjs's Reader straight from bytes to events: no intermediate message objects.
 *
 * Field numbers (opentelemetry/proto, logs v1):
 *   ExportLogsServiceRequest  1 resource_logs (repeated ResourceLogs)
 *   ResourceLogs              1 resource (Resource), 2 scope_logs (repeated ScopeLogs), 3 schema_url
 *   Resource                  1 attributes (repeated KeyValue), 2 dropped_attributes_count, 3 entity_refs
 *   ScopeLogs                 1 scope, 2 log_records (repeated LogRecord), 3 schema_url
 *   LogRecord                 1 time_unix_nano (fixed64), 11 observed_time_unix_nano (fixed64),
 *                             2 severity_number (enum), 3 severity_text, 5 body (AnyValue),
 *                             6 attributes (repeated KeyValue), 7 dropped_attributes_count,
 *                             8 flags (fixed32), 9 trace_id (bytes), 10 span_id (bytes), 12 event_name
 *   KeyValue                  1 key, 2 value (AnyValue)
 *   AnyValue (oneof)          1 string, 2 bool, 3 int (int64), 4 double, 5 array (ArrayValue),
 *                             6 kvlist (KeyValueList), 7 bytes
 *   ArrayValue / KeyValueList 1 values (repeated AnyValue / KeyValue)
 * Unknown fields, and known fields with an unexpected wire type, are skipped.
 */
import pb from "protobufjs/minimal.js";
import { SecmonError } from "../errors.ts";
import type { AttrValue, Attributes, DecodedBatch, Scalar } from "../event.ts";
import {
  BatchBuilder,
  LIMITS,
  checkAttribute,
  emptyParts,
  noteProblem,
  resetParts,
  serviceOf,
  setAttr,
} from "./normalize.ts";
import type { AttrCheck, RecordParts, ValueKind } from "./normalize.ts";

type Reader = pb.Reader & { buf: Buffer };

// Tags: (field << 3) | wire type.
const T_RESOURCE_LOGS = (1 << 3) | 2;
const T_RESOURCE = (1 << 3) | 2;
const T_SCOPE_LOGS = (2 << 3) | 2;
const T_ATTRIBUTES_RESOURCE = (1 << 3) | 2;
const T_LOG_RECORDS = (2 << 3) | 2;
const T_TIME = (1 << 3) | 1;
const T_SEVERITY_NUMBER = (2 << 3) | 0;
const T_SEVERITY_TEXT = (3 << 3) | 2;
const T_BODY = (5 << 3) | 2;
const T_ATTRIBUTES = (6 << 3) | 2;
const T_TRACE_ID = (9 << 3) | 2;
const T_SPAN_ID = (10 << 3) | 2;
const T_OBSERVED_TIME = (11 << 3) | 1;
const T_EVENT_NAME = (12 << 3) | 2;
const T_KEY = (1 << 3) | 2;
const T_VALUE = (2 << 3) | 2;
const T_STRING = (1 << 3) | 2;
const T_BOOL = (2 << 3) | 0;
const T_INT = (3 << 3) | 0;
const T_DOUBLE = (4 << 3) | 1;
const T_ARRAY = (5 << 3) | 2;
const T_KVLIST = (6 << 3) | 2;
const T_BYTES = (7 << 3) | 2;
const T_VALUES = (1 << 3) | 2;

/**
 * Decodes an OTLP/protobuf request. Throws SecmonError OTLP_MALFORMED when the bytes are not a
 * valid ExportLogsServiceRequest; bad records are rejected or ignored, not thrown.
 */
export function decodeLogsProtobuf(bytes: Uint8Array, arrivalMs: number): DecodedBatch {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = pb.Reader.create(buffer) as Reader;
  const out = new BatchBuilder(arrivalMs);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === T_RESOURCE_LOGS) decodeResourceLogs(r, enter(r), out);
      else skip(r, tag);
    }
  } catch (err) {
    if (err instanceof SecmonError) throw err;
    throw new SecmonError("OTLP_MALFORMED", `invalid protobuf: ${(err as Error).message}`, { cause: err });
  }
  return out.finish();
}

function malformed(detail: string): SecmonError {
  return new SecmonError("OTLP_MALFORMED", `invalid protobuf: ${detail}`);
}

/** Reads a length prefix; returns the end offset of the length-delimited field. */
function enter(r: Reader): number {
  const len = r.size();
  const end = r.pos + len;
  if (end > r.len) throw malformed(`length ${len} at offset ${r.pos} runs past the end of the message`);
  return end;
}

/** Checks that a nested message ended exactly at its declared end. */
function leave(r: Reader, end: number): void {
  if (r.pos !== end) throw malformed(`nested message overruns its length at offset ${end}`);
}

function skip(r: Reader, tag: number): void {
  r.skipType(tag & 7, 0, tag >>> 3);
}

function decodeResourceLogs(r: Reader, end: number, out: BatchBuilder): void {
  // The resource may come after the scope logs on the wire: note where each part is first.
  let resourceStart = -1;
  let resourceEnd = -1;
  const scopes: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T_RESOURCE) {
      const e = enter(r);
      resourceStart = r.pos;
      resourceEnd = e;
      r.pos = e;
    } else if (tag === T_SCOPE_LOGS) {
      const e = enter(r);
      scopes.push(r.pos, e);
      r.pos = e;
    } else skip(r, tag);
  }
  leave(r, end);
  let resource: Attributes = {};
  if (resourceStart >= 0) {
    r.pos = resourceStart;
    resource = decodeResource(r, resourceEnd);
  }
  Object.freeze(resource);
  const service = serviceOf(resource);
  for (let i = 0; i < scopes.length; i += 2) {
    r.pos = scopes[i] as number;
    decodeScopeLogs(r, scopes[i + 1] as number, out, resource, service);
  }
  r.pos = end;
}

function decodeResource(r: Reader, end: number): Attributes {
  const attrs: Attributes = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T_ATTRIBUTES_RESOURCE) {
      const e = enter(r);
      const key = readKeyValue(r, e);
      // Resource attributes are not validated; values an event cannot hold are left out.
      if (kvValue !== undefined && kvKind !== "kvlist" && !kvNested) setAttr(attrs, key, kvValue);
    } else skip(r, tag);
  }
  leave(r, end);
  return attrs;
}

function decodeScopeLogs(
  r: Reader,
  end: number,
  out: BatchBuilder,
  resource: Attributes,
  service: string,
): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T_LOG_RECORDS) {
      const e = enter(r);
      out.add(decodeLogRecord(r, e), resource, service);
    } else skip(r, tag);
  }
  leave(r, end);
}

const check: AttrCheck = { value: "", error: undefined };
const recordParts: RecordParts = emptyParts();

function decodeLogRecord(r: Reader, end: number): RecordParts {
  // One parts object for every record: BatchBuilder.add copies what it keeps.
  const parts = resetParts(recordParts);
  const attrs = parts.attributes;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T_TIME:
        parts.timeMs = readNanosAsMs(r);
        break;
      case T_OBSERVED_TIME:
        parts.observedMs = readNanosAsMs(r);
        break;
      case T_SEVERITY_NUMBER: {
        const n = r.int32();
        parts.severityNumber = n === 0 ? undefined : n;
        break;
      }
      case T_SEVERITY_TEXT: {
        const s = readString(r);
        parts.severityText = s === "" ? undefined : s;
        break;
      }
      case T_BODY: {
        const e = enter(r);
        const start = r.pos;
        const value = readAnyValue(r, e);
        if (valueKind === "string") parts.body = value as string;
        else if (valueKind !== "empty") {
          r.pos = start;
          parts.body = JSON.stringify(readPlain(r, e, 0));
        }
        break;
      }
      case T_ATTRIBUTES: {
        const e = enter(r);
        parts.attributeCount++;
        if (parts.attributeCount > LIMITS.maxAttributes) {
          r.pos = e;
          break;
        }
        if (fastKeyValue(r, e, parts, attrs)) break;
        const key = readKeyValue(r, e);
        addAttribute(parts, attrs, key);
        break;
      }
      case T_TRACE_ID:
        parts.traceId = readId(r, 16);
        break;
      case T_SPAN_ID:
        parts.spanId = readId(r, 8);
        break;
      case T_EVENT_NAME:
        parts.eventName = readString(r);
        break;
      default:
        skip(r, tag);
    }
  }
  leave(r, end);
  return parts;
}

/**
 * The common KeyValue, as every OTLP SDK writes it, read straight from the bytes: key (field 1,
 * shorter than 128 bytes) then value (field 2) holding exactly one string (shorter than 128
 * bytes), int, double or bool. Returns false, consuming nothing, for anything else: the
 * general path then reads it.
 */
function fastKeyValue(r: Reader, end: number, parts: RecordParts, attrs: Attributes): boolean {
  const buf = r.buf;
  const p = r.pos;
  if (p + 4 > end || buf[p] !== T_KEY) return false;
  const keyLen = buf[p + 1] as number;
  const keyStart = p + 2;
  const keyEnd = keyStart + keyLen;
  if (keyLen >= 0x80 || keyEnd + 3 > end || buf[keyEnd] !== T_VALUE) return false;
  const valueLen = buf[keyEnd + 1] as number;
  const v = keyEnd + 2;
  if (valueLen >= 0x80 || v + valueLen !== end) return false;
  let value: Scalar;
  let kind: ValueKind;
  switch (buf[v]) {
    case T_STRING: {
      const len = buf[v + 1] as number;
      if (len >= 0x80 || v + 2 + len !== end) return false;
      value = cachedUtf8(buf, v + 2, end);
      kind = "string";
      break;
    }
    case T_INT: {
      r.pos = v + 1;
      value = readInt64(r);
      if (r.pos !== end) {
        r.pos = p;
        return false;
      }
      kind = "int";
      break;
    }
    case T_DOUBLE:
      if (v + 9 !== end) return false;
      value = buf.readDoubleLE(v + 1);
      kind = "double";
      break;
    case T_BOOL: {
      const b = buf[v + 1] as number;
      if (b >= 0x80 || v + 2 !== end) return false;
      value = b !== 0;
      kind = "bool";
      break;
    }
    default:
      return false;
  }
  const key = cachedUtf8(buf, keyStart, keyEnd);
  r.pos = end;
  checkAttribute(key, kind, value, check);
  if (check.error !== undefined) noteProblem(parts, "invalid_attribute", check.error);
  else setAttr(attrs, key, check.value);
  return true;
}

function addAttribute(parts: RecordParts, attrs: Attributes, key: string): void {
  const kind = kvKind;
  const value = kvValue;
  if (kind === "empty") return;
  if (kind === "kvlist") {
    noteProblem(parts, "invalid_attribute", `attribute ${key} is a kvlist; kvlist values are not accepted`);
    return;
  }
  if (kvNested) {
    noteProblem(parts, "invalid_attribute", `attribute ${key} is an array holding arrays or kvlists`);
    return;
  }
  if (kvTooLong) {
    noteProblem(
      parts,
      "value_too_long",
      `attribute ${key} has a string value longer than ${LIMITS.maxStringBytes} bytes`,
    );
    return;
  }
  checkAttribute(key, kind, value as AttrValue, check);
  if (check.error !== undefined) {
    noteProblem(parts, "invalid_attribute", check.error);
    return;
  }
  setAttr(attrs, key, check.value);
}

// What the last readAnyValue / readKeyValue saw. Module state instead of result objects keeps
// the per-attribute path free of allocations; the decoder is synchronous, so this is safe.
let valueKind: ValueKind = "empty";
let valueTooLong = false;
let valueNested = false;
let kvKind: ValueKind = "empty";
let kvValue: AttrValue | undefined;
let kvTooLong = false;
let kvNested = false;

/** Reads a KeyValue; returns the key and leaves the value in kvKind / kvValue / kvTooLong / kvNested. */
function readKeyValue(r: Reader, end: number): string {
  let key = "";
  kvKind = "empty";
  kvValue = undefined;
  kvTooLong = false;
  kvNested = false;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === T_KEY) key = readString(r);
    else if (tag === T_VALUE) {
      const e = enter(r);
      kvValue = readAnyValue(r, e);
      kvKind = valueKind;
      kvTooLong = valueTooLong;
      kvNested = valueNested;
    } else skip(r, tag);
  }
  leave(r, end);
  return key;
}

/**
 * Reads an AnyValue for an attribute. Strings longer than the limit are skipped, not decoded
 * (valueTooLong); arrays keep scalar elements only (valueNested flags arrays/kvlists inside);
 * kvlists are skipped (valueKind "kvlist").
 */
function readAnyValue(r: Reader, end: number): AttrValue | undefined {
  let kind: ValueKind = "empty";
  let value: AttrValue | undefined;
  let tooLong = false;
  let nested = false;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T_ARRAY: {
        kind = "array";
        const e = enter(r);
        const values: Scalar[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t === T_VALUES) {
            const ee = enter(r);
            const element = readScalarValue(r, ee);
            if (element !== undefined) values.push(element);
            if (elementNested) nested = true;
            if (elementTooLong) tooLong = true;
          } else skip(r, t);
        }
        leave(r, e);
        value = values;
        break;
      }
      case T_KVLIST: {
        kind = "kvlist";
        const len = r.size();
        r.skip(len);
        value = undefined;
        break;
      }
      default: {
        const scalar = readScalar(r, tag, LIMITS.maxStringBytes);
        if (scalar === undefined) skip(r, tag);
        else {
          kind = scalarKind;
          value = scalar;
          if (scalarTooLong) tooLong = true;
        }
      }
    }
  }
  leave(r, end);
  valueKind = kind;
  valueTooLong = tooLong;
  valueNested = nested;
  return value;
}

let elementNested = false;
let elementTooLong = false;

/** What the last {@link readScalar} read: its kind, and whether a string was over the limit. */
let scalarKind: ValueKind = "empty";
let scalarTooLong = false;

/**
 * The scalar of AnyValue field `tag` (string, bool, int, double, or bytes as base64), or undefined,
 * consuming nothing, when the field is not a scalar. A string longer than `maxStringBytes` is
 * skipped, not decoded: "" with scalarTooLong set.
 */
function readScalar(r: Reader, tag: number, maxStringBytes: number): Scalar | undefined {
  scalarTooLong = false;
  switch (tag) {
    case T_STRING: {
      scalarKind = "string";
      const len = r.size();
      if (len <= maxStringBytes) return readUtf8(r, len);
      scalarTooLong = true;
      r.skip(len);
      return "";
    }
    case T_BOOL:
      scalarKind = "bool";
      return r.bool();
    case T_INT:
      scalarKind = "int";
      return readInt64(r);
    case T_DOUBLE:
      scalarKind = "double";
      return r.double();
    case T_BYTES: {
      scalarKind = "bytes";
      const e = enter(r);
      const value = r.buf.toString("base64", r.pos, e);
      r.pos = e;
      return value;
    }
    default:
      return undefined;
  }
}

/** An array element: a scalar, or undefined (empty, or an array / kvlist, which sets elementNested). */
function readScalarValue(r: Reader, end: number): Scalar | undefined {
  let value: Scalar | undefined;
  elementNested = false;
  elementTooLong = false;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T_ARRAY:
      case T_KVLIST:
        elementNested = true;
        value = undefined;
        r.skip(r.size());
        break;
      default: {
        const scalar = readScalar(r, tag, LIMITS.maxStringBytes);
        if (scalar === undefined) skip(r, tag);
        else {
          value = scalar;
          if (scalarTooLong) elementTooLong = true;
        }
      }
    }
  }
  leave(r, end);
  return value;
}

/** Any AnyValue as a plain JSON value (kvlists become objects), for non-string bodies. */
function readPlain(r: Reader, end: number, depth: number): unknown {
  if (depth > LIMITS.maxBodyDepth) throw malformed(`body nested deeper than ${LIMITS.maxBodyDepth} levels`);
  let value: unknown = null;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case T_ARRAY: {
        const e = enter(r);
        const values: unknown[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t === T_VALUES) {
            const ee = enter(r);
            values.push(readPlain(r, ee, depth + 1));
          } else skip(r, t);
        }
        leave(r, e);
        value = values;
        break;
      }
      case T_KVLIST: {
        const e = enter(r);
        const obj: Record<string, unknown> = {};
        while (r.pos < e) {
          const t = r.uint32();
          if (t === T_VALUES) {
            const ee = enter(r);
            let key = "";
            let v: unknown = null;
            while (r.pos < ee) {
              const kt = r.uint32();
              if (kt === T_KEY) key = readString(r);
              else if (kt === T_VALUE) {
                const ve = enter(r);
                v = readPlain(r, ve, depth + 1);
              } else skip(r, kt);
            }
            leave(r, ee);
            Object.defineProperty(obj, key, {
              value: v,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else skip(r, t);
        }
        leave(r, e);
        value = obj;
        break;
      }
      default: {
        const scalar = readScalar(r, tag, Infinity);
        if (scalar === undefined) skip(r, tag);
        else value = scalar;
      }
    }
  }
  leave(r, end);
  return value;
}

/**
 * Short strings repeat a lot in OTLP (attribute keys, enum values, routes, addresses): a small
 * direct-mapped cache from bytes to string saves most UTF-8 decoding and gives V8 the same string
 * object for every property key. Bounded: CACHE_SLOTS strings of at most CACHE_MAX_BYTES bytes.
 */
const CACHE_SLOTS = 4096;
const CACHE_MAX_BYTES = 64;
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_MAX_BYTES);
const cacheLengths = new Int32Array(CACHE_SLOTS).fill(-1);
const cacheStrings: string[] = new Array<string>(CACHE_SLOTS).fill("");

// Buffer's own slice decoders (what toString calls after checking its arguments); fall back to
// toString where they are missing.
type SliceBuffer = Buffer & {
  utf8Slice?: (start: number, end: number) => string;
  hexSlice?: (start: number, end: number) => string;
};
const HAS_SLICES =
  typeof (Buffer.prototype as SliceBuffer).utf8Slice === "function" &&
  typeof (Buffer.prototype as SliceBuffer).hexSlice === "function";

function utf8(buf: Buffer, start: number, end: number): string {
  return HAS_SLICES ? (buf as SliceBuffer).utf8Slice!(start, end) : buf.toString("utf8", start, end);
}

function hex(buf: Buffer, start: number, end: number): string {
  return HAS_SLICES ? (buf as SliceBuffer).hexSlice!(start, end) : buf.toString("hex", start, end);
}

/** The UTF-8 string of `len` bytes at the reader's position (the length prefix already read). */
function readUtf8(r: Reader, len: number): string {
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw malformed(`string of ${len} bytes at offset ${start} runs past the end`);
  r.pos = end;
  return cachedUtf8(r.buf, start, end);
}

/** buf[start, end) as a string, through the cache when short. */
function cachedUtf8(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len > CACHE_MAX_BYTES) return utf8(buf, start, end);
  if (len === 0) return "";
  let h = 0x811c9dc5 ^ len;
  if (len <= 8) {
    for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  } else {
    // Sample: the ends and the middle tell most repeated OTLP strings apart; the compare below
    // makes a collision cost a decode, never a wrong string.
    const mid = start + (len >> 1);
    h = Math.imul(h ^ (buf[start] as number), 0x01000193);
    h = Math.imul(h ^ (buf[start + 1] as number), 0x01000193);
    h = Math.imul(h ^ (buf[mid - 1] as number), 0x01000193);
    h = Math.imul(h ^ (buf[mid] as number), 0x01000193);
    h = Math.imul(h ^ (buf[end - 4] as number), 0x01000193);
    h = Math.imul(h ^ (buf[end - 3] as number), 0x01000193);
    h = Math.imul(h ^ (buf[end - 2] as number), 0x01000193);
    h = Math.imul(h ^ (buf[end - 1] as number), 0x01000193);
  }
  const slot = (h >>> 0) % CACHE_SLOTS;
  const base = slot * CACHE_MAX_BYTES;
  if (cacheLengths[slot] === len) {
    let i = 0;
    while (i < len && cacheBytes[base + i] === buf[start + i]) i++;
    if (i === len) return cacheStrings[slot] as string;
  }
  const s = utf8(buf, start, end);
  for (let i = 0; i < len; i++) cacheBytes[base + i] = buf[start + i] as number;
  cacheLengths[slot] = len;
  cacheStrings[slot] = s;
  return s;
}

/** A length-prefixed string (keys, names, texts) through the cache. */
function readString(r: Reader): string {
  return readUtf8(r, r.size());
}

/** fixed64 nanoseconds → whole milliseconds, exactly (no rounding of a 64-bit double). */
function readNanosAsMs(r: Reader): number {
  const lo = r.fixed32();
  const hi = r.fixed32();
  // hi·2^32 + lo = hi·4294·10^6 + (hi·967296 + lo); both terms stay below 2^53.
  return hi * 4294 + Math.floor((hi * 967296 + lo) / 1e6);
}

/** A varint int64 as a number (two's complement for negatives; beyond 2^53 loses precision). */
function readInt64(r: Reader): number {
  const buf = r.buf;
  let pos = r.pos;
  let lo = 0;
  let b: number;
  let i = 0;
  for (; i < 4; i++) {
    if (pos >= r.len) throw malformed("truncated varint");
    b = buf[pos++] as number;
    lo |= (b & 0x7f) << (i * 7);
    if (b < 0x80) {
      r.pos = pos;
      return lo >>> 0;
    }
  }
  if (pos >= r.len) throw malformed("truncated varint");
  b = buf[pos++] as number;
  lo |= (b & 0x7f) << 28;
  let hi = (b & 0x7f) >> 4;
  if (b >= 0x80) {
    for (i = 0; i < 5; i++) {
      if (pos >= r.len) throw malformed("truncated varint");
      b = buf[pos++] as number;
      hi |= (b & 0x7f) << (i * 7 + 3);
      if (b < 0x80) break;
    }
    if (b >= 0x80) throw malformed("varint longer than 10 bytes");
  }
  r.pos = pos;
  lo >>>= 0;
  hi >>>= 0;
  if (hi & 0x80000000) {
    // Negative: -(2^64 - value).
    return -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1);
  }
  return hi * 4294967296 + lo;
}

/** A trace or span id as lowercase hex; undefined when missing, all zero or of the wrong length. */
function readId(r: Reader, size: number): string | undefined {
  const end = enter(r);
  const start = r.pos;
  r.pos = end;
  if (end - start !== size) return undefined;
  const buf = r.buf;
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0) return hex(buf, start, end);
  }
  return undefined;
}
