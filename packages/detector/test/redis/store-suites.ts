/**
 * The store contract suites on Redis, for a single server and a cluster alike: every case gets a
 * store on a fresh key prefix, so an empty one.
 */
import { randomUUID } from "node:crypto";
import { RedisAlertStore } from "../../src/alerts/redis-store.ts";
import type { RedisConnection } from "../../src/state/redis/connection.ts";
import { RedisReportStore } from "../../src/report/redis-store.ts";
import { describeAlertStore } from "../alerts/alert-store-suite.ts";
import { describeReportStore } from "../report/report-store-suite.ts";

/** The server or cluster the stores connect to (a getter: it starts in beforeAll). */
type Redis = () => { connection(overrides: { prefix: string }): RedisConnection };

export function describeRedisAlertStore(name: string, redis: Redis): void {
  describeAlertStore(name, async (options) => {
    const store = new RedisAlertStore({
      connection: redis().connection({ prefix: `a${randomUUID()}:` }),
      ...options,
    });
    await store.start();
    return store;
  });
}

/** Redis estimates unique addresses (HyperLogLog). */
export function describeRedisReportStore(name: string, redis: Redis): void {
  describeReportStore(
    name,
    async (options) => {
      const store = new RedisReportStore({
        connection: redis().connection({ prefix: `r${randomUUID()}:` }),
        ...options,
      });
      await store.start();
      return store;
    },
    { exactUniques: false },
  );
}
