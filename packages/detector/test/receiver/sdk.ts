/**
 * The real OpenTelemetry SDK pieces the receiver tests send with: a LoggerProvider whose
 * processor hands records to a real OTLP exporter, and helpers to emit security events.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import type { LogRecord } from "@opentelemetry/api-logs";
import type { ExportResult } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { RESOURCE_ATTR } from "@secmon/semconv";
import { SPAN_ID, TRACE_ID } from "./fixtures.ts";

/** Passes records to the real exporter and keeps each export's result. */
class CapturingExporter implements LogRecordExporter {
  readonly results: ExportResult[] = [];
  readonly #inner: LogRecordExporter;

  constructor(inner: LogRecordExporter) {
    this.#inner = inner;
  }

  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.#inner.export(records, (result) => {
      this.results.push(result);
      done(result);
    });
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

/**
 * Emits records through a LoggerProvider whose batch processor hands them, as one export, to
 * the real exporter; returns that export's result.
 */
export async function exportThrough(
  exporter: LogRecordExporter,
  records: readonly LogRecord[],
  service = "checkout",
): Promise<ExportResult> {
  const capturing = new CapturingExporter(exporter);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ [RESOURCE_ATTR.SERVICE_NAME]: service }),
    processors: [
      new BatchLogRecordProcessor({
        exporter: capturing,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 60_000,
        exportTimeoutMillis: 30_000,
      }),
    ],
  });
  const logger = provider.getLogger("secmon-test");
  for (const record of records) logger.emit(record);
  await provider.forceFlush();
  await provider.shutdown();
  const [result, ...more] = capturing.results;
  if (result === undefined || more.length > 0)
    throw new Error(`expected one export, got ${capturing.results.length}`);
  return result;
}

/** A context whose active span is TRACE_ID / SPAN_ID, for records that carry trace ids. */
export const tracedContext = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  traceFlags: TraceFlags.SAMPLED,
});

export interface TestCerts {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A CA and a server (127.0.0.1) and client certificate signed by it, made with the openssl CLI. */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "secmon-receiver-tls-"));
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=secmon test CA",
  );
  writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    openssl(
      "req",
      "-new",
      ...ec,
      "-keyout",
      p(`${who}.key`),
      "-out",
      p(`${who}.csr`),
      "-subj",
      `/CN=secmon ${who}`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      p(`${who}.csr`),
      "-CA",
      p("ca.pem"),
      "-CAkey",
      p("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      p(`${who}.ext`),
      "-out",
      p(`${who}.pem`),
    );
  }
  return {
    dir,
    caCert: p("ca.pem"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
  };
}
