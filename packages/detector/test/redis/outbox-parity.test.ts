import type { AlertEventType } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryOutbox } from "../../src/outbox/memory.ts";
import { RedisOutbox } from "../../src/outbox/redis.ts";
import type { NewDelivery, Outbox } from "../../src/outbox/types.ts";
import { T0 } from "../alerts/fixtures.ts";
import { alertOf, letterOf } from "../outbox/outbox-suite.ts";
import { RedisServer } from "./server.ts";
import { prng } from "../prng.ts";

/**
 * The Redis outbox against the memory one on the same random operation streams (several owners
 * and sinks, leases that expire, retries, coalescing, dead letters, replays): every answer must
 * be the same. The Redis outbox only indexes each alert's oldest delivery; this is what checks
 * that the index never loses or reorders one. Changes of one alert arrive somewhat out of
 * revision order (as from two replicas), so superseding and late creations are exercised too.
 */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

const TYPES: AlertEventType[] = ["alert.created", "alert.updated", "alert.updated", "alert.status_changed"];
const SINKS = ["hook", "pager"];
const OWNERS = ["a", "b", "c"];

describe("RedisOutbox parity with MemoryOutbox", () => {
  it.each([1, 2, 3, 4, 5])("answers the same on random stream %i", async (seed) => {
    const memory = new MemoryOutbox();
    const redis = new RedisOutbox({ connection: server.connection({ prefix: `obp${seed}:` }) });
    const boxes: Outbox[] = [memory, redis];
    for (const b of boxes) await b.start();
    const rnd = prng(seed);
    let now = T0;
    let n = 0;
    const ids: string[] = [];
    /** What the stream exercised, so that a stream that tests nothing fails. */
    const seen = {
      claimed: 0,
      together: 0,
      coalesced: 0,
      superseded: 0,
      full: 0,
      expired: 0,
      replayed: 0,
      due: 0,
    };
    const both = async <T>(step: number, what: string, f: (b: Outbox) => Promise<T>): Promise<T> => {
      const [want, got] = [await f(memory), await f(redis)];
      expect({ step, what, got }).toEqual({ step, what, got: want });
      return want;
    };
    try {
      for (let step = 0; step < 400; step++) {
        now += rnd(4) === 0 ? rnd(40_000) : rnd(500);
        const op = rnd(10);
        if (op < 3) {
          const ds: NewDelivery[] = [];
          for (let i = 0, k = 1 + rnd(4); i < k; i++) {
            n++;
            const id = `dlv_${String(n).padStart(26, "0")}`;
            ids.push(id);
            const updatedAt = new Date(T0 + n * 10 - rnd(200)).toISOString();
            ds.push({
              id,
              sink: SINKS[rnd(SINKS.length)]!,
              type: TYPES[rnd(TYPES.length)]!,
              alert: alertOf(`alt_${rnd(6)}`, "brute_force", { count: n, updated_at: updatedAt }),
              enqueuedAt: now - rnd(1000),
              dueAt: now + (rnd(3) === 0 ? rnd(20_000) : 0),
              ...(rnd(3) === 0 ? { creationWaitUntil: now + rnd(20_000) } : {}),
            });
          }
          const out = await both(step, "enqueue", (b) =>
            b.enqueue(ds, { maxDepth: (s) => (s === "hook" ? 25 : 40) }),
          );
          seen.coalesced += out.filter((o) => o === "coalesced").length;
          seen.superseded += out.filter((o) => o === "superseded").length;
          seen.full += out.filter((o) => o === "full").length;
        } else if (op < 6) {
          const o = {
            sink: SINKS[rnd(SINKS.length)]!,
            limit: 1 + rnd(6),
            now,
            leaseMs: 1000 + rnd(30_000),
            owner: OWNERS[rnd(OWNERS.length)]!,
            ...(rnd(3) === 0 ? { together: true } : {}),
          };
          const items = await both(step, "claim", (b) => b.claim(o));
          seen.claimed += items.length;
          if (o.together && items.length > new Set(items.map((i) => i.alert.id)).size) seen.together++;
          seen.expired += items.filter((i) => i.attempts > 1).length;
        } else if (op === 6) {
          const id = ids[rnd(ids.length)];
          if (id === undefined) continue;
          if (rnd(2) === 0) await both(step, "ack", (b) => b.ack(id));
          else {
            const owner = OWNERS[rnd(OWNERS.length)]!;
            const retry = { dueAt: now + rnd(10_000), error: `e${step}`, ...(rnd(2) ? { status: 503 } : {}) };
            await both(step, "nack", (b) => b.nack(id, owner, retry));
          }
        } else if (op === 7) {
          const sink = SINKS[rnd(SINKS.length)]!;
          const owner = OWNERS[rnd(OWNERS.length)]!;
          if ((await both(step, "nextDue", (b) => b.nextDue(sink, owner))) !== undefined) seen.due++;
          if (rnd(8) === 0) await both(step, "release", (b) => b.release(owner));
        } else if (op === 8) {
          const id = ids[rnd(ids.length)];
          if (id === undefined) continue;
          const d: NewDelivery = {
            id,
            sink: SINKS[rnd(SINKS.length)]!,
            type: "alert.created",
            alert: alertOf(`alt_${rnd(6)}`),
            enqueuedAt: now,
            dueAt: now,
          };
          await both(step, "dead letter", (b) => b.deadLetters.add(letterOf(d), 5));
        } else {
          const id = ids[rnd(ids.length)];
          if (id === undefined) continue;
          if (await both(step, "replay", (b) => b.replay(id, now))) seen.replayed++;
        }
        if (step % 10 === 0) {
          await both(step, "backlog", (b) => b.backlog());
          await both(step, "counts", (b) => b.deadLetters.counts());
          const sink = SINKS[rnd(2)]!;
          await both(step, "letters", (b) => b.deadLetters.list({ limit: 3, sink }));
        }
      }
      for (const [what, count] of Object.entries(seen))
        expect({ what, count: count > 0 }).toEqual({ what, count: true });
    } finally {
      for (const b of boxes) await b.stop();
    }
  });
});
