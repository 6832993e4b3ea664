/**
 * Profile of the Redis window store alone (not a test, not the benchmark): captures the state
 * ops the engine makes for the benchmark's traffic, prints what a batch holds, then replays them
 * into the memory store and into the Redis store (one call at a time), checks that both answer
 * the same results, and reports the Redis CPU per script call (INFO commandstats) and the Node
 * CPU per apply. Run it under `flock /tmp/secmon-bench.lock`.
 *
 *   ./node_modules/.bin/pnpm exec node --conditions=@secmon/source bench/redis/profile.ts [--batches 100]
 */
import { loadavg } from "node:os";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { Engine } from "../../packages/detector/src/engine/engine.ts";
import { loadRules } from "../../packages/detector/src/rules/compile.ts";
import { MemoryWindowStore } from "../../packages/detector/src/state/memory/store.ts";
import { RedisWindowStore } from "../../packages/detector/src/state/redis/window-store.ts";
import type { StateOp, StateResult, WindowStore } from "../../packages/detector/src/state/types.ts";
import { RedisServer } from "../../packages/detector/test/redis/server.ts";
import { makeBatches } from "./traffic.ts";

const { values } = parseArgs({ options: { batches: { type: "string", default: "100" } } });
const BATCHES = Math.min(Number(values.batches), 2000);
const batches = makeBatches(BATCHES, Date.now() - 3_600_000);

// the ops of every batch, as the engine hands them to a store
const captured: StateOp[][] = [];
const memory = new MemoryWindowStore();
await memory.start();
const spy: WindowStore = {
  start: async () => {},
  stop: async () => {},
  apply: async (ops, opts) => {
    captured.push([...ops]);
    return memory.apply(ops, opts);
  },
};
const engine = new Engine({ rules: loadRules({}), store: spy });
for (let b = 0; b < batches.length; b++)
  await engine.evaluate(batches[b]!, { batchId: `c${b}`, receivedAt: Date.now() });
await memory.stop();

const perRule = new Map<string, { ops: number; points: number }>();
for (const op of captured.flat()) {
  const r = perRule.get(op.rule) ?? { ops: 0, points: 0 };
  r.ops++;
  r.points += op.times.length;
  perRule.set(op.rule, r);
}
console.log(
  `${captured.length} batches, ${(captured.flat().length / captured.length).toFixed(0)} ops per batch`,
);
for (const [rule, r] of [...perRule].sort((a, b) => b[1].ops - a[1].ops))
  console.log(
    `  ${rule.padEnd(24)} ${(r.ops / captured.length).toFixed(1).padStart(7)} ops ${(r.points / captured.length).toFixed(1).padStart(7)} points per batch`,
  );

async function replay(store: WindowStore, tag: string): Promise<{ results: StateResult[][]; cpuMs: number }> {
  await store.start();
  const results: StateResult[][] = [];
  const cpu = process.cpuUsage();
  for (let b = 0; b < captured.length; b++)
    results.push(await store.apply(captured[b]!, { batchId: `${tag}${b}` }));
  const used = process.cpuUsage(cpu);
  await store.stop();
  return { results, cpuMs: (used.user + used.system) / 1000 };
}

const server = await RedisServer.start({ args: ["--appendonly", "no"] });
try {
  const mem = await replay(new MemoryWindowStore(), "m");
  const admin = server.connection({ prefix: "admin:" });
  await admin.open();
  await admin.client.config("RESETSTAT");
  const redis = await replay(new RedisWindowStore({ connection: server.connection({ prefix: "p:" }) }), "r");
  const info = await admin.client.info("commandstats");
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  console.log(
    info
      .split("\r\n")
      .filter((l) => l.startsWith("cmdstat_"))
      .join("\n"),
  );
  await admin.close();
  let diff = 0;
  for (let b = 0; b < captured.length; b++)
    if (!isDeepStrictEqual(mem.results[b], redis.results[b])) {
      if (diff++ < 3) {
        const i = mem.results[b]!.findIndex((r, j) => !isDeepStrictEqual(r, redis.results[b]![j]));
        console.log("differs:", JSON.stringify(captured[b]![i]), mem.results[b]![i], redis.results[b]![i]);
      }
    }
  console.log(`results: ${diff === 0 ? "identical to the memory store" : `${diff} batches differ`}`);
  if (m) console.log(`redis: ${(Number(m[2]) / Number(m[1]) / 1000).toFixed(2)} ms CPU per script call`);
  console.log(
    `node: memory store ${(mem.cpuMs / captured.length).toFixed(2)} ms, redis store ${(redis.cpuMs / captured.length).toFixed(2)} ms CPU per apply; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}`,
  );
} finally {
  await server.stop();
}
