/**
 * The official exporter as a load source: one process with the OpenTelemetry SDK
 * (LoggerProvider → BatchLogRecordProcessor → @opentelemetry/exporter-logs-otlp-grpc) emitting the
 * records of load/requests.ts (same mix, event times and identities; no trace context) as fast as
 * the processor exports them. The batch processor keeps one export of up to 512 records in flight;
 * this client keeps its queue topped up without ever overflowing it (nothing dropped), so the
 * figure is what one SDK process can deliver. Bounded in time; loopback only.
 *
 *   node --conditions=@secmon/source bench/detector/load/sdk-client.ts [--target 127.0.0.1:4317] \
 *     [--seconds 10] [--json] [--first K] [--start-ms MS]
 */
import { parseArgs } from "node:util";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from "@opentelemetry/sdk-logs";
import { Traffic } from "./requests.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:4317" },
    seconds: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    first: { type: "string", default: "0" },
    "start-ms": { type: "string" },
  },
});
const target = values.target;
if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(target)) {
  console.error(`refusing target ${target}: this load client only sends to loopback`);
  process.exit(2);
}
const seconds = Math.min(Number(values.seconds), 600);
const BATCH = 512;
const QUEUE = 8 * BATCH;

const traffic = new Traffic({
  records: BATCH,
  ...(values["start-ms"] !== undefined ? { startMs: Number(values["start-ms"]) } : {}),
});
const otlp = new OTLPLogExporter({ url: `http://${target}`, timeoutMillis: 30_000 });

// Counts what the exporter delivered, and wakes the emitter when an export finishes.
let exported = 0;
let failed = 0;
let wake: (() => void) | undefined;
const exporter: LogRecordExporter = {
  export(records: ReadableLogRecord[], done) {
    otlp.export(records, (result) => {
      if (result.code === 0) exported += records.length;
      else failed += records.length;
      wake?.();
      done(result);
    });
  },
  shutdown: () => otlp.shutdown(),
  forceFlush: () => otlp.forceFlush(),
};
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ "service.name": "checkout", "service.version": "2.14.1" }),
  processors: [
    new BatchLogRecordProcessor({
      exporter,
      maxExportBatchSize: BATCH,
      maxQueueSize: QUEUE,
      scheduledDelayMillis: 5,
    }),
  ],
});
const logger = provider.getLogger("@secmon/instrumentation", "0.1.0");

// Warm the connection up with one record, then measure.
logger.emit({ eventName: "auth.logout", body: "warm-up", attributes: {} });
await provider.forceFlush();
exported = 0;

let emitted = 0;
let k = Number(values.first);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
while (performance.now() < deadline) {
  // Keep at most QUEUE records not yet exported: the processor never drops one.
  while (emitted - exported - failed <= QUEUE - BATCH) {
    const template = traffic.templates[k % traffic.templates.length]!;
    for (let j = 0; j < BATCH; j++) {
      const spec = template.records[j]!;
      logger.emit({
        eventName: spec.name,
        timestamp: traffic.timeOf(k, j),
        severityNumber: spec.severityNumber,
        severityText: spec.severityText,
        body: spec.body,
        attributes: traffic.attributesOf(k, j),
      });
    }
    emitted += BATCH;
    k++;
  }
  await new Promise<void>((resolve) => {
    wake = resolve;
    setTimeout(resolve, 50).unref();
  });
}
const elapsed = (performance.now() - t0) / 1000;
const delivered = exported;
const cpu = process.cpuUsage(cpu0);
await provider.shutdown();
const summary = {
  records: delivered,
  seconds: Number(elapsed.toFixed(3)),
  recordsPerSecond: Math.round(delivered / elapsed),
  failedRecords: failed,
  clientCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
};
if (values.json) console.log(JSON.stringify(summary));
else
  console.log(
    `${delivered.toLocaleString("en-US")} records exported in ${elapsed.toFixed(1)}s: ` +
      `${summary.recordsPerSecond.toLocaleString("en-US")} records/s (${failed} failed), client CPU ${summary.clientCpuSeconds} s`,
  );
