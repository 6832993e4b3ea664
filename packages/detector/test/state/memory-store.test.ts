import { describe, expect, it } from "vitest";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { bucketWidthMs, windowGeometry, type StateOp, type WindowAddOp } from "../../src/state/types.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { describeWindowStore } from "./window-store-suite.ts";

describeWindowStore("memory", () => new MemoryWindowStore());

const T0 = Date.parse("2026-11-21T10:00:00.000Z");
const g = windowGeometry(300, 60);
const add = (rule: string, key: string, sec: number): WindowAddOp => ({
  type: "window_add",
  rule,
  key,
  ...g,
  times: [T0 + sec * 1000],
  amounts: [1],
});

describe("window geometry", () => {
  it("cuts a window into about 60 buckets of whole seconds", () => {
    expect(bucketWidthMs(60_000)).toBe(1000);
    expect(bucketWidthMs(300_000)).toBe(5000);
    expect(bucketWidthMs(900_000)).toBe(15_000);
    expect(bucketWidthMs(3_600_000)).toBe(60_000);
    expect(bucketWidthMs(10_000)).toBe(1000);
    expect(bucketWidthMs(500)).toBe(500);
  });

  it("derives the key TTL from window, lateness and buckets", () => {
    expect(windowGeometry(300, 60)).toEqual({
      bucketMs: 5000,
      windowMs: 300_000,
      latenessMs: 60_000,
      ttlMs: 370_000,
    });
  });
});

describe("MemoryWindowStore bounds", () => {
  it("keeps at most maxGroupsPerRule groups per rule, evicting the least recently used, and counts evictions", async () => {
    const { metrics, points } = testMetrics();
    const store = new MemoryWindowStore({ maxGroupsPerRule: 100, metrics });
    await store.start();
    const ops: StateOp[] = [];
    for (let i = 0; i < 100; i++) ops.push(add("r1", `k${i}`, 0));
    await store.apply(ops, { batchId: "b1" });
    // touch k0, so that k1 is now the least recently used
    await store.apply([add("r1", "k0", 1)], { batchId: "b2" });
    await store.apply([add("r1", "k100", 2), add("r2", "other", 2)], { batchId: "b3" });
    expect(store.groupCount("r1")).toBe(100);
    expect(store.groupCount("r2")).toBe(1);
    const [k0] = await store.apply([add("r1", "k0", 3)], { batchId: "b4" });
    expect(k0!.value).toBe(3);
    const [k1] = await store.apply([add("r1", "k1", 3)], { batchId: "b5" });
    expect(k1!.value).toBe(1); // k1 was evicted and starts over
    const evictions = await points("secmon_state_evictions");
    expect(evictions).toEqual([expect.objectContaining({ attributes: { rule: "r1" }, value: 2 })]);
    const groups = await points("secmon_state_groups");
    expect(groups.map((p) => [p.attributes, p.value])).toEqual([
      [{ rule: "r1" }, 100],
      [{ rule: "r2" }, 1],
    ]);
    await store.stop();
  });

  it("stays bounded under a spray of a million distinct addresses", async () => {
    const store = new MemoryWindowStore({ maxGroupsPerRule: 10_000 });
    await store.start();
    const batch = 10_000;
    for (let b = 0; b < 100; b++) {
      const ops: StateOp[] = new Array(batch);
      for (let i = 0; i < batch; i++) {
        const n = b * batch + i;
        ops[i] = add("brute_force", `brute_force|10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, b);
      }
      await store.apply(ops, { batchId: `spray:${b}` });
      expect(store.groupCount("brute_force")).toBeLessThanOrEqual(10_000);
    }
    expect(store.groupCount("brute_force")).toBe(10_000);
    await store.stop();
  });

  it("drops groups whose data left every window as event time moves on", async () => {
    const store = new MemoryWindowStore();
    await store.apply([add("r", "old1", 0), add("r", "old2", 1)], { batchId: "1" });
    expect(store.groupCount("r")).toBe(2);
    await store.apply([add("r", "new", 10_000)], { batchId: "2" });
    expect(store.groupCount("r")).toBe(1);
    expect(store.totalGroups()).toBe(1);
  });

  it("remembers a bounded number of recent batch ids", async () => {
    const store = new MemoryWindowStore({ maxRecentBatches: 2 });
    await store.apply([add("r", "k", 0)], { batchId: "a" });
    await store.apply([add("r", "k", 1)], { batchId: "b" });
    await store.apply([add("r", "k", 2)], { batchId: "c" });
    // "a" was forgotten: applying it again counts again
    const [r] = await store.apply([add("r", "k", 3)], { batchId: "a" });
    expect(r!.value).toBe(4);
    // "c" is remembered: its first results come back
    const [c] = await store.apply([add("r", "k", 4)], { batchId: "c" });
    expect(c!.value).toBe(3);
  });

  it("bounds the remembered results by size too: large batches push out the oldest", async () => {
    // 32 bytes per op: three batches of 100 ops take 9,600 bytes; the budget holds two.
    const store = new MemoryWindowStore({ maxRecentBytes: 6_400 });
    const batch = (t: number) => Array.from({ length: 100 }, (_, i) => add("r", `k${i}`, t));
    await store.apply(batch(0), { batchId: "a" });
    await store.apply(batch(1), { batchId: "b" });
    await store.apply(batch(2), { batchId: "c" });
    // "a" was forgotten: applying it again counts again
    expect((await store.apply(batch(3), { batchId: "a" }))[0]!.value).toBe(4);
    // "c" is remembered
    expect((await store.apply(batch(4), { batchId: "c" }))[0]!.value).toBe(3);
    // a batch larger than the whole budget is still remembered, alone
    const huge = Array.from({ length: 300 }, (_, i) => add("h", `k${i}`, 5));
    await store.apply(huge, { batchId: "h" });
    expect((await store.apply(huge, { batchId: "h" }))[0]!.value).toBe(1);
    // … and pushed out "c": applying it again counts again (points 0, 1, 2, 3 and now 6)
    expect((await store.apply(batch(6), { batchId: "c" }))[0]!.value).toBe(5);
  });
});
