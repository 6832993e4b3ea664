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
