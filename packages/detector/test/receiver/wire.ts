/**
 * Hand-built OTLP protobuf bytes for decoder edge cases (field order, unknown fields, wire types
 * the SDK never writes). Messages are built bottom-up: each helper returns the encoded message.
 */
import pb from "protobufjs/minimal.js";

export type AnyValueSpec =
  | { string: string }
  | { bool: boolean }
  | { int: number | string }
  | { double: number }
  | { bytes: Uint8Array }
  | { array: Uint8Array[] }
  | { kvlist: Uint8Array[] }
  | { raw: Uint8Array };

function done(w: pb.Writer): Uint8Array {
  return w.finish();
}

export function anyValue(spec: AnyValueSpec): Uint8Array {
  const w = pb.Writer.create();
  if ("string" in spec) w.uint32((1 << 3) | 2).string(spec.string);
  else if ("bool" in spec) w.uint32((2 << 3) | 0).bool(spec.bool);
  else if ("int" in spec) w.uint32((3 << 3) | 0).int64(spec.int);
  else if ("double" in spec) w.uint32((4 << 3) | 1).double(spec.double);
  else if ("bytes" in spec) w.uint32((7 << 3) | 2).bytes(spec.bytes);
  else if ("array" in spec) w.uint32((5 << 3) | 2).bytes(concat(spec.array.map((v) => field(1, v))));
  else if ("kvlist" in spec) w.uint32((6 << 3) | 2).bytes(concat(spec.kvlist.map((v) => field(1, v))));
  else return spec.raw;
  return done(w);
}

export function keyValue(key: string, value: AnyValueSpec | undefined): Uint8Array {
  const w = pb.Writer.create()
    .uint32((1 << 3) | 2)
    .string(key);
  if (value !== undefined) w.uint32((2 << 3) | 2).bytes(anyValue(value));
  return done(w);
}

/** A length-delimited field holding `bytes`. */
export function field(num: number, bytes: Uint8Array): Uint8Array {
  return done(
    pb.Writer.create()
      .uint32((num << 3) | 2)
      .bytes(bytes),
  );
}

/** Unknown fields of every wire type, numbered high so no known field matches. */
export function unknownFields(): Uint8Array {
  const w = pb.Writer.create();
  w.uint32((100 << 3) | 0).uint64(123456789012);
  w.uint32((101 << 3) | 1).fixed64(7);
  w.uint32((102 << 3) | 2).string("skip me");
  w.uint32((103 << 3) | 5).fixed32(9);
  // A group with a nested varint, closed by its end tag.
  w.uint32((104 << 3) | 3)
    .uint32((1 << 3) | 0)
    .uint32(5)
    .uint32((104 << 3) | 4);
  return done(w);
}

export interface LogRecordSpec {
  timeNanos?: number | string;
  observedNanos?: number | string;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValueSpec;
  attributes?: Uint8Array[];
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
  /** Extra bytes appended to the record (unknown fields, wrong wire types). */
  extra?: Uint8Array;
}

export function logRecord(spec: LogRecordSpec): Uint8Array {
  const w = pb.Writer.create();
  if (spec.timeNanos !== undefined) w.uint32((1 << 3) | 1).fixed64(spec.timeNanos);
  if (spec.severityNumber !== undefined) w.uint32((2 << 3) | 0).int32(spec.severityNumber);
  if (spec.severityText !== undefined) w.uint32((3 << 3) | 2).string(spec.severityText);
  if (spec.body !== undefined) w.uint32((5 << 3) | 2).bytes(anyValue(spec.body));
  for (const a of spec.attributes ?? []) w.uint32((6 << 3) | 2).bytes(a);
  if (spec.traceId !== undefined) w.uint32((9 << 3) | 2).bytes(spec.traceId);
  if (spec.spanId !== undefined) w.uint32((10 << 3) | 2).bytes(spec.spanId);
  if (spec.observedNanos !== undefined) w.uint32((11 << 3) | 1).fixed64(spec.observedNanos);
  if (spec.eventName !== undefined) w.uint32((12 << 3) | 2).string(spec.eventName);
  return concat([done(w), spec.extra ?? new Uint8Array()]);
}

export interface ResourceLogsSpec {
  resourceAttributes?: Uint8Array[];
  records: Uint8Array[];
  /** Put the resource after the scope logs on the wire. */
  resourceLast?: boolean;
  extra?: Uint8Array;
}

export function resourceLogs(spec: ResourceLogsSpec): Uint8Array {
  const resource =
    spec.resourceAttributes === undefined
      ? new Uint8Array()
      : field(1, concat(spec.resourceAttributes.map((a) => field(1, a))));
  const scope = field(2, concat([field(1, new Uint8Array()), ...spec.records.map((r) => field(2, r))]));
  const parts = spec.resourceLast ? [scope, resource] : [resource, scope];
  return concat([...parts, spec.extra ?? new Uint8Array()]);
}

export function exportRequest(resources: Uint8Array[]): Uint8Array {
  return concat(resources.map((r) => field(1, r)));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
