import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisOutbox } from "../../src/outbox/redis.ts";
import type { Outbox } from "../../src/outbox/types.ts";
import { outboxBase } from "../../src/state/redis/keys.ts";
import { T0 } from "../alerts/fixtures.ts";
import { delivery, letterOf, outboxSuite } from "../outbox/outbox-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
const opened: Outbox[] = [];
let boxes = 0;

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await Promise.all(opened.map((b) => b.stop()));
  await server?.stop();
});

/** A started outbox on its own prefix (the suite expects an empty outbox from each open). */
async function fresh(prefix = `ob${++boxes}:`): Promise<RedisOutbox> {
  const box = new RedisOutbox({ connection: server.connection({ prefix }) });
  await box.start();
  opened.push(box);
  return box;
}

outboxSuite("RedisOutbox", () => fresh());

const unbounded = { maxDepth: () => 1000 };

describe("RedisOutbox", () => {
  it("is shared: what one detector enqueues, another claims; an expired lease passes to the other", async () => {
    const prefix = `shared${++boxes}:`;
    const [a, b] = [await fresh(prefix), await fresh(prefix)];
    const d = delivery("alt_shared");
    expect(await a.enqueue([d], unbounded)).toEqual(["queued"]);
    const [mine] = await a.claim({ sink: "hook", limit: 5, now: T0, leaseMs: 60_000, owner: "replica-a" });
    expect(mine).toMatchObject({ id: d.id, attempts: 1 });
    // replica-a dies holding the lease: b waits for the lease's end, then takes it over
    expect(
      await b.claim({ sink: "hook", limit: 5, now: T0 + 1000, leaseMs: 60_000, owner: "replica-b" }),
    ).toEqual([]);
    expect(await b.nextDue("hook", "replica-b")).toBe(T0 + 60_000);
    const [taken] = await b.claim({
      sink: "hook",
      limit: 5,
      now: T0 + 60_000,
      leaseMs: 60_000,
      owner: "replica-b",
    });
    expect(taken).toMatchObject({ id: d.id, attempts: 2, firstAttemptAt: T0 });
    // the dead owner's late nack changes nothing; b's ack removes it for everyone
    await a.nack(d.id, "replica-a", { dueAt: T0, error: "late" });
    expect(
      await a.claim({ sink: "hook", limit: 5, now: T0 + 61_000, leaseMs: 1, owner: "replica-a" }),
    ).toEqual([]);
    await b.ack(d.id);
    expect(await a.backlog()).toEqual({});
  });

  it("keeps deliveries and dead letters across a restart of redis-server (AOF)", async () => {
    const prefix = `durable${++boxes}:`;
    const box = await fresh(prefix);
    const [a, b] = [delivery("alt_a"), delivery("alt_b")];
    await box.enqueue([a, b], unbounded);
    await box.deadLetters.add(letterOf(b), 10);
    await server.restart();
    const again = await fresh(prefix);
    expect(await again.backlog()).toEqual({ hook: { depth: 1, oldestEnqueuedAt: a.enqueuedAt } });
    expect(await again.deadLetters.get(b.id)).toEqual(letterOf(b));
    const [item] = await again.claim({ sink: "hook", limit: 5, now: T0, leaseMs: 1000, owner: "x" });
    expect(item).toMatchObject({ id: a.id, alert: a.alert });
  });

  it("hands out a long backlog in order, one claim at a time, without rescanning held-back items", async () => {
    const box = await fresh();
    // 300 changes of 100 alerts: each alert's later changes wait for its first
    const ds = Array.from({ length: 300 }, (_, i) =>
      delivery(`alt_${i % 100}`, i < 100 ? "alert.created" : "alert.status_changed"),
    );
    await box.enqueue(ds, unbounded);
    const seen: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (;;) {
        const items = await box.claim({ sink: "hook", limit: 7, now: T0, leaseMs: 1000, owner: "me" });
        if (items.length === 0) break;
        for (const i of items) seen.push(i.id);
      }
      // deliver what this round claimed; the next change of each alert becomes claimable
      for (const id of seen.slice(round * 100)) await box.ack(id);
    }
    expect(seen).toEqual(ds.map((d) => d.id));
    expect(await box.backlog()).toEqual({});
  });

  it("refuses calls before start and after stop with SHUTTING_DOWN; stop is safe before start", async () => {
    const box = new RedisOutbox({ connection: server.connection({ prefix: "closed:" }) });
    await box.stop();
    await expect(box.backlog()).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    const other = new RedisOutbox({ connection: server.connection({ prefix: "closed:" }) });
    await expect(other.enqueue([delivery("alt_a")], unbounded)).rejects.toMatchObject({
      code: "SHUTTING_DOWN",
    });
  });

  it("answers STORE_UNAVAILABLE while Redis is down", async () => {
    const box = await fresh();
    await server.kill();
    try {
      await expect(box.backlog()).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
    } finally {
      await server.restart();
    }
  });

  it("keeps every key under one hash tag", async () => {
    const prefix = `tag${++boxes}:`;
    const box = await fresh(prefix);
    const d = delivery("alt_a");
    await box.enqueue([d, delivery("alt_a", "alert.updated")], unbounded);
    await box.claim({ sink: "hook", limit: 5, now: T0, leaseMs: 1000, owner: "me" });
    await box.deadLetters.add(letterOf(d), 10);
    const conn = server.connection({ prefix });
    await conn.open();
    try {
      const keys = await conn.client.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(5);
      expect(keys.every((k) => k.startsWith(outboxBase(prefix)))).toBe(true);
    } finally {
      await conn.close();
    }
  });
});
