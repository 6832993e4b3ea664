import { afterAll, beforeAll } from "vitest";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";
import { describeWindowStore } from "../state/window-store-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeWindowStore("redis", () => new RedisWindowStore({ connection: server.connection() }));
describeWindowStore(
  "redis, cluster-style calls (one script per hash slot)",
  () => new RedisWindowStore({ connection: server.connection({ prefix: "slots:" }), perSlot: true }),
);
