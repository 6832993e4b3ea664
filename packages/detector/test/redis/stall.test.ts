import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
