/**
 * Memory per tracked group of the whole detector (not a test): a detector on embedded defaults
 * (memory state, receivers off) is fed N distinct attacker addresses through its pipeline, each
 * making three failed sign-ins against accounts from a pool of victims (so every address is a
 * group of brute_force, credential_stuffing, password_spray and failed_login_spike, and the
 * victims are groups of account_brute_force; only the service-wide surge rules fire). Heap and RSS after full GCs, before
 * and after, divided by the groups the window store tracks and by the addresses. The recent-event
 * index and the report are included (both bounded, so they weigh less per group as N grows).
 *
 *   node --expose-gc --conditions=@secmon/source bench/detector/memory.ts [--addresses 40000]
 */
import { parseArgs } from "node:util";
import {
  ATTR,
  AUTH_FAILURE_REASON,
  AUTH_METHOD,
  AUTH_OUTCOME,
  EVENT,
  RESOURCE_ATTR,
} from "../../packages/semconv/src/index.ts";
import type { SecurityEvent } from "../../packages/detector/src/event.ts";
import type { MemoryWindowStore } from "../../packages/detector/src/state/memory/store.ts";
import { startDetector } from "./detector-config.ts";

const { values } = parseArgs({ options: { addresses: { type: "string", default: "40000" } } });
const ADDRESSES = Math.min(Number(values.addresses), 45_000);
const VICTIMS = 30_000;
const BATCH = 512;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function settle(): { heap: number; rss: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const detector = await startDetector({ rules: true, receivers: false });
const store = detector.windows as MemoryWindowStore;
const T0 = Date.now() - 1_800_000;
const resource = { [RESOURCE_ATTR.SERVICE_NAME]: "checkout" };

function failedLogin(n: number, i: number): SecurityEvent {
  const a = n;
  return {
    name: EVENT.AUTH_LOGIN,
    // 2 ms apart: 40 000 addresses take 4 minutes of event time, inside every window (none expires)
    time: T0 + (n * 3 + i) * 2,
    service: "checkout",
    resource,
    severityNumber: 13,
    severityText: "WARN",
    body: "login failed: invalid credentials",
    attributes: {
      [ATTR.CLIENT_ADDRESS]: `10.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`,
      [ATTR.USER_HASH]: ((n * 3 + i) % VICTIMS).toString(16).padStart(32, "0"),
      [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
      [ATTR.AUTH_FAILURE_REASON]: AUTH_FAILURE_REASON.INVALID_CREDENTIALS,
      [ATTR.AUTH_METHOD]: AUTH_METHOD.PASSWORD,
    },
  };
}

async function feed(from: number, to: number, tag: string): Promise<void> {
  let batch: SecurityEvent[] = [];
  let b = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const receivedAt = batch[batch.length - 1]!.time;
    await detector.pipeline.ingest(
      { events: batch, ignored: 0, rejected: {} },
      { batchId: `${tag}${b++}`, transport: "replay", receivedAt },
    );
    batch = [];
  };
  for (let n = from; n < to; n++) {
    for (let i = 0; i < 3; i++) batch.push(failedLogin(n, i));
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}

// Warm up (code, maps, the report's hour bucket), then measure N more addresses.
await feed(0, 2000, "w");
const groups0 = store.totalGroups();
const before = settle();
await feed(2000, 2000 + ADDRESSES, "m");
// The store remembers recent batches' results for retries: not per-group state; push them out.
for (let i = 0; i < 1100; i++) await store.apply([], { batchId: `flush${i}` });
const after = settle();
const groups = store.totalGroups() - groups0;
await detector.stop();
console.log(
  JSON.stringify({
    addresses: ADDRESSES,
    groups,
    heapBytes: after.heap - before.heap,
    rssBytes: after.rss - before.rss,
    heapPerGroup: Math.round((after.heap - before.heap) / groups),
    heapPerAddress: Math.round((after.heap - before.heap) / ADDRESSES),
    rssPerGroup: Math.round((after.rss - before.rss) / groups),
  }),
);
