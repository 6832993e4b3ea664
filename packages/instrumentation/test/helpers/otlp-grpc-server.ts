/**
 * A minimal OTLP/gRPC logs collector for tests: a grpc-js server that decodes
 * ExportLogsServiceRequest with protobufjs from the subset of the OTLP protos written below
 * (field numbers as in opentelemetry-proto: LogRecord.event_name is 12).
 */
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import type { sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import protobuf from "protobufjs";

const OTLP_LOGS_PROTO = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsServiceResponse {}
`;

const root = protobuf.parse(OTLP_LOGS_PROTO, { keepCase: true }).root;
const Request = root.lookupType("opentelemetry.proto.ExportLogsServiceRequest");
const Response = root.lookupType("opentelemetry.proto.ExportLogsServiceResponse");

/** An attribute value as decoded, tagged with its wire type. */
export type WireValue =
  | { type: "string_value"; value: string }
  | { type: "bool_value"; value: boolean }
  | { type: "int_value"; value: number }
  | { type: "double_value"; value: number }
  | { type: "array_value"; value: WireValue[] }
  | { type: "kvlist_value"; value: Record<string, WireValue> }
  | { type: "bytes_value"; value: Buffer };

export interface WireLogRecord {
  readonly eventName: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: WireValue | undefined;
  readonly attributes: Record<string, WireValue>;
  readonly traceId: string;
  readonly spanId: string;
  readonly timeUnixNano: bigint;
  readonly resource: Record<string, WireValue>;
  readonly scope: string;
}

interface DecodedAnyValue {
  value?: string;
  string_value?: string;
  bool_value?: boolean;
  int_value?: protobuf.Long | number;
  double_value?: number;
  array_value?: { values?: DecodedAnyValue[] };
  kvlist_value?: { values?: DecodedKeyValue[] };
  bytes_value?: Uint8Array;
}
interface DecodedKeyValue {
  key: string;
  value?: DecodedAnyValue;
}

function toWire(value: DecodedAnyValue | undefined): WireValue | undefined {
  switch (value?.value) {
    case "string_value":
      return { type: "string_value", value: value.string_value ?? "" };
    case "bool_value":
      return { type: "bool_value", value: value.bool_value ?? false };
    case "int_value":
      return { type: "int_value", value: Number(value.int_value ?? 0) };
    case "double_value":
      return { type: "double_value", value: value.double_value ?? 0 };
    case "array_value":
      return { type: "array_value", value: (value.array_value?.values ?? []).map((v) => toWire(v)!) };
    case "kvlist_value":
      return { type: "kvlist_value", value: toMap(value.kvlist_value?.values) };
    case "bytes_value":
      return { type: "bytes_value", value: Buffer.from(value.bytes_value ?? []) };
    default:
      return undefined;
  }
}

function toMap(values: DecodedKeyValue[] | undefined): Record<string, WireValue> {
  const out: Record<string, WireValue> = {};
  for (const kv of values ?? []) {
    const wire = toWire(kv.value);
    if (wire !== undefined) out[kv.key] = wire;
  }
  return out;
}

function decode(buffer: Buffer): WireLogRecord[] {
  const message = Request.toObject(Request.decode(buffer), { oneofs: true, longs: String }) as {
    resource_logs?: {
      resource?: { attributes?: DecodedKeyValue[] };
      scope_logs?: { scope?: { name?: string }; log_records?: Record<string, unknown>[] }[];
    }[];
  };
  const records: WireLogRecord[] = [];
  for (const rl of message.resource_logs ?? []) {
    const resource = toMap(rl.resource?.attributes);
    for (const sl of rl.scope_logs ?? []) {
      for (const lr of sl.log_records ?? []) {
        records.push({
          eventName: (lr.event_name as string | undefined) ?? "",
          severityNumber: (lr.severity_number as number | undefined) ?? 0,
          severityText: (lr.severity_text as string | undefined) ?? "",
          body: toWire(lr.body as DecodedAnyValue | undefined),
          attributes: toMap(lr.attributes as DecodedKeyValue[] | undefined),
          traceId: Buffer.from((lr.trace_id as Uint8Array | undefined) ?? []).toString("hex"),
          spanId: Buffer.from((lr.span_id as Uint8Array | undefined) ?? []).toString("hex"),
          timeUnixNano: BigInt((lr.time_unix_nano as string | undefined) ?? "0"),
          resource,
          scope: sl.scope?.name ?? "",
        });
      }
    }
  }
  return records;
}

export interface TestCollector {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every record received so far, decoded from the wire. */
  readonly records: WireLogRecord[];
  /** Raw request bodies received, for byte-level checks. */
  readonly rawRequests: Buffer[];
  close(): Promise<void>;
}

export async function startTestCollector(): Promise<TestCollector> {
  const records: WireLogRecord[] = [];
  const rawRequests: Buffer[] = [];
  const server = new Server();
  server.addService(
    {
      Export: {
        path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (buffer: Buffer) => buffer,
        responseSerialize: (value: object) =>
          Buffer.from(Response.encode(Response.fromObject(value)).finish()),
        responseDeserialize: (buffer: Buffer) => Response.decode(buffer),
      },
    },
    {
      Export: (call: ServerUnaryCall<Buffer, object>, callback: sendUnaryData<object>) => {
        try {
          rawRequests.push(call.request);
          records.push(...decode(call.request));
          callback(null, {});
        } catch (error) {
          callback({ code: status.INVALID_ARGUMENT, details: String(error) }, null);
        }
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    rawRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}
