/**
 * A started Detector in its own process, for the end-to-end benchmark (run.ts forks it, so that
 * the server's CPU is measured apart from the senders'). Embedded defaults, memory state, outbox
 * in memory, no sinks, metrics on; OTLP/gRPC on 127.0.0.1, a free port. `--no-rules` starts the
 * same detector without any rule: what decoding and the rest of the path cost alone.
 *
 * IPC protocol (process.send / "message"):
 *   → { type: "ready", grpc }                      once listening
 *   ← { type: "mark" }   → { type: "marked" }      starts a measurement window
 *   ← { type: "stats" }  → { type: "stats", … }    CPU, events evaluated, alert latencies since the mark
 *   ← { type: "stop" }                             stops the detector and exits
 * Exits by itself after --max-seconds (default 600) so that no server outlives the benchmark.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { AlertChange } from "../../packages/detector/src/alerts/types.ts";
import type { Detector } from "../../packages/detector/src/main.ts";
import { startDetector } from "./detector-config.ts";

const { values } = parseArgs({
  options: {
    "no-rules": { type: "boolean", default: false },
    "max-seconds": { type: "string", default: "600" },
    config: { type: "string" },
  },
});

/** Receipt → alert recorded, ms, of every alert change since the mark (created and updated). */
let latencies: number[] = [];
let created: number[] = [];
const MAX_SAMPLES = 1_000_000;

function onChanges(changes: readonly AlertChange[]): void {
  const now = Date.now();
  for (const c of changes) {
    if (c.firing === undefined || latencies.length >= MAX_SAMPLES) continue;
    const ms = now - c.firing.receivedAt;
    latencies.push(ms);
    if (c.type === "alert.created") created.push(ms);
  }
}

const detector: Detector = await startDetector({
  rules: !values["no-rules"],
  receivers: true,
  onChanges,
  ...(values.config !== undefined ? { extra: JSON.parse(values.config) as Record<string, unknown> } : {}),
});

/** secmon_events_evaluated_total, through the detector's own Prometheus reader. */
async function evaluated(): Promise<number> {
  const reader = detector.telemetry.prometheus;
  if (!reader) return NaN;
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      if (m.descriptor.name !== "secmon_events_evaluated") continue;
      return m.dataPoints.reduce((n, p) => n + (typeof p.value === "number" ? p.value : 0), 0);
    }
  }
  return 0;
}

let markCpu = process.cpuUsage();
let markTime = performance.now();
let markEvaluated = 0;
let markElu = performance.eventLoopUtilization();

process.on("message", (msg: { type: string }) => {
  void (async () => {
    if (msg.type === "mark") {
      markEvaluated = await evaluated();
      markCpu = process.cpuUsage();
      markTime = performance.now();
      markElu = performance.eventLoopUtilization();
      latencies = [];
      created = [];
      process.send?.({ type: "marked" });
    } else if (msg.type === "stats") {
      const cpu = process.cpuUsage(markCpu);
      const elu = performance.eventLoopUtilization(markElu);
      const mem = process.memoryUsage();
      process.send?.({
        type: "stats",
        seconds: (performance.now() - markTime) / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        eventLoopUtilization: elu.utilization,
        evaluated: (await evaluated()) - markEvaluated,
        latencies,
        created,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
      });
    } else if (msg.type === "stop") {
      await detector.stop();
      process.exit(0);
    }
  })();
});

setTimeout(
  () => {
    void detector.stop().then(() => process.exit(3));
  },
  Math.min(Number(values["max-seconds"]), 3600) * 1000,
).unref();

const exit = () => void detector.stop().then(() => process.exit(0));
process.once("disconnect", exit);
process.once("SIGINT", exit);
process.once("SIGTERM", exit);
if (process.send) process.send({ type: "ready", grpc: detector.addresses.grpc });
else console.log(`detector listening on ${detector.addresses.grpc} (no IPC: stop with Ctrl-C)`);
