import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { windowGeometry, type StateOp } from "../../src/state/types.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { describeWindowStore } from "../state/window-store-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

// a prefix per store: groups expire a TTL behind their rule's newest event time, and the cases
// share rule ids and times
let stores = 0;
describeWindowStore(
  "redis",
  () => new RedisWindowStore({ connection: server.connection({ prefix: `ws${++stores}:` }) }),
);
describeWindowStore(
  "redis, 8 shards (one script call per shard a batch touches, as on a cluster)",
  () => new RedisWindowStore({ connection: server.connection({ prefix: `wss${++stores}:` }), shards: 8 }),
);

describe("RedisWindowStore: secmon_state_groups", () => {
  const T0 = Date.parse("2026-11-21T10:00:00.000Z");
  const g = windowGeometry(300, 60); // TTL 370 s
  const add = (rule: string, key: string, t: number): StateOp => ({
    type: "window_add",
    rule,
    key: `${rule}|${key}`,
    ...g,
    times: [t],
    amounts: [1],
  });
  const dadd = (rule: string, key: string, t: number, member: string): StateOp => ({
    type: "distinct_add",
    rule,
    key: `${rule}|${key}`,
    ...g,
    times: [t],
    members: [member],
    maxMembers: 100,
  });

  it.each([1, 4])(
    "reports the groups held per rule (%i shards) and forgets those two TTLs behind the clock",
    async (shards) => {
      const { metrics, points } = testMetrics();
      const store = new RedisWindowStore({
        connection: server.connection({ prefix: `gauge${shards}:` }),
        metrics,
        shards,
      });
      await store.start();
      try {
        await store.apply(
          [
            add("brute_force", "10.0.0.1", T0),
            add("brute_force", "10.0.0.2", T0 + 1000),
            add("brute_force", "10.0.0.3", T0 + 2000),
            dadd("credential_stuffing", "10.0.0.1", T0, "u1"),
            dadd("credential_stuffing", "10.0.0.2", T0, "u2"),
          ],
          { batchId: "g1" },
        );
        expect(await store.groupCounts()).toEqual({ brute_force: 3, credential_stuffing: 2 });
        const observed = (await points("secmon_state_groups")).map((p) => [p.attributes["rule"], p.value]);
        expect(Object.fromEntries(observed)).toEqual({ brute_force: 3, credential_stuffing: 2 });
        // two TTLs later only the new group of brute_force is held (a shard's groups expire
        // behind that shard's clock: with one shard, all of them)
        await store.apply([add("brute_force", "10.0.0.9", T0 + 2 * 370_000 + 5000)], { batchId: "g2" });
        const after = (await store.groupCounts())["brute_force"];
        if (shards === 1) expect(after).toBe(1);
        else expect(after).toBeLessThanOrEqual(4);
      } finally {
        await store.stop();
      }
    },
  );
});
