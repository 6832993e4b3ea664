import { randomUUID } from "node:crypto";
import { ATTR, AUTH_OUTCOME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { RedisOutbox } from "../../src/outbox/redis.ts";
import type { Outbox } from "../../src/outbox/types.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { outboxSuite } from "../outbox/outbox-suite.ts";
import { RedisTestCluster } from "./server.ts";
import { describeRedisAlertStore, describeRedisReportStore } from "./store-suites.ts";
import { prng } from "../prng.ts";

/**
 * Every Redis store on a real three-node Redis Cluster: the window store's script calls (one per
 * shard a batch touches, each on the node of its slot) give the memory store's results, and the
 * alert, report and outbox suites pass as on one server (their keys share one hash tag each).
 */
let cluster: RedisTestCluster;
beforeAll(async () => {
  cluster = await RedisTestCluster.start(3);
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

const T0 = Date.parse("2026-11-21T10:00:00.000Z");

/** Sign-ins and API requests from a few addresses, some of them attacks. */
function traffic(seed: number, batches: number): SecurityEvent[][] {
  const rnd = prng(seed);
  const out: SecurityEvent[][] = [];
  let t = T0;
  for (let b = 0; b < batches; b++) {
    const batch: SecurityEvent[] = [];
    for (let i = 0; i < 40; i++) {
      t += rnd(400);
      const address = `198.51.100.${rnd(12)}`;
      const resource = { [RESOURCE_ATTR.SERVICE_NAME]: "checkout" };
      const event = (name: string, attributes: SecurityEvent["attributes"]): SecurityEvent => ({
        name,
        time: t,
        service: "checkout",
        resource,
        attributes: { [ATTR.CLIENT_ADDRESS]: address, ...attributes },
      });
      batch.push(
        rnd(3) === 0
          ? event(EVENT.API_REQUEST, {
              [ATTR.USER_ID]: `u${rnd(30)}`,
              [ATTR.HTTP_RESPONSE_STATUS_CODE]: rnd(2) === 0 ? 404 : 200,
              [ATTR.HTTP_RESPONSE_BODY_SIZE]: 90_000,
            })
          : event(EVENT.AUTH_LOGIN, {
              [ATTR.USER_HASH]: `h${rnd(40)}`,
              [ATTR.AUTH_OUTCOME]: rnd(5) === 0 ? AUTH_OUTCOME.SUCCESS : AUTH_OUTCOME.FAILURE,
            }),
      );
    }
    out.push(batch);
  }
  return out;
}

describe("window store on a Redis Cluster", () => {
  it("finds what the memory store finds, with the state spread over the nodes", async () => {
    const rules = loadRules({});
    const prefix = `wc${randomUUID().slice(0, 8)}:`;
    const redis = new RedisWindowStore({ connection: cluster.connection({ prefix }) });
    const memory = new MemoryWindowStore();
    await redis.start();
    await memory.start();
    try {
      const onRedis = new Engine({ rules, store: redis });
      const inMemory = new Engine({ rules, store: memory });
      let firings = 0;
      const batches = traffic(7, 30);
      for (let b = 0; b < batches.length; b++) {
        const ctx = { batchId: `b${b}`, receivedAt: T0 + 3_600_000 };
        const want = await inMemory.evaluate(batches[b]!, ctx);
        const got = await onRedis.evaluate(batches[b]!, ctx);
        expect({ batch: b, firings: got }).toEqual({ batch: b, firings: want });
        // a retry of the batch (its response was lost) answers the same, counting nothing twice
        if (b % 10 === 3) expect(await onRedis.evaluate(batches[b]!, ctx)).toEqual(want);
        firings += want.length;
      }
      expect(firings).toBeGreaterThan(5);
      // the 16 shards' keys live on more than one node
      const perNode = await Promise.all(
        cluster.ports.map(async (port) => {
          const node = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
          try {
            await node.connect();
            return (await node.keys(`${prefix}*`)).length;
          } finally {
            node.disconnect();
          }
        }),
      );
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
    } finally {
      await redis.stop();
      await memory.stop();
    }
  });
});

describeRedisAlertStore("redis cluster", () => cluster);
describeRedisReportStore("redis cluster", () => cluster);

const outboxes: Outbox[] = [];
afterAll(async () => {
  await Promise.all(outboxes.map((b) => b.stop()));
});
outboxSuite("RedisOutbox on a cluster", async () => {
  const box = new RedisOutbox({ connection: cluster.connection({ prefix: `oc${randomUUID()}:` }) });
  await box.start();
  outboxes.push(box);
  return box;
});
