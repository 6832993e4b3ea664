import { z } from "zod";
import { endpointSchema } from "../config/sections.ts";
import { secretRefSchema } from "../config/secret.ts";

const MiB = 1024 * 1024;

const tlsSchema = z
  .strictObject({
    cert_file: z.string().min(1).describe("PEM certificate chain the receiver presents"),
    key_file: z.string().min(1).describe("PEM private key of the certificate"),
    client_ca_file: z
      .string()
      .min(1)
      .optional()
      .describe("PEM CA bundle; when set, clients must present a certificate signed by it (mTLS)"),
  })
  .describe("Serve over TLS (off unless set)");

const authSchema = z
  .strictObject({
    bearer_token: secretRefSchema.describe(
      "Token senders must present as `Authorization: Bearer <token>` (gRPC metadata `authorization`)",
    ),
  })
  .describe("Require a bearer token (off unless set)");

const maxRequestBytes = z
  .number()
  .int()
  .min(1024)
  .max(256 * MiB)
  .default(4 * MiB)
  .describe(
    "Largest request accepted, in bytes; applies to the body as sent and again after decompression (gRPC RESOURCE_EXHAUSTED / HTTP 413 beyond it)",
  );

const shutdownGrace = z
  .number()
  .min(0)
  .max(300)
  .default(10)
  .describe("On stop, how long requests in flight may take to finish before connections are closed");

export const grpcReceiverSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve OTLP/gRPC"),
    endpoint: endpointSchema.default("127.0.0.1:4317").describe("host:port for OTLP/gRPC"),
    max_request_bytes: maxRequestBytes,
    http2_window_bytes: z
      .number()
      .int()
      .min(65_535)
      .max(2 ** 31 - 1)
      .default(16 * MiB)
      .describe(
        "HTTP/2 flow-control window the receiver grants per stream and per connection; the 64 KiB protocol default throttles large exports",
      ),
    max_concurrent_streams: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe("Export calls one connection may have in flight"),
    shutdown_grace_seconds: shutdownGrace,
    tls: tlsSchema.optional(),
    auth: authSchema.optional(),
  })
  .prefault({})
  .describe("OTLP/gRPC receiver (opentelemetry.proto.collector.logs.v1.LogsService/Export)");

export const httpReceiverSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve OTLP/HTTP"),
    endpoint: endpointSchema.default("127.0.0.1:4318").describe("host:port for OTLP/HTTP (POST /v1/logs)"),
    max_request_bytes: maxRequestBytes,
    retry_after_seconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(5)
      .describe("`Retry-After` sent with 503 when the detector is at capacity or its store is unavailable"),
    shutdown_grace_seconds: shutdownGrace,
    tls: tlsSchema.optional(),
    auth: authSchema.optional(),
  })
  .prefault({})
  .describe("OTLP/HTTP receiver (protobuf and JSON)");

/** Config section `receivers`. */
export const receiversSectionSchema = z
  .strictObject({
    otlp: z
      .strictObject({ grpc: grpcReceiverSchema, http: httpReceiverSchema })
      .prefault({})
      .describe("OTLP log receivers"),
  })
  .prefault({})
  .describe("Where the detector receives security events");

export type ReceiversConfig = z.infer<typeof receiversSectionSchema>;
export type GrpcReceiverConfig = z.infer<typeof grpcReceiverSchema>;
export type HttpReceiverConfig = z.infer<typeof httpReceiverSchema>;
export type ReceiverTlsConfig = z.infer<typeof tlsSchema>;
export type ReceiverAuthConfig = z.infer<typeof authSchema>;
