import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { RedisAlertStore } from "../../src/alerts/redis-store.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { RedisServer } from "../redis/server.ts";
import { describeBatching } from "./batching-suite.ts";

/** The batching contract on the Redis window and alert stores: one server, a key prefix per store. */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ args: ["--appendonly", "no"] });
});
afterAll(async () => {
  await server?.stop();
});

describeBatching("redis", {
  windowStore: () => new RedisWindowStore({ connection: server.connection({ prefix: `w${randomUUID()}:` }) }),
  alertStore: async () => {
    const store = new RedisAlertStore({ connection: server.connection({ prefix: `a${randomUUID()}:` }) });
    await store.start();
    return store;
  },
});
