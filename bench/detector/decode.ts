/**
 * What decoding the benchmark's OTLP/protobuf requests to SecurityEvents costs (not a test): CPU ns
 * per event (process.cpuUsage, steadier than wall time on a shared machine), wall ns per event,
 * and heap bytes allocated per event with the GC time they cost (v8.GCProfiler: heap growth between
 * collections). The requests are the realistic stream of `load/requests.ts` (request k with its own
 * times and the identities of its cycle). Best and median of --rounds rounds; prints one JSON line.
 *
 *   flock /tmp/secmon-bench.lock ./node_modules/.bin/pnpm exec node --conditions=@secmon/source \
 *     bench/detector/decode.ts [--requests 256] [--records 512] [--rounds 7] [--repeat 2]
 *
 * Each round decodes every request (of --records records each) --repeat times.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { GCProfiler } from "node:v8";
import { decodeLogsProtobuf } from "../../packages/detector/src/receiver/decode-protobuf.ts";
import { median } from "../common.ts";
import { Traffic } from "./load/requests.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "256" },
    records: { type: "string", default: "512" },
    rounds: { type: "string", default: "7" },
    repeat: { type: "string", default: "2" },
  },
});
const rounds = Number(values.rounds);
const repeat = Number(values.repeat);
const traffic = new Traffic({ records: Number(values.records) });
const requests = Array.from({ length: Math.min(Number(values.requests), 4000) }, (_, k) =>
  traffic.request(k),
);
const eventsPerPass = requests.reduce((n, r) => n + decodeLogsProtobuf(r, 0).events.length, 0);
const recordsPerPass = requests.length * traffic.recordsPerRequest;
if (eventsPerPass !== recordsPerPass) {
  throw new Error(`decoded ${eventsPerPass} events of ${recordsPerPass} records`);
}

let sink = 0;
function pass(): void {
  for (const r of requests) sink += decodeLogsProtobuf(r, 0).events.length;
}
for (let i = 0; i < 3; i++) pass(); // warm-up

interface Round {
  cpuNs: number;
  wallNs: number;
  allocBytes: number;
  gcMs: number;
  gcs: number;
}

function round(): Round {
  const profiler = new GCProfiler();
  const heap0 = process.memoryUsage().heapUsed;
  profiler.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) pass();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heap1 = process.memoryUsage().heapUsed;
  const gc = profiler.stop();
  // Allocated = what the heap grew by between collections (a collection's "before" minus the
  // previous "after"), plus the growth since the last one.
  let alloc = 0;
  let last = heap0;
  let gcMs = 0;
  for (const s of gc.statistics) {
    alloc += s.beforeGC.heapStatistics.usedHeapSize - last;
    last = s.afterGC.heapStatistics.usedHeapSize;
    gcMs += s.cost / 1000;
  }
  alloc += heap1 - last;
  const events = eventsPerPass * repeat;
  return {
    cpuNs: ((cpu.user + cpu.system) * 1000) / events,
    wallNs: (wallMs * 1e6) / events,
    allocBytes: alloc / events,
    gcMs: (gcMs * 1e6) / events,
    gcs: gc.statistics.length,
  };
}

const load0 = loadavg()[0] ?? 0;
const results: Round[] = [];
for (let i = 0; i < rounds; i++) results.push(round());
const load1 = loadavg()[0] ?? 0;

const min = (xs: number[]): number => Math.min(...xs);
const pick = (f: (r: Round) => number): number[] => results.map(f);
console.log(
  JSON.stringify({
    events: eventsPerPass * repeat,
    bytesPerRecord: Math.round(traffic.bytesPerRecord),
    cpuNsPerEvent: {
      best: Math.round(min(pick((r) => r.cpuNs))),
      median: Math.round(median(pick((r) => r.cpuNs))),
    },
    wallNsPerEvent: {
      best: Math.round(min(pick((r) => r.wallNs))),
      median: Math.round(median(pick((r) => r.wallNs))),
    },
    eventsPerCpuSecond: Math.round(1e9 / median(pick((r) => r.cpuNs))),
    allocBytesPerEvent: Math.round(median(pick((r) => r.allocBytes))),
    gcNsPerEvent: Math.round(median(pick((r) => r.gcMs))),
    gcsPerRound: median(pick((r) => r.gcs)),
    loadAverage1m: [Number(load0.toFixed(2)), Number(load1.toFixed(2))],
    sink: sink > 0,
  }),
);
