/**
 * Replay throughput of the detector core (not a test): batches of the realistic stream
 * (load/requests.ts), decoded once up front by the receiver's own decoder, then evaluated one
 * after the other, in one of two modes:
 * - `engine`: `Engine.evaluate` with the whole default pack on the memory window store;
 * - `pipeline`: `Detector.pipeline.ingest` of a detector on embedded defaults (memory state,
 *   outbox in memory, no sinks, metrics on, receivers and API off): rules, alerts, the recent-event
 *   index, the report and the sign-in counter, i.e. everything but decoding and gRPC.
 * Prints one JSON line: events/s of wall time and per CPU-second (overall, and the best and median
 * of `--rounds` rounds), firings by rule.
 *
 *   node --conditions=@secmon/source bench/detector/engine.ts [--mode engine|pipeline] \
 *     [--batches 300] [--warmup 60] [--rounds 10] [--records 512] [--no-rules]
 */
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Engine } from "../../packages/detector/src/engine/engine.ts";
import type { SecurityEvent } from "../../packages/detector/src/event.ts";
import { decodeLogsProtobuf } from "../../packages/detector/src/receiver/decode-protobuf.ts";
import { loadRules } from "../../packages/detector/src/rules/compile.ts";
import { MemoryWindowStore } from "../../packages/detector/src/state/memory/store.ts";
import { median } from "../common.ts";
import { Traffic } from "./load/requests.ts";
import { startDetector } from "./detector-config.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "engine" },
    batches: { type: "string", default: "300" },
    warmup: { type: "string", default: "60" },
    records: { type: "string", default: "512" },
    "no-rules": { type: "boolean", default: false },
    rounds: { type: "string", default: "10" },
  },
});
const BATCHES = Math.min(Number(values.batches), 5000);
const WARMUP = Math.min(Number(values.warmup), 1000);
const traffic = new Traffic({ records: Number(values.records) });

const batches: { events: SecurityEvent[]; receivedAt: number }[] = [];
for (let k = 0; k < WARMUP + BATCHES; k++) {
  const receivedAt = traffic.timeOf(k + 1, 0);
  batches.push({ events: decodeLogsProtobuf(traffic.request(k), receivedAt).events, receivedAt });
}

type Evaluate = (events: SecurityEvent[], batchId: string, receivedAt: number) => Promise<number>;
let evaluate: Evaluate;
let finish: () => Promise<void> = async () => {};
const byRule = new Map<string, number>();
if (values.mode === "engine") {
  const engine = new Engine({
    rules: values["no-rules"] ? [] : loadRules({}),
    store: new MemoryWindowStore(),
  });
  evaluate = async (events, batchId, receivedAt) => {
    const firings = await engine.evaluate(events, { batchId, receivedAt });
    for (const f of firings) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
    return firings.length;
  };
} else if (values.mode === "pipeline") {
  let changes = 0;
  const detector = await startDetector({
    rules: !values["no-rules"],
    receivers: false,
    onChanges: (c) => {
      changes += c.length;
      for (const x of c) byRule.set(x.alert.rule, (byRule.get(x.alert.rule) ?? 0) + 1);
    },
  });
  evaluate = async (events, batchId, receivedAt) => {
    const before = changes;
    await detector.pipeline.ingest(
      { events, ignored: 0, rejected: {} },
      { batchId, transport: "replay", receivedAt },
    );
    return changes - before;
  };
  finish = () => detector.stop();
} else throw new Error(`unknown mode ${values.mode}`);

for (let b = 0; b < WARMUP; b++) await evaluate(batches[b]!.events, `w${b}`, batches[b]!.receivedAt);
byRule.clear();
// The measured batches in rounds: the best round is the figure least disturbed by other work on
// a shared machine (interference only ever slows a round down).
const ROUNDS = Math.max(1, Math.min(Number(values.rounds), BATCHES));
const perRound = Math.floor(BATCHES / ROUNDS);
const rounds: { wall: number; cpu: number }[] = [];
// Time the main thread spent in garbage-collection pauses while measuring.
let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
});
gcObserver.observe({ entryTypes: ["gc"] });
let firings = 0;
let events = 0;
let wall = 0;
let cpuTotal = 0;
for (let r = 0; r < ROUNDS; r++) {
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = WARMUP + r * perRound; b < WARMUP + (r + 1) * perRound; b++) {
    const batch = batches[b]!;
    firings += await evaluate(batch.events, `b${b}`, batch.receivedAt);
    n += batch.events.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  rounds.push({ wall: n / seconds, cpu: n / cpuSeconds });
  events += n;
  wall += seconds;
  cpuTotal += cpuSeconds;
}
await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries arrive asynchronously
gcObserver.disconnect();
await finish();
console.log(
  JSON.stringify({
    mode: values.mode,
    rules: !values["no-rules"],
    events,
    seconds: Number(wall.toFixed(3)),
    eventsPerSecond: Math.round(events / wall),
    eventsPerCpuSecond: Math.round(events / cpuTotal),
    bestRoundPerSecond: Math.round(Math.max(...rounds.map((r) => r.wall))),
    medianRoundPerSecond: Math.round(median(rounds.map((r) => r.wall))),
    bestRoundPerCpuSecond: Math.round(Math.max(...rounds.map((r) => r.cpu))),
    medianRoundPerCpuSecond: Math.round(median(rounds.map((r) => r.cpu))),
    gcPauseNsPerEvent: Math.round((gcMs * 1e6) / events),
    firings,
    byRule: Object.fromEntries([...byRule].sort()),
  }),
);
