import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as JsonExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { ProtobufLogsSerializer } from "@opentelemetry/otlp-transformer";
import { ATTR, EVENT } from "@secmon/semconv";
import pb from "protobufjs/minimal.js";
import { describe, expect, it } from "vitest";
import { httpReceiverSchema } from "../../src/receiver/config.ts";
import { OtlpHttpReceiver } from "../../src/receiver/otlp-http.ts";
import { failedLogin, jsonRequest, protobufRequest } from "./fixtures.ts";
import type { BuildReceiver } from "./receiver-suite.ts";
import { expectSecurityEventsReceived, receiverHarness, securityEvents } from "./receiver-suite.ts";
import { exportThrough, makeCerts } from "./sdk.ts";

type ExporterConfig = NonNullable<ConstructorParameters<typeof JsonExporter>[0]>;
const GZIP = "gzip" as ExporterConfig["compression"];
const TOKEN = "http-s3cret";

const build: BuildReceiver<OtlpHttpReceiver> = (config, deps) =>
  new OtlpHttpReceiver({
    config: httpReceiverSchema.parse({ endpoint: "127.0.0.1:0", retry_after_seconds: 0, ...config }),
    ...deps,
  });
const receivers = receiverHarness(build, TOKEN);
const { cleanups } = receivers;

async function setup(overrides: Record<string, unknown> = {}) {
  const started = await receivers.start(overrides);
  const port = started.receiver.port;
  return { ...started, port, url: `http://127.0.0.1:${port}/v1/logs` };
}

function json(url: string, options: Partial<ExporterConfig> = {}) {
  const e = new JsonExporter({ url, timeoutMillis: 10_000, ...options });
  cleanups.push(() => e.shutdown());
  return e;
}

function proto(url: string, options: Partial<ExporterConfig> = {}) {
  const e = new ProtoExporter({ url, timeoutMillis: 10_000, ...options });
  cleanups.push(() => e.shutdown());
  return e;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A raw POST; `body` may be a Buffer or a generator of chunks (sent chunked). */
function post(
  port: number | undefined,
  body: Uint8Array | Iterable<Uint8Array>,
  headers: Record<string, string> = {},
  path = "/v1/logs",
  method = "POST",
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body instanceof Uint8Array) {
      req.end(body);
    } else {
      // Chunked: no Content-Length, so only the running count can stop it.
      for (const chunk of body) req.write(chunk);
      req.end();
    }
  });
}

/** google.rpc.Status from protobuf bytes. */
function decodeStatus(bytes: Buffer): { code: number; message: string } {
  const r = pb.Reader.create(bytes);
  const out = { code: 0, message: "" };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 8) out.code = r.int32();
    else if (tag === 18) out.message = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

const PROTOBUF = { "Content-Type": "application/x-protobuf" };
const JSON_TYPE = { "Content-Type": "application/json" };

describe("OtlpHttpReceiver", () => {
  const senders = [
    ["JSON", json],
    ["protobuf", proto],
  ] as const;
  for (const [kind, make] of senders) {
    for (const compression of [undefined, GZIP]) {
      it(`receives events from the real OTLP/HTTP ${kind} exporter (compression: ${compression ?? "none"})`, async () => {
        const started = await setup();
        await expectSecurityEventsReceived(make(started.url, { compression }), started, "http");
      });
    }
  }

  it("answers partial success in the request's format", async () => {
    const { port, ingestor, metrics } = await setup();
    const records = [
      failedLogin("192.0.2.1"),
      { eventName: EVENT.API_REQUEST, attributes: { [ATTR.HTTP_RESPONSE_STATUS_CODE]: "four-oh-four" } },
    ];
    const message =
      "record 1 (api.request): attribute http.response.status_code must be an int, got non-numeric string";
    const viaProto = await post(port, protobufRequest(records), PROTOBUF);
    expect(viaProto.status).toBe(200);
    expect(viaProto.headers["content-type"]).toBe("application/x-protobuf");
    expect(ProtobufLogsSerializer.deserializeResponse(viaProto.body)).toEqual({
      partialSuccess: { rejectedLogRecords: 1, errorMessage: message },
    });
    const viaJson = await post(port, Buffer.from(JSON.stringify(jsonRequest(records))), JSON_TYPE);
    expect(viaJson.status).toBe(200);
    expect(viaJson.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(viaJson.body.toString())).toEqual({
      partialSuccess: { rejectedLogRecords: "1", errorMessage: message },
    });
    const clean = await post(port, protobufRequest([failedLogin("192.0.2.2")]), PROTOBUF);
    expect(clean.body.length).toBe(0);
    expect(ingestor.events).toHaveLength(3);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "partial" })).toBe(2);
    expect(await metrics.sum("secmon_events_rejected", { reason: "invalid_attribute" })).toBe(2);
  });

  it("answers 400 with a Status in the request's format for malformed bodies", async () => {
    const { port, ingestor, metrics } = await setup();
    const badProto = await post(port, Buffer.from("not protobuf at all"), PROTOBUF);
    expect(badProto.status).toBe(400);
    expect(decodeStatus(badProto.body)).toMatchObject({
      code: 3,
      message: expect.stringMatching(/not a valid OTLP/),
    });
    const badJson = await post(port, Buffer.from("{resourceLogs: oops"), JSON_TYPE);
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body.toString())).toMatchObject({
      code: 3,
      message: expect.stringMatching(/invalid JSON/),
    });
    const wrongShape = await post(port, Buffer.from('{"resourceLogs": 7}'), JSON_TYPE);
    expect(wrongShape.status).toBe(400);
    const badGzip = await post(port, Buffer.from("not gzip"), { ...PROTOBUF, "Content-Encoding": "gzip" });
    expect(badGzip.status).toBe(400);
    expect(decodeStatus(badGzip.body).message).toMatch(/invalid gzip/);
    expect(ingestor.accepted).toHaveLength(0);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "invalid" })).toBe(4);
  });

  it("answers 415 for other media types and encodings, 404 and 405 for other routes and methods", async () => {
    const { port, metrics } = await setup();
    const body = protobufRequest([failedLogin("192.0.2.3")]);
    expect((await post(port, body, { "Content-Type": "text/plain" })).status).toBe(415);
    expect((await post(port, body, {})).status).toBe(415);
    expect((await post(port, body, { ...PROTOBUF, "Content-Encoding": "br" })).status).toBe(415);
    expect(
      (await post(port, body, { ...PROTOBUF, "Content-Type": "application/x-protobuf; charset=binary" }))
        .status,
    ).toBe(200);
    expect((await post(port, body, PROTOBUF, "/v1/traces")).status).toBe(404);
    const get = await post(port, new Uint8Array(), {}, "/v1/logs", "GET");
    expect(get.status).toBe(405);
    expect(get.headers["allow"]).toBe("POST");
    // 415 ×3, 404 and 405 are all refusals of a malformed request.
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "invalid" })).toBe(5);
  });

  it("answers 413 for bodies over the limit, declared, streamed or once decompressed (gzip bomb)", async () => {
    const { port, ingestor, metrics } = await setup({ max_request_bytes: 64 * 1024 });
    const big = Buffer.alloc(200 * 1024, 1);
    const declared = await post(port, big, PROTOBUF);
    expect(declared.status).toBe(413);
    expect(declared.headers["connection"]).toBe("close");
    function* chunks() {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(8 * 1024, 2);
    }
    expect((await post(port, chunks(), PROTOBUF)).status).toBe(413);
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const bombed = await post(port, bomb, { ...PROTOBUF, "Content-Encoding": "gzip" });
    expect(bombed.status).toBe(413);
    expect(decodeStatus(bombed.body).message).toMatch(/decompresses to more than 65536 bytes/);
    expect(ingestor.accepted).toHaveLength(0);
    expect(await metrics.sum("secmon_receiver_requests", { transport: "http", outcome: "too_large" })).toBe(
      3,
    );
  });

  it("answers 401 without the bearer token, checked before the body is read", async () => {
    const { port, url, ingestor, metrics } = await setup({ auth: { bearer_token: { file: "/unused" } } });
    const body = protobufRequest([failedLogin("192.0.2.4")]);
    for (const headers of [
      PROTOBUF,
      { ...PROTOBUF, Authorization: "Bearer wrong" },
      { ...PROTOBUF, Authorization: TOKEN },
    ]) {
      const reply = await post(port, body, headers);
      expect(reply.status).toBe(401);
      expect(reply.headers["www-authenticate"]).toBe("Bearer");
    }
    expect(ingestor.accepted).toHaveLength(0);
    const result = await exportThrough(
      proto(url, { headers: { Authorization: `Bearer ${TOKEN}` } }),
      securityEvents,
    );
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(ingestor.accepted).toHaveLength(1);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "unauthenticated" })).toBe(3);
  });

  it("answers 503 with Retry-After when the ingestor refuses retryably; the exporter retries and succeeds", async () => {
    const { port, url, ingestor, metrics } = await setup({ retry_after_seconds: 0 });
    ingestor.failNext("STORE_UNAVAILABLE", 2);
    const result = await exportThrough(json(url), securityEvents);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(ingestor.refused).toHaveLength(2);
    expect(ingestor.accepted).toHaveLength(1);
    // Every attempt carried the same bytes, so the same batch id.
    const ids = new Set([...ingestor.refused, ...ingestor.accepted].map((i) => i.ctx.batchId));
    expect(ids.size).toBe(1);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "unavailable" })).toBe(2);
    expect(await metrics.sum("secmon_events_received")).toBe(3);

    ingestor.failNext("INGEST_OVERLOADED");
    const raw = await post(port, protobufRequest([failedLogin("192.0.2.5")]), PROTOBUF);
    expect(raw.status).toBe(503);
    expect(raw.headers["retry-after"]).toBe("0");
    ingestor.failNext("INTERNAL");
    expect((await post(port, protobufRequest([failedLogin("192.0.2.6")]), PROTOBUF)).status).toBe(500);
    expect(await metrics.sum("secmon_receiver_requests", { outcome: "error" })).toBe(1);
  });

  it("serves over TLS and requires a client certificate when client_ca_file is set", async () => {
    const certs = makeCerts();
    const ca = readFileSync(certs.caCert);
    const tls = { cert_file: certs.serverCert, key_file: certs.serverKey };
    const plain = await setup({ tls });
    const url = `https://localhost:${plain.port}/v1/logs`;
    expect((await exportThrough(proto(url, { httpAgentOptions: { ca } }), securityEvents)).code).toBe(
      ExportResultCode.SUCCESS,
    );
    expect(plain.ingestor.accepted).toHaveLength(1);

    const mtls = await setup({ tls: { ...tls, client_ca_file: certs.caCert } });
    const mtlsUrl = `https://localhost:${mtls.port}/v1/logs`;
    const refused = await exportThrough(
      proto(mtlsUrl, { httpAgentOptions: { ca }, timeoutMillis: 3000 }),
      securityEvents,
    );
    expect(refused.code).toBe(ExportResultCode.FAILED);
    const withCert = { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    expect((await exportThrough(proto(mtlsUrl, { httpAgentOptions: withCert }), securityEvents)).code).toBe(
      ExportResultCode.SUCCESS,
    );
    expect(mtls.ingestor.accepted).toHaveLength(1);
  });

  receivers.startupTests();

  it("stop() is safe before start, idempotent, drains requests in flight and refuses new ones", async () => {
    const started = await setup();
    const port = started.port;
    const reply = await receivers.expectStopDrains(
      () => post(port, protobufRequest([failedLogin("192.0.2.7")]), PROTOBUF),
      () =>
        expect(post(port, protobufRequest([failedLogin("192.0.2.8")]), PROTOBUF)).rejects.toThrow(
          /ECONNREFUSED/,
        ),
      started,
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["connection"]).toBe("close");
  });
});
