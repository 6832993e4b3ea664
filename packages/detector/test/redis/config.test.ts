import { describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import { stateSectionSchema } from "../../src/state/config.ts";
import { createStateStores } from "../../src/state/factory.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import { RedisConnection, toStoreError } from "../../src/state/redis/connection.ts";
import calculateSlot from "cluster-key-slot";
import { batchKey, clockKey, shardTag, stateHashPrefix } from "../../src/state/redis/keys.ts";
import { RedisWindowStore } from "../../src/state/redis/window-store.ts";

const sections = (state: unknown) => ({
  state: stateSectionSchema.parse(state),
  rules: { max_groups_per_rule: 1000 },
  alerts: { retention_seconds: 3600, max_alerts: 100 },
  report: { top_k_capacity: 10 },
});

function problems(input: unknown): string[] {
  const r = stateSectionSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("state config section", () => {
  it("defaults to the memory backend and a local Redis with the secmon: prefix", () => {
    const s = stateSectionSchema.parse(undefined);
    expect(s.backend).toBe("memory");
    expect(s.redis).toMatchObject({
      mode: "standalone",
      url: "redis://127.0.0.1:6379",
      prefix: "secmon:",
      command_timeout_seconds: 2,
      applied_batch_ttl_seconds: 900,
    });
  });

  it("rejects unknown keys, bad urls, passwords in urls, braces in the prefix and out-of-range timeouts", () => {
    expect(problems({ backend: "redis", redis: { host: "x" } })).toEqual([expect.stringMatching(/^redis: /)]);
    expect(problems({ backend: "etcd" })).toEqual([expect.stringMatching(/^backend: /)]);
    expect(problems({ redis: { url: "http://x:6379" } })).toEqual([expect.stringMatching(/^redis\.url: /)]);
    expect(problems({ redis: { url: "redis://u:secret@x:6379" } })).toEqual([
      "redis.url: must not hold a password: use `password`",
    ]);
    expect(problems({ redis: { prefix: "a{b}:" } })).toEqual([expect.stringMatching(/^redis\.prefix: /)]);
    expect(problems({ redis: { command_timeout_seconds: 0 } })).toEqual([
      expect.stringMatching(/^redis\.command_timeout_seconds: /),
    ]);
    expect(problems({ redis: { password: "inline" } })).toEqual([
      expect.stringMatching(/^redis\.password: /),
    ]);
  });

  it("needs the settings of the chosen mode, and only those", () => {
    expect(problems({ redis: { mode: "sentinel" } })).toEqual([
      "redis.sentinel: required when mode is sentinel",
    ]);
    expect(problems({ redis: { mode: "cluster" } })).toEqual([
      "redis.cluster: required when mode is cluster",
    ]);
    expect(problems({ redis: { cluster: { nodes: ["a:1"] } } })).toEqual([
      "redis.cluster: only with mode cluster",
    ]);
    expect(
      problems({
        redis: {
          mode: "cluster",
          sentinel: { master_name: "m", nodes: ["s:26379"] },
          cluster: { nodes: ["a:1"] },
        },
      }),
    ).toEqual(["redis.sentinel: only with mode sentinel"]);
    expect(problems({ redis: { mode: "cluster", cluster: { nodes: ["no-port"] } } })).toEqual([
      expect.stringMatching(/^redis\.cluster\.nodes\.0: /),
    ]);
    expect(
      problems({ redis: { mode: "sentinel", sentinel: { master_name: "m", nodes: ["s1:26379"] } } }),
    ).toEqual([]);
  });
});

describe("state store factory", () => {
  it("builds memory stores without any Redis", () => {
    const s = createStateStores(sections(undefined));
    expect(s.backend).toBe("memory");
    expect(s.windows).toBeInstanceOf(MemoryWindowStore);
    expect(s.report).toBeUndefined();
    expect(s.components).toEqual([]);
    expect(s.health()).toEqual({});
  });

  it("builds Redis stores on one connection, unhealthy until started", () => {
    const s = createStateStores(sections({ backend: "redis" }));
    expect(s.backend).toBe("redis");
    expect(s.windows).toBeInstanceOf(RedisWindowStore);
    expect(s.components.map((c) => c.name)).toEqual(["alert store", "report store"]);
    expect(s.health()).toEqual({ redis: { healthy: false, detail: "redis closed" } });
  });

  it("fails to start with STORE_UNAVAILABLE when Redis cannot be reached in time", async () => {
    const conn = new RedisConnection(
      stateSectionSchema.parse({ redis: { url: "redis://127.0.0.1:1", connect_timeout_seconds: 0.3 } }).redis,
    );
    const store = new RedisWindowStore({ connection: conn });
    const err = await store.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecmonError);
    expect((err as SecmonError).code).toBe("STORE_UNAVAILABLE");
    // says where it tried and why, not ioredis's "Connection is closed."
    expect((err as SecmonError).message).toMatch(
      /: cannot connect to Redis at 127\.0\.0\.1:1: .*ECONNREFUSED/,
    );
    await expect(store.apply([], { batchId: "x" })).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
    await store.stop();
    await store.stop();
  });

  it("asks for a secret resolver when a password is configured", () => {
    const conn = new RedisConnection(stateSectionSchema.parse({ redis: { password: { env: "X" } } }).redis);
    return expect(conn.open()).rejects.toMatchObject({ code: "CONFIG_SECRET_MISSING" });
  });
});

describe("Redis keys and errors", () => {
  it("puts every window key of a shard under the shard's hash tag, whatever the group holds", () => {
    const tag = shardTag(3);
    expect(tag).toBe("{w3}");
    const keys = [
      `${stateHashPrefix("secmon:", tag, "w", "brute_force")}980`,
      clockKey("secmon:", tag, "d", "credential_stuffing"),
      batchKey("secmon:", tag, "c0ffee"),
      // a distinct window's members key carries the group key after the tag
      `secmon:dm:${tag}:r|u={x}%:1795255200000`,
    ];
    expect(keys[0]).toBe("secmon:w:{w3}:brute_force:980");
    expect(new Set(keys.map((k) => calculateSlot(k)))).toEqual(new Set([calculateSlot(tag)]));
  });

  it("maps connection failures to STORE_UNAVAILABLE and script bugs to INTERNAL", () => {
    expect(toStoreError(new Error("Connection is closed."), "x").code).toBe("STORE_UNAVAILABLE");
    expect(toStoreError(new Error("Command timed out"), "x").code).toBe("STORE_UNAVAILABLE");
    expect(toStoreError(new Error("ERR user_script:1: boom"), "x").code).toBe("INTERNAL");
    expect(toStoreError(new Error("WRONGTYPE Operation against a key"), "x").code).toBe("INTERNAL");
  });
});
