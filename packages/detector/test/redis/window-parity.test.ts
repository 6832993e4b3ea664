import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { windowGeometry, type StateOp, type WindowGeometry } from "../../src/state/types.ts";
import { RedisServer } from "./server.ts";
import { prng } from "../prng.ts";

/**
 * The Redis script against the memory store on the same random op streams: every result (value,
 * at, oldest, late) must be identical. Integer amounts (float sums may differ in the last bit
 * with the order of addition) and caps large enough that the eviction order of equally old
 * distinct members does not matter.
 */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

const T0 = Date.parse("2026-11-21T10:00:00.000Z");
const GEOMETRIES: WindowGeometry[] = [windowGeometry(60, 10), windowGeometry(300, 60), windowGeometry(10, 0)];

/**
 * Each rule (geometry) has its own event clock. It steps mostly forward, sometimes far ahead and
 * sometimes back, but never further back than lateness + one bucket: past that the memory store
 * may have dropped a group (rule-wide expiry on event time) that a Redis key, which lives until
 * its TTL on the wall clock, still holds. That difference is documented in docs/scaling.md.
 */
function randomBatch(rnd: (n: number) => number, clocks: number[], highs: number[]): StateOp[] {
  const ops: StateOp[] = [];
  const n = 1 + rnd(12);
  for (let i = 0; i < n; i++) {
    const gi = rnd(GEOMETRIES.length);
    const g = GEOMETRIES[gi]!;
    const key = `r${gi}|k${rnd(4)}`;
    const points = 1 + rnd(8);
    const times: number[] = [];
    const maxBack = g.latenessMs + g.bucketMs - 100;
    for (let p = 0; p < points; p++) {
      const jump = rnd(10) === 0 ? -rnd(maxBack) : rnd(10) === 0 ? rnd(400_000) : rnd(3000);
      clocks[gi] = Math.max(T0, clocks[gi]! + jump, highs[gi]! - maxBack);
      highs[gi] = Math.max(highs[gi]!, clocks[gi]!);
      times.push(clocks[gi]!);
    }
    times.sort((a, b) => a - b);
    const kind = rnd(4);
    const rule = `r${gi}`;
    if (kind === 0) {
      ops.push({ type: "window_add", rule, key, ...g, times, amounts: times.map(() => 1 + rnd(5)) });
    } else if (kind === 1) {
      ops.push({ type: "window_read", rule, key, ...g, times });
    } else if (kind === 2) {
      const members = times.map(() => `u${rnd(15)}`);
      ops.push({ type: "distinct_add", rule, key: `${key}|d`, ...g, times, members, maxMembers: 1000 });
    } else {
      ops.push({ type: "distinct_read", rule, key: `${key}|d`, ...g, times });
    }
  }
  return ops;
}

describe("Redis window script parity with the memory store", () => {
  it.each([1, 2, 3, 4, 5, 6])("gives the same results on random stream %i", async (seed) => {
    const memory = new MemoryWindowStore();
    const redis = new RedisWindowStore({ connection: server.connection({ prefix: `parity${seed}:` }) });
    await memory.start();
    await redis.start();
    try {
      const rnd = prng(seed);
      const clocks = GEOMETRIES.map(() => T0);
      const highs = GEOMETRIES.map(() => T0);
      for (let b = 0; b < 150; b++) {
        const ops = randomBatch(rnd, clocks, highs);
        const batchId = `b${b}`;
        const want = await memory.apply(ops, { batchId });
        const got = await redis.apply(ops, { batchId });
        expect({ batch: b, results: got }).toEqual({ batch: b, results: want });
      }
    } finally {
      await memory.stop();
      await redis.stop();
    }
  });
});
