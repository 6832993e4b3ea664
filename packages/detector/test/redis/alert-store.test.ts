import { afterAll, beforeAll } from "vitest";
import { RedisServer } from "./server.ts";
import { describeRedisAlertStore } from "./store-suites.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeRedisAlertStore("redis", () => server);
