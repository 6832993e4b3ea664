import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisOutbox } from "../../src/outbox/redis.ts";
import { SinkDispatcher, type SinkDispatcherOptions } from "../../src/sinks/dispatcher.ts";
import type { AttemptResult, Delivery, Sink, SinkRoute } from "../../src/sinks/sink.ts";
import { manualClock } from "../alerts/fixtures.ts";
import { change, waitFor } from "../sinks/helpers.ts";
import { RedisServer } from "./server.ts";

/**
 * Two detector replicas' dispatchers on one Redis outbox (real Redis, real dispatchers, one
 * detector clock passed in): a replica that dies in the middle of an attempt leaves its lease;
 * once the lease ends the other replica sends the delivery, exactly once.
 */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

/** A sink that records what it is given; `hang` never answers (its replica is dead). */
function sink(hang: boolean): Sink & { readonly got: Delivery[] } {
  const got: Delivery[] = [];
  return {
    name: "soc",
    type: "webhook",
    got,
    send(delivery): Promise<AttemptResult> {
      got.push(delivery);
      return hang ? new Promise(() => {}) : Promise.resolve({ ok: true, status: 200 });
    },
  };
}

function route(s: Sink): SinkRoute {
  return {
    sink: s,
    filter: {
      minSeverity: "low",
      includeRules: [],
      excludeRules: [],
      events: ["alert.created", "alert.updated", "alert.status_changed"],
    },
    retry: { maxRetryMs: 3_600_000, initialBackoffMs: 1000, maxBackoffMs: 60_000 },
    maxConcurrency: 1,
    queueCapacity: 100,
    timeoutMs: 10_000,
  };
}

/**
 * Replica a (its attempt never ends and its timers never fire: the process is gone) and replica
 * b with the given sleep and poll, each with its own connection to one outbox under `prefix`.
 */
async function replicas(prefix: string, b: Pick<SinkDispatcherOptions, "sleep" | "sharedPollMs">) {
  const clock = manualClock();
  const boxA = new RedisOutbox({ connection: server.connection({ prefix }) });
  const boxB = new RedisOutbox({ connection: server.connection({ prefix }) });
  await boxA.start();
  await boxB.start();
  const dying = sink(true);
  const survivor = sink(false);
  const survivorReplica = new SinkDispatcher({
    routes: [route(survivor)],
    outbox: boxB,
    owner: "replica-b",
    clock: clock.now,
    ...b,
  });
  return {
    clock,
    boxB,
    dying,
    survivor,
    a: new SinkDispatcher({
      routes: [route(dying)],
      outbox: boxA,
      owner: "replica-a",
      clock: clock.now,
      sleep: () => new Promise(() => {}),
    }),
    b: survivorReplica,
    stop: async () => {
      await survivorReplica.stop();
      await boxA.stop();
      await boxB.stop();
    },
  };
}

describe("the Redis outbox across detector replicas", () => {
  it("delivers what a replica that died mid-attempt had leased, once its lease ends, from the other replica", async () => {
    const sleeps: number[] = [];
    const r = await replicas("failover:", {
      sleep: async (ms, signal) => {
        if (signal.aborted) throw signal.reason;
        sleeps.push(ms);
        r.clock.advance(ms);
      },
      // it learns of the lease when it starts; its periodic look (next case) would spin this sleep
      sharedPollMs: 0,
    });
    const { a, b, dying, survivor, clock } = r;
    try {
      await a.start();
      const created = change({ rule: "brute_force" });
      const leasedAt = clock.now();
      a.dispatch([created]);
      await waitFor(() => dying.got.length === 1);

      // replica b comes up (or wakes) while a's lease runs: it waits for the lease's end
      await b.start();
      await b.whenIdle();
      expect(survivor.got.map((d) => [d.id, d.type, d.alert.id])).toEqual([
        [dying.got[0]!.id, "alert.created", created.alert.id],
      ]);
      // the lease is 60 s (3 × the 10 s timeout, at least a minute): b slept until it ended
      expect(clock.now() - leasedAt).toBeGreaterThanOrEqual(60_000);
      expect(sleeps.length).toBeGreaterThan(0);
      expect(await r.boxB.backlog()).toEqual({});
      expect(dying.got).toHaveLength(1);
    } finally {
      await r.stop();
    }
  });

  it("an idle replica that started first still finds what another enqueued and left leased when it died", async () => {
    // b's timers fire when the test moves time on
    const waiting: (() => void)[] = [];
    const r = await replicas("failover-idle:", {
      sleep: (_ms, signal) =>
        new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason);
          waiting.push(resolve);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      sharedPollMs: 5000,
    });
    const { a, b, dying, survivor, clock } = r;
    try {
      // b is up and idle first: nothing due, nothing of its own to wait for
      await b.start();
      await b.whenIdle();
      await a.start();
      const created = change({ rule: "credential_stuffing" });
      a.dispatch([created]);
      await waitFor(() => dying.got.length === 1);
      // time passes past a's lease (60 s); b only looks now and then
      for (let s = 0; s < 20 && survivor.got.length === 0; s++) {
        clock.advance(5000);
        for (const wake of waiting.splice(0)) wake();
        await waitFor(() => waiting.length > 0 || survivor.got.length > 0);
      }
      expect(survivor.got.map((d) => [d.id, d.alert.id])).toEqual([[dying.got[0]!.id, created.alert.id]]);
      await waitFor(async () => Object.keys(await r.boxB.backlog()).length === 0);
    } finally {
      await r.stop();
    }
  });
});
