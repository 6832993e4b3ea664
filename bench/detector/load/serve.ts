/**
 * The OTLP receivers alone, for measuring them with client.ts: an OtlpGrpcReceiver and an
 * OtlpHttpReceiver whose Ingestor only counts (no rules). Prints events received per second
 * and this process's CPU use; stops on SIGINT / SIGTERM or after --seconds.
 *
 *   node --conditions=@secmon/source bench/detector/load/serve.ts [--grpc 127.0.0.1:4317] \
 *     [--http 127.0.0.1:4318] [--seconds 60] [--window-bytes 16777216]
 */
import { parseArgs } from "node:util";
import { createNoopMeter } from "@opentelemetry/api";
import type { DecodedBatch } from "../../../packages/detector/src/event.ts";
import type { Ingestor } from "../../../packages/detector/src/ingest.ts";
import { createMetrics } from "../../../packages/detector/src/metrics/catalog.ts";
import { grpcReceiverSchema, httpReceiverSchema } from "../../../packages/detector/src/receiver/config.ts";
import { OtlpGrpcReceiver } from "../../../packages/detector/src/receiver/otlp-grpc.ts";
import { OtlpHttpReceiver } from "../../../packages/detector/src/receiver/otlp-http.ts";

const { values } = parseArgs({
  options: {
    grpc: { type: "string", default: "127.0.0.1:4317" },
    http: { type: "string", default: "127.0.0.1:4318" },
    seconds: { type: "string", default: "60" },
    "window-bytes": { type: "string", default: String(16 * 1024 * 1024) },
  },
});

let events = 0;
const ingestor: Ingestor = {
  async ingest(batch: DecodedBatch) {
    events += batch.events.length;
  },
};
// No-op meter: the receivers record as usual, nothing is aggregated.
const metrics = createMetrics(createNoopMeter());
const grpcReceiver = new OtlpGrpcReceiver({
  config: grpcReceiverSchema.parse({
    endpoint: values.grpc,
    http2_window_bytes: Number(values["window-bytes"]),
  }),
  ingestor,
  metrics,
});
const httpReceiver = new OtlpHttpReceiver({
  config: httpReceiverSchema.parse({ endpoint: values.http }),
  ingestor,
  metrics,
});
await grpcReceiver.start();
await httpReceiver.start();
console.log(`receiving on grpc ${values.grpc} and http ${values.http}`);

let last = events;
let lastCpu = process.cpuUsage();
const timer = setInterval(() => {
  const cpu = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  if (events !== last) {
    const core = (cpu.user + cpu.system) / 1e6;
    console.log(
      `  ${(events - last).toLocaleString("en-US")} events/s, ${(core * 100).toFixed(0)}% of a core`,
    );
  }
  last = events;
}, 1000);

async function stop(): Promise<void> {
  clearInterval(timer);
  await Promise.all([grpcReceiver.stop(), httpReceiver.stop()]);
  console.log(`received ${events.toLocaleString("en-US")} events`);
  process.exit(0);
}
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
setTimeout(() => void stop(), Math.min(Number(values.seconds), 3600) * 1000).unref();
