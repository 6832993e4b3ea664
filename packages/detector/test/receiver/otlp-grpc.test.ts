import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { ATTR, EVENT } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { grpcReceiverSchema } from "../../src/receiver/config.ts";
import { LOGS_EXPORT_PATH, OtlpGrpcReceiver } from "../../src/receiver/otlp-grpc.ts";
import { failedLogin, protobufRequest } from "./fixtures.ts";
import type { BuildReceiver } from "./receiver-suite.ts";
import { expectSecurityEventsReceived, receiverHarness, securityEvents } from "./receiver-suite.ts";
import { exportThrough, makeCerts } from "./sdk.ts";

type Compression = NonNullable<ConstructorParameters<typeof OTLPLogExporter>[0]>["compression"];
const GZIP = "gzip" as Compression;
const TOKEN = "s3cret-token";

const build: BuildReceiver<OtlpGrpcReceiver> = (config, deps) =>
  new OtlpGrpcReceiver({ config: grpcReceiverSchema.parse({ endpoint: "127.0.0.1:0", ...config }), ...deps });
const receivers = receiverHarness(build, TOKEN);
const { cleanups } = receivers;

async function setup(overrides: Record<string, unknown> = {}) {
  const started = await receivers.start(overrides);
  return { ...started, url: `http://127.0.0.1:${started.receiver.port}` };
}

function exporter(url: string, options: Partial<ConstructorParameters<typeof OTLPLogExporter>[0]> = {}) {
  const e = new OTLPLogExporter({ url, timeoutMillis: 10_000, ...options });
  cleanups.push(() => e.shutdown());
  return e;
}

const passthrough = (b: Buffer) => b;

/** A raw client: sends bytes as they are, returns the response bytes or the error. */
function rawClient(port: number | undefined, creds = grpc.credentials.createInsecure(), options = {}) {
  const client = new grpc.Client(`127.0.0.1:${port}`, creds, options);
  cleanups.push(() => client.close());
  return (bytes: Uint8Array, metadata = new grpc.Metadata()) =>
    new Promise<{ error?: grpc.ServiceError; response?: Buffer }>((resolve) => {
      client.makeUnaryRequest(
        LOGS_EXPORT_PATH,
        passthrough,
        passthrough,
        Buffer.from(bytes),
        metadata,
        (error: grpc.ServiceError | null, response?: Buffer) =>
          resolve(error ? { error } : { response: response ?? Buffer.alloc(0) }),
      );
    });
}

describe("OtlpGrpcReceiver", () => {
  for (const compression of [undefined, GZIP]) {
    it(`receives events from the real OTLP/gRPC exporter (compression: ${compression ?? "none"})`, async () => {
      const started = await setup();
      await expectSecurityEventsReceived(exporter(started.url, { compression }), started, "grpc");
    });
  }

  it("answers partial success with the count and the first problem", async () => {
    const { receiver, ingestor, metrics } = await setup();
    const send = rawClient(receiver.port);
    const bytes = protobufRequest([
      failedLogin("192.0.2.1"),
      { eventName: EVENT.API_REQUEST, attributes: { [ATTR.HTTP_RESPONSE_STATUS_CODE]: true } },
      { eventName: EVENT.API_REQUEST, attributes: { [ATTR.USER_ID]: 42 } },
    ]);
    const { error, response } = await send(bytes);
    expect(error).toBeUndefined();
    expect(ProtobufLogsSerializer.deserializeResponse(response!)).toEqual({
      partialSuccess: {
        rejectedLogRecords: 2,
        errorMessage: "record 1 (api.request): attribute http.response.status_code must be an int, got bool",
      },
    });
    expect(ingestor.events).toHaveLength(1);
    expect(await metrics.sum("secmon_events_rejected", { reason: "invalid_attribute" })).toBe(2);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "partial" })).toBe(1);
  });

  it("answers INVALID_ARGUMENT for bytes that are not an ExportLogsServiceRequest", async () => {
    const { receiver, ingestor, metrics } = await setup();
    const { error } = await rawClient(receiver.port)(new TextEncoder().encode("definitely not protobuf"));
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/not a valid OTLP ExportLogsServiceRequest/);
    expect(ingestor.accepted).toHaveLength(0);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "invalid" })).toBe(1);
    expect(await metrics.sum("secmon_events_received")).toBe(0);
  });

  it("answers RESOURCE_EXHAUSTED for requests over the size limit, also once decompressed (gzip bomb)", async () => {
    const { receiver, ingestor, metrics } = await setup({ max_request_bytes: 64 * 1024 });
    const big = protobufRequest(
      Array.from({ length: 40 }, (_, i) => ({ ...failedLogin(`10.0.0.${i}`), body: "x".repeat(4000) })),
    );
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect((await rawClient(receiver.port)(big)).error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // 16 MiB of zeros gzip to ~16 KiB: under the limit on the wire, far over it decompressed.
    const bomb = rawClient(receiver.port, undefined, { "grpc.default_compression_algorithm": 2 });
    const { error } = await bomb(new Uint8Array(16 * 1024 * 1024));
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(gzipSync(new Uint8Array(16 * 1024 * 1024)).length).toBeLessThan(64 * 1024);
    expect(ingestor.accepted).toHaveLength(0);
    expect(await metrics.sum("secmon_receiver_requests", { transport: "grpc", outcome: "too_large" })).toBe(
      2,
    );
  });

  it("requires the bearer token when auth is configured, checking it before the body", async () => {
    const { receiver, ingestor, metrics, url } = await setup({ auth: { bearer_token: { env: "UNUSED" } } });
    const send = rawClient(receiver.port);
    const bytes = protobufRequest([failedLogin("192.0.2.9")]);
    const wrong = new grpc.Metadata();
    wrong.set("authorization", "Bearer not-the-token");
    for (const md of [new grpc.Metadata(), wrong]) {
      const { error } = await send(bytes, md);
      expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    }
    expect(ingestor.accepted).toHaveLength(0);
    const good = new grpc.Metadata();
    good.set("authorization", `Bearer ${TOKEN}`);
    const result = await exportThrough(exporter(url, { metadata: good }), securityEvents);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(ingestor.accepted).toHaveLength(1);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "unauthenticated" })).toBe(2);
  });

  it("answers UNAVAILABLE when the ingestor refuses retryably, and counts no records", async () => {
    const { url, ingestor, metrics } = await setup();
    ingestor.failNext("INGEST_OVERLOADED");
    const result = await exportThrough(exporter(url), securityEvents);
    // The JS gRPC exporter reports UNAVAILABLE as a failure (it does not retry gRPC errors itself).
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect((result.error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    ingestor.failNext("INTERNAL");
    const permanent = await exportThrough(exporter(url), securityEvents);
    expect((permanent.error as grpc.ServiceError).code).toBe(grpc.status.INTERNAL);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "unavailable" })).toBe(1);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "error" })).toBe(1);
    expect(await metrics.sum("secmon_events_received")).toBe(0);
    expect(await metrics.sum("secmon_events_ignored")).toBe(0);
    // The sender's retry of the same bytes carries the same batch id.
    expect(ingestor.refused[0]?.ctx.batchId).toBeDefined();
  });

  it("serves over TLS and requires a client certificate when client_ca_file is set", async () => {
    const certs = makeCerts();
    const ca = readFileSync(certs.caCert);
    const tls = { cert_file: certs.serverCert, key_file: certs.serverKey };
    const plain = await setup({ tls });
    const tlsResult = await exportThrough(
      exporter(`https://localhost:${plain.receiver.port}`, { credentials: grpc.credentials.createSsl(ca) }),
      securityEvents,
    );
    expect(tlsResult.code).toBe(ExportResultCode.SUCCESS);
    expect(plain.ingestor.accepted).toHaveLength(1);

    const mtls = await setup({ tls: { ...tls, client_ca_file: certs.caCert } });
    const mtlsUrl = `https://localhost:${mtls.receiver.port}`;
    const noClientCert = await exportThrough(
      exporter(mtlsUrl, { credentials: grpc.credentials.createSsl(ca), timeoutMillis: 3000 }),
      securityEvents,
    );
    expect(noClientCert.code).toBe(ExportResultCode.FAILED);
    const withClientCert = grpc.credentials.createSsl(
      ca,
      readFileSync(certs.clientKey),
      readFileSync(certs.clientCert),
    );
    const ok = await exportThrough(exporter(mtlsUrl, { credentials: withClientCert }), securityEvents);
    expect(ok.code).toBe(ExportResultCode.SUCCESS);
    expect(mtls.ingestor.accepted).toHaveLength(1);
  });

  it("grants large HTTP/2 flow-control windows", async () => {
    const { receiver } = await setup({ http2_window_bytes: 8 * 1024 * 1024 });
    const session = connect(`http://127.0.0.1:${receiver.port}`);
    cleanups.push(() => void session.destroy());
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
    expect(session.remoteSettings.initialWindowSize).toBe(8 * 1024 * 1024);
    // The connection window arrives as a WINDOW_UPDATE right after the settings.
    await new Promise<void>((resolve) => session.ping(() => resolve()));
    expect(session.state.remoteWindowSize).toBe(8 * 1024 * 1024);
  });

  receivers.startupTests();

  it("stop() is safe before start, idempotent, and drains calls in flight", async () => {
    const started = await setup();
    const result = await receivers.expectStopDrains(
      () => exportThrough(exporter(started.url), securityEvents),
      () => new Promise((resolve) => setImmediate(resolve)),
      started,
    );
    expect(result.code).toBe(ExportResultCode.SUCCESS);
  });
});
