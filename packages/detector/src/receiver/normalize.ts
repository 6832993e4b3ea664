/**
 * Normalisation shared by the protobuf and JSON decoders (spec: security-events.md, "How the
 * detector treats what it receives"): event name, event time, service, attribute types and the
 * per-record limits. Both decoders feed one {@link BatchBuilder} per request.
 */
import { ATTR, ATTR_EVENT_NAME, RESOURCE_ATTR } from "@secmon/semconv";
import type { AttrValue, Attributes, DecodedBatch, RejectReason, Scalar, SecurityEvent } from "../event.ts";

/** Per-record limits. A security event record beyond them is rejected (not truncated). */
export const LIMITS = {
  /** Attributes per record. */
  maxAttributes: 128,
  /** UTF-8 bytes per string attribute value (also per string element of an array). */
  maxStringBytes: 8 * 1024,
  /** Characters of an event name. */
  maxEventNameLength: 256,
  /** Event times at or after 2200-01-01T00:00:00Z are invalid. */
  maxTimeMs: Date.UTC(2200, 0, 1),
  /** Deepest nesting of arrays / kvlists rendered for a non-string body; deeper is malformed. */
  maxBodyDepth: 32,
} as const;

/** Service name used when the resource carries no `service.name` (as the OTel SDKs do). */
export const UNKNOWN_SERVICE = "unknown_service";

/** The type an attribute of the spec must have. */
export type AttrType = "string" | "int" | "double" | "string[]";

const INT_ATTRS: readonly string[] = [
  ATTR.HTTP_RESPONSE_STATUS_CODE,
  ATTR.HTTP_RESPONSE_BODY_SIZE,
  ATTR.HTTP_REQUEST_BODY_SIZE,
  ATTR.DATA_RECORD_COUNT,
  ATTR.DATA_BYTES,
];
const DOUBLE_ATTRS: readonly string[] = [
  ATTR.HTTP_SERVER_REQUEST_DURATION,
  ATTR.GEO_LOCATION_LAT,
  ATTR.GEO_LOCATION_LON,
];
const STRING_ARRAY_ATTRS: readonly string[] = [ATTR.AUTHZ_MISSING_PERMISSIONS];

/** Spec type of every attribute key of the spec (security-events.md tables); strings for the rest. */
export const ATTRIBUTE_TYPES: ReadonlyMap<string, AttrType> = new Map(
  Object.values(ATTR).map((key): [string, AttrType] => [
    key,
    INT_ATTRS.includes(key)
      ? "int"
      : DOUBLE_ATTRS.includes(key)
        ? "double"
        : STRING_ARRAY_ATTRS.includes(key)
          ? "string[]"
          : "string",
  ]),
);

/** What an OTLP AnyValue held, as the decoders saw it. */
export type ValueKind = "string" | "bool" | "int" | "double" | "bytes" | "array" | "kvlist" | "empty";

const KIND_TEXT: Record<ValueKind, string> = {
  string: "string",
  bool: "bool",
  int: "int",
  double: "double",
  bytes: "bytes",
  array: "array",
  kvlist: "kvlist",
  empty: "empty value",
};

const INT_TEXT = /^\s*[-+]?\d+\s*$/;

/**
 * Result of {@link checkAttribute}: the value to keep, or why the record is rejected. One mutable
 * object per decoder call, so the hot path allocates nothing.
 */
export interface AttrCheck {
  value: AttrValue;
  error: string | undefined;
}

/**
 * Checks an attribute value against the spec type of its key and coerces numeric strings of
 * numeric attributes to numbers ("an int sent as a string still compares as a number").
 * `value` is the decoded value (arrays: elements already checked to be scalars); sets
 * `out.value` / `out.error`.
 */
export function checkAttribute(key: string, kind: ValueKind, value: AttrValue, out: AttrCheck): void {
  out.value = value;
  out.error = undefined;
  const type = ATTRIBUTE_TYPES.get(key);
  if (type === undefined) return;
  switch (type) {
    case "string":
      if (kind !== "string") out.error = `attribute ${key} must be a string, got ${KIND_TEXT[kind]}`;
      return;
    case "int":
      if (kind === "int") return;
      if (kind === "double" && Number.isInteger(value)) return;
      if (kind === "string" && INT_TEXT.test(value as string)) {
        out.value = Number(value);
        return;
      }
      out.error = `attribute ${key} must be an int, got ${describe(kind, value)}`;
      return;
    case "double":
      if (kind === "double" || kind === "int") return;
      if (kind === "string") {
        const text = (value as string).trim();
        const n = Number(text);
        if (text !== "" && Number.isFinite(n)) {
          out.value = n;
          return;
        }
      }
      out.error = `attribute ${key} must be a double, got ${describe(kind, value)}`;
      return;
    case "string[]":
      if (kind === "array" && (value as readonly Scalar[]).every((v) => typeof v === "string")) return;
      out.error = `attribute ${key} must be an array of strings, got ${kind === "string" ? "string" : describe(kind, value)}`;
      return;
  }
}

function describe(kind: ValueKind, value: AttrValue): string {
  if (kind === "string") return "non-numeric string";
  if (kind === "double") return "double with a fraction";
  if (kind === "array") {
    const bad = (value as readonly Scalar[]).find((v) => typeof v !== "string");
    return `array holding a ${typeof bad === "boolean" ? "bool" : "number"}`;
  }
  return KIND_TEXT[kind];
}

/** Message text for a record, as OTLP partial success `error_message` carries it. */
export function recordMessage(index: number, name: string, problem: string): string {
  return `record ${index} (${name}): ${problem}`;
}

/** Sets `attrs[key]`, also for the key `__proto__` (which must not change the prototype). */
export function setAttr(attrs: Attributes, key: string, value: AttrValue): void {
  if (key === "__proto__") {
    Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

/** Resource `service.name`, or `unknown_service`. */
export function serviceOf(resource: Attributes): string {
  const value = resource[RESOURCE_ATTR.SERVICE_NAME];
  if (typeof value === "string") return value === "" ? UNKNOWN_SERVICE : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return UNKNOWN_SERVICE;
}

/**
 * The event name of a record: the `event_name` field, else the `event.name` attribute. Returns
 * `undefined` when neither is set (the record is ignored).
 */
export function eventNameOf(field: string | undefined, attrs: Attributes): AttrValue | undefined {
  if (field !== undefined && field !== "") return field;
  const attr = attrs[ATTR_EVENT_NAME];
  if (attr === undefined || attr === "") return undefined;
  return attr;
}

/** Problem with an event name, or undefined when it is acceptable. */
export function eventNameProblem(name: AttrValue): string | undefined {
  if (typeof name !== "string") return `attribute ${ATTR_EVENT_NAME} must be a string`;
  if (name.length > LIMITS.maxEventNameLength) {
    return `event name is ${name.length} characters long, more than ${LIMITS.maxEventNameLength}`;
  }
  return undefined;
}

/** Lowercase hex of an id, or undefined when it is empty or all zero. */
export function idOrUndefined(hex: string | undefined): string | undefined {
  if (hex === undefined || hex === "") return undefined;
  return /^0+$/.test(hex) ? undefined : hex;
}

/** Everything a decoder collects about one record before it is accepted, rejected or ignored. */
export interface RecordParts {
  eventName: string | undefined;
  timeMs: number;
  observedMs: number;
  severityNumber: number | undefined;
  severityText: string | undefined;
  body: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
  attributes: Attributes;
  attributeCount: number;
  /** The first problem found in the record's fields, with its reason. */
  problem: string | undefined;
  reason: RejectReason | undefined;
}

export function emptyParts(): RecordParts {
  return resetParts({} as RecordParts);
}

/** Clears `parts` for the next record (a fresh attributes object) and returns it. */
export function resetParts(parts: RecordParts): RecordParts {
  parts.eventName = undefined;
  parts.timeMs = 0;
  parts.observedMs = 0;
  parts.severityNumber = undefined;
  parts.severityText = undefined;
  parts.body = undefined;
  parts.traceId = undefined;
  parts.spanId = undefined;
  parts.attributes = {};
  parts.attributeCount = 0;
  parts.problem = undefined;
  parts.reason = undefined;
  return parts;
}

/** Notes the first problem of a record; later ones are not reported. */
export function noteProblem(parts: RecordParts, reason: RejectReason, problem: string): void {
  if (parts.reason === undefined) {
    parts.reason = reason;
    parts.problem = problem;
  }
}

/** Accumulates the outcome of one request's records. */
export class BatchBuilder {
  readonly events: SecurityEvent[] = [];
  ignored = 0;
  readonly rejected: Partial<Record<RejectReason, number>> = {};
  rejectMessage: string | undefined;
  /** Events dated at arrival (no time, no observed time). */
  arrivalDated = 0;
  /** Index of the next record in the request (0-based, across all resources and scopes). */
  index = 0;
  readonly arrivalMs: number;

  constructor(arrivalMs: number) {
    this.arrivalMs = arrivalMs;
  }

  /** Accepts, rejects or ignores one record. */
  add(parts: RecordParts, resource: Attributes, service: string): void {
    const index = this.index++;
    const name = eventNameOf(parts.eventName, parts.attributes);
    if (name === undefined) {
      this.ignored++;
      return;
    }
    const nameProblem = eventNameProblem(name);
    if (nameProblem !== undefined) {
      this.reject("invalid_event_name", index, name, nameProblem);
      return;
    }
    if (parts.attributeCount > LIMITS.maxAttributes) {
      const problem = `${parts.attributeCount} attributes, more than ${LIMITS.maxAttributes}`;
      this.reject("too_many_attributes", index, name, problem);
      return;
    }
    if (parts.reason !== undefined) {
      this.reject(parts.reason, index, name, parts.problem ?? parts.reason);
      return;
    }
    let time = parts.timeMs;
    if (time === 0) time = parts.observedMs;
    if (time >= LIMITS.maxTimeMs || parts.observedMs >= LIMITS.maxTimeMs) {
      this.reject("invalid_timestamp", index, name, "timestamp is beyond the year 2200");
      return;
    }
    if (time === 0) {
      time = this.arrivalMs;
      this.arrivalDated++;
    }
    this.events.push({
      name: name as string,
      time,
      service,
      attributes: parts.attributes,
      resource,
      severityNumber: parts.severityNumber,
      severityText: parts.severityText,
      body: parts.body,
      traceId: parts.traceId,
      spanId: parts.spanId,
    });
  }

  private reject(reason: RejectReason, index: number, name: AttrValue, problem: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    if (this.rejectMessage === undefined) {
      const shown = typeof name === "string" ? name.slice(0, 64) : "?";
      this.rejectMessage = recordMessage(index, shown, problem);
    }
  }

  finish(): DecodedBatch {
    return {
      events: this.events,
      ignored: this.ignored,
      rejected: this.rejected,
      ...(this.rejectMessage === undefined ? {} : { rejectMessage: this.rejectMessage }),
      ...(this.arrivalDated === 0 ? {} : { arrivalDated: this.arrivalDated }),
    };
  }
}

/** Number of rejected records of a batch. */
export function rejectedCount(batch: DecodedBatch): number {
  let n = 0;
  for (const v of Object.values(batch.rejected)) n += v ?? 0;
  return n;
}

/** OTLP SeverityNumber enum names (protobuf JSON may spell enums by name). */
export function severityFromName(name: string): number | undefined {
  const m = /^SEVERITY_NUMBER_(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)([2-4])?$/.exec(name);
  if (m === null) return undefined;
  const base = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 }[m[1] as string] ?? 0;
  return base + (m[2] === undefined ? 0 : Number(m[2]) - 1);
}
