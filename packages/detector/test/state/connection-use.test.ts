import { describe, expect, it } from "vitest";
import { ConnectionUse, type RedisConnection } from "../../src/state/redis/connection.ts";

/** Counts what a store's use does to its shared connection (open and close are all it calls). */
function countingConnection(fail = 0) {
  const calls = { open: 0, close: 0 };
  const conn = {
    open: async () => {
      calls.open++;
      if (calls.open <= fail) throw new Error("redis down");
    },
    close: async () => {
      calls.close++;
    },
  };
  return { calls, conn: conn as unknown as RedisConnection };
}

describe("ConnectionUse", () => {
  it("opens once for concurrent starts and closes once for concurrent stops", async () => {
    const { calls, conn } = countingConnection();
    const use = new ConnectionUse(conn);
    let started = 0;
    await Promise.all([use.start(() => started++), use.start(() => started++), use.start()]);
    await use.start();
    expect(calls.open).toBe(1);
    expect(started).toBe(1);
    expect(use.state).toBe("started");
    const closes = await Promise.all([use.stop(), use.stop()]);
    expect(closes.filter(Boolean)).toHaveLength(1);
    expect(await use.stop()).toBe(false);
    expect(use.state).toBe("stopped");
  });

  it("a stop during a start waits for it and then releases; a failed start can be tried again", async () => {
    const { calls, conn } = countingConnection(1);
    const use = new ConnectionUse(conn);
    await expect(use.start()).rejects.toThrow("redis down");
    expect(use.state).toBe("new");
    expect(await use.stop()).toBe(false);
    const starting = use.start();
    const stopping = use.stop();
    await starting;
    expect(await stopping).toBe(true);
    expect(calls.open).toBe(2);
    expect(await new ConnectionUse(conn).stop()).toBe(false);
  });
});
