import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { RedisAlertStore } from "../../src/alerts/redis-store.ts";
import { describeAlertStore } from "../alerts/alert-store-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeAlertStore("redis", async (options) => {
  // a fresh prefix per case: an empty store on the shared server
  const store = new RedisAlertStore({
    connection: server.connection({ prefix: `a${randomUUID()}:` }),
    ...options,
  });
  await store.start();
  return store;
});
