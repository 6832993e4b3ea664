import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { eventually } from "../sinks/helpers.ts";
import { RedisServer } from "./server.ts";

/**
 * A Redis that hangs (stopped, swapping, blocked by a slow command) keeps its sockets open: the
 * client still says "ready" while every command times out. Readiness must follow what Redis
 * answers, not the socket, so that a balancer stops routing to a detector that refuses every batch.
 */
describe("readiness while Redis does not answer", () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await RedisServer.start();
  });

  afterAll(async () => {
    server.resume();
    await server.stop();
  });

  it("turns unhealthy while redis-server is stopped (SIGSTOP) and healthy again when it goes on", async () => {
    const conn = server.connection({ command_timeout_seconds: 0.5 });
    await conn.open();
    try {
      expect(conn.health()).toEqual({ healthy: true });
      server.pause();
      const stalled = await eventually(
        async () => (conn.health().healthy ? undefined : conn.health()),
        15_000,
        "readiness to turn false",
      );
      expect(stalled.detail).toMatch(/^redis not answering: .*timed out/i);
      expect(conn.ready).toBe(true); // the socket alone would have said all is well
      server.resume();
      await eventually(
        async () => (conn.health().healthy ? true : undefined),
        15_000,
        "readiness to come back",
      );
    } finally {
      server.resume();
      await conn.close();
    }
  });

  it("runs the heartbeat only while the connection is open: none after close, none after a failed connect", async () => {
    // the heartbeat is the connection's only interval timer
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const conn = server.connection();
      await conn.open();
      expect(vi.getTimerCount()).toBe(1);
      await conn.close();
      expect(vi.getTimerCount()).toBe(0);
      const nowhere = server.connection({ url: "redis://127.0.0.1:1", connect_timeout_seconds: 1 });
      await expect(nowhere.open()).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
