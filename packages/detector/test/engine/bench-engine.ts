/**
 * Throughput of the engine with the whole default pack and the memory store (not a test).
 * Run: ./node_modules/.bin/pnpm exec node --conditions=@secmon/source packages/detector/test/engine/bench-engine.ts
 *
 * Traffic: 1000-event batches; 70 % api.request (1 % 404s), 20 % auth.login (a quarter failed),
 * 10 % other security events; 5000 client addresses, 20 000 users. Prints events per second.
 */
import type { SecurityEvent } from "../../src/event.ts";
import { Engine } from "../../src/engine/engine.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";

const T0 = Date.parse("2026-11-21T10:00:00.000Z");
const BATCH = 1000;
const BATCHES = Number(process.argv[2] ?? 300);

// mulberry32: a small deterministic PRNG
let seed = 42;
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};

function makeEvent(n: number): SecurityEvent {
  const time = T0 + n * 2; // 500 events per second of event time
  const addr = `10.0.${rnd(20)}.${rnd(250)}`;
  const user = `u${rnd(20_000)}`;
  const hash = `${rnd(20_000).toString(16).padStart(32, "0")}`;
  const r = rnd(100);
  const resource = { "service.name": "checkout" };
  if (r < 70) {
    return {
      name: "api.request",
      time,
      service: "checkout",
      resource,
      attributes: {
        "client.address": addr,
        "user.id": user,
        "http.request.method": "GET",
        "http.route": "/api/items/:id",
        "http.response.status_code": rnd(100) === 0 ? 404 : 200,
        "http.response.body.size": 1200,
      },
    };
  }
  if (r < 90) {
    return {
      name: "auth.login",
      time,
      service: "checkout",
      resource,
      attributes: {
        "client.address": addr,
        "user.hash": hash,
        "auth.outcome": rnd(4) === 0 ? "failure" : "success",
        "auth.method": "password",
      },
    };
  }
  return {
    name: ["authz.decision", "data.access", "auth.mfa"][rnd(3)]!,
    time,
    service: "checkout",
    resource,
    attributes: {
      "client.address": addr,
      "user.id": user,
      "authz.decision": "allow",
      "data.operation": "read",
    },
  };
}

const batches: SecurityEvent[][] = [];
for (let b = 0; b < BATCHES; b++)
  batches.push(Array.from({ length: BATCH }, (_, i) => makeEvent(b * BATCH + i)));

const store = new MemoryWindowStore();
const engine = new Engine({ rules: loadRules({}), store });
let firings = 0;
const byRule = new Map<string, number>();
// warm up
for (let b = 0; b < 20; b++)
  await engine.evaluate(batches[b]!, { batchId: `w${b}`, receivedAt: batches[b]![0]!.time });
const start = performance.now();
for (let b = 20; b < BATCHES; b++) {
  const f = await engine.evaluate(batches[b]!, {
    batchId: `b${b}`,
    receivedAt: batches[b]![BATCH - 1]!.time,
  });
  firings += f.length;
  for (const x of f) byRule.set(x.rule, (byRule.get(x.rule) ?? 0) + 1);
}
const seconds = (performance.now() - start) / 1000;
const events = (BATCHES - 20) * BATCH;
console.log(
  `${events} events in ${seconds.toFixed(2)} s: ${Math.round(events / seconds)} events/s (${firings} firings, ${store.totalGroups()} groups)`,
);
console.log(Object.fromEntries(byRule));
