import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { ATTR, AUTH_OUTCOME, AUTHZ_DECISION, EVENT } from "@secmon/semconv";
import { afterEach, describe, expect, it } from "vitest";
import { grpcReceiverSchema } from "../../src/receiver/config.ts";
import type { GrpcReceiverConfig } from "../../src/receiver/config.ts";
import { LOGS_EXPORT_PATH, OtlpGrpcReceiver } from "../../src/receiver/otlp-grpc.ts";
import { SPAN_ID, TRACE_ID, failedLogin, protobufRequest } from "./fixtures.ts";
import { RecordingIngestor, TestMetrics } from "./harness.ts";
import { exportThrough, makeCerts, tracedContext } from "./sdk.ts";

type Compression = NonNullable<ConstructorParameters<typeof OTLPLogExporter>[0]>["compression"];
const GZIP = "gzip" as Compression;
const TOKEN = "s3cret-token";

interface Setup {
  receiver: OtlpGrpcReceiver;
  ingestor: RecordingIngestor;
  metrics: TestMetrics;
  url: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(overrides: Record<string, unknown> = {}, now = () => 1_900_000_000_000): Promise<Setup> {
  const ingestor = new RecordingIngestor();
  const metrics = new TestMetrics();
  const config: GrpcReceiverConfig = grpcReceiverSchema.parse({ endpoint: "127.0.0.1:0", ...overrides });
  const receiver = new OtlpGrpcReceiver({
    config,
    ingestor,
    metrics: metrics.metrics,
    now,
    resolveSecret: () => TOKEN,
  });
  await receiver.start();
  cleanups.push(() => metrics.stop());
  cleanups.push(() => receiver.stop());
  return { receiver, ingestor, metrics, url: `http://127.0.0.1:${receiver.port}` };
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

const securityEvents = [
  {
    eventName: EVENT.AUTH_LOGIN,
    severityNumber: 13,
    severityText: "WARN",
    body: "login failed: invalid credentials",
    attributes: { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE },
    context: tracedContext,
  },
  {
    eventName: EVENT.API_REQUEST,
    attributes: {
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.125,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 123_456_789_012,
    },
  },
  {
    eventName: EVENT.AUTHZ_DECISION,
    attributes: {
      [ATTR.AUTHZ_DECISION]: AUTHZ_DECISION.DENY,
      [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin", "ops"],
    },
  },
  { body: "not a security event" },
];

describe("OtlpGrpcReceiver", () => {
  for (const compression of [undefined, GZIP]) {
    it(`receives events from the real OTLP/gRPC exporter (compression: ${compression ?? "none"})`, async () => {
      const { ingestor, metrics, url } = await setup();
      const result = await exportThrough(exporter(url, { compression }), securityEvents);
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      expect(ingestor.accepted).toHaveLength(1);
      const { batch, ctx } = ingestor.accepted[0]!;
      expect(ctx).toMatchObject({ transport: "grpc", receivedAt: 1_900_000_000_000 });
      expect(ctx.batchId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(batch.ignored).toBe(1);
      expect(batch.events.map((e) => e.name)).toEqual([
        EVENT.AUTH_LOGIN,
        EVENT.API_REQUEST,
        EVENT.AUTHZ_DECISION,
      ]);
      const [login, api, authz] = batch.events;
      expect(login).toMatchObject({
        service: "checkout",
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        severityNumber: 13,
      });
      expect(api?.attributes).toEqual({
        [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
        [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.125,
        [ATTR.HTTP_RESPONSE_BODY_SIZE]: 123_456_789_012,
      });
      expect(authz?.attributes[ATTR.AUTHZ_MISSING_PERMISSIONS]).toEqual(["admin", "ops"]);
      expect(await metrics.sum("secmon_receiver_requests", { transport: "grpc", outcome: "ok" })).toBe(1);
      expect(await metrics.points("secmon_events_received")).toEqual({
        "event_name=auth.login,service=checkout": 1,
        "event_name=api.request,service=checkout": 1,
        "event_name=authz.decision,service=checkout": 1,
      });
      expect(await metrics.sum("secmon_events_ignored")).toBe(1);
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

  it("fails to start with CONFIG_INVALID when the endpoint is taken", async () => {
    const { receiver } = await setup();
    const second = new OtlpGrpcReceiver({
      config: grpcReceiverSchema.parse({ endpoint: `127.0.0.1:${receiver.port}` }),
      ingestor: new RecordingIngestor(),
      metrics: new TestMetrics().metrics,
    });
    await expect(second.start()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await second.stop();
  });

  it("does not listen when disabled", async () => {
    const { receiver } = await setup({ enabled: false });
    expect(receiver.port).toBeUndefined();
  });

  it("stop() is safe before start, idempotent, and drains calls in flight", async () => {
    const idle = new OtlpGrpcReceiver({
      config: grpcReceiverSchema.parse({ endpoint: "127.0.0.1:0" }),
      ingestor: new RecordingIngestor(),
      metrics: new TestMetrics().metrics,
    });
    await idle.stop();
    await idle.stop();

    const { receiver, ingestor, url } = await setup();
    const gate = ingestor.hold();
    const pending = exportThrough(exporter(url), securityEvents);
    await gate.arrived;
    const stopped = receiver.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopDone).toBe(false);
    gate.release();
    expect((await pending).code).toBe(ExportResultCode.SUCCESS);
    await stopped;
    await receiver.stop();
    expect(ingestor.accepted).toHaveLength(1);
  });
});
