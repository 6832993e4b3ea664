/**
 * Memory per tracked group of the in-memory window store.
 * Run: ./node_modules/.bin/pnpm exec node --expose-gc --conditions=@secmon/source packages/detector/test/state/measure-memory.ts
 *
 * Inserts 200 000 groups (one event each, keys shaped like the engine's, e.g.
 * `brute_force|10.1.2.3`) for a count rule and for a distinct-count rule, and reports the heap
 * growth per group after a full GC.
 */
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { windowGeometry, type StateOp } from "../../src/state/types.ts";

const GROUPS = 200_000;
const T0 = Date.parse("2026-11-21T10:00:00.000Z");

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

async function measure(kind: "window_add" | "distinct_add"): Promise<number> {
  const store = new MemoryWindowStore({ maxGroupsPerRule: GROUPS });
  const g = windowGeometry(kind === "window_add" ? 300 : 600, 60);
  const rule = kind === "window_add" ? "brute_force" : "credential_stuffing";
  const before = heap();
  for (let b = 0; b < GROUPS / 10_000; b++) {
    const ops: StateOp[] = [];
    for (let i = 0; i < 10_000; i++) {
      const n = b * 10_000 + i;
      const key = `${rule}|10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      const times = [T0 + n];
      ops.push(
        kind === "window_add"
          ? { type: kind, rule, key, ...g, times, amounts: [1] }
          : {
              type: kind,
              rule,
              key,
              ...g,
              times,
              members: [`${n.toString(16).padStart(32, "0")}`],
              maxMembers: 1000,
            },
      );
    }
    await store.apply(ops, { batchId: `${kind}:${b}` });
  }
  // forget the remembered batch results, which are not per-group state
  for (let b = 0; b < 2000; b++) await store.apply([], { batchId: `flush:${b}` });
  const after = heap();
  if (store.groupCount(rule) !== GROUPS) throw new Error("groups were dropped");
  const perGroup = (after - before) / GROUPS;
  // keep the store alive until measured
  void store.totalGroups();
  return perGroup;
}

const count = await measure("window_add");
const distinct = await measure("distinct_add");
console.log(
  `${GROUPS} groups: count window ${count.toFixed(0)} B/group, distinct window (1 member) ${distinct.toFixed(0)} B/group`,
);
console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
