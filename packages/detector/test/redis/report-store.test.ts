import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { RedisReportStore } from "../../src/report/redis-store.ts";
import { describeReportStore } from "../report/report-store-suite.ts";
import { RedisServer } from "./server.ts";

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describeReportStore(
  "redis",
  async (options) => {
    const store = new RedisReportStore({
      connection: server.connection({ prefix: `r${randomUUID()}:` }),
      ...options,
    });
    await store.start();
    return store;
  },
  { exactUniques: false },
);
