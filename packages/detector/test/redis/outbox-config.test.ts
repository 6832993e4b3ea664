import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.ts";
import { createOutbox } from "../../src/outbox/build.ts";
import { outboxSectionSchema, resolveOutboxConfig } from "../../src/outbox/config.ts";
import { MemoryOutbox } from "../../src/outbox/memory.ts";
import { RedisOutbox } from "../../src/outbox/redis.ts";
import { SqliteOutbox } from "../../src/outbox/sqlite.ts";
import { createStateStores } from "../../src/state/factory.ts";

const dir = mkdtempSync(join(tmpdir(), "secmon-outbox-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The stores (not started) of a whole detector config. */
const storesOf = (input: unknown) => {
  const config = configSchema.parse(input);
  return { config, state: createStateStores(config) };
};

describe("outbox section with the state backend", () => {
  it("follows the state when absent: Redis with Redis state, the SQLite file otherwise", () => {
    expect(resolveOutboxConfig(undefined, "redis")).toEqual({ type: "redis" });
    expect(resolveOutboxConfig(undefined, "memory")).toEqual({
      type: "sqlite",
      path: ".secmon/outbox.db",
      synchronous: "normal",
    });
    const redis = storesOf({ state: { backend: "redis" } });
    expect(redis.config.outbox).toBeUndefined();
    expect(createOutbox(redis.config.outbox, redis.state)).toBeInstanceOf(RedisOutbox);
    const memory = storesOf({});
    expect(createOutbox(memory.config.outbox, memory.state)).toBeInstanceOf(SqliteOutbox);
  });

  it("keeps an explicit outbox whatever the state", () => {
    const sqlite = storesOf({
      state: { backend: "redis" },
      outbox: { type: "sqlite", path: join(dir, "o.db") },
    });
    expect(createOutbox(sqlite.config.outbox, sqlite.state)).toBeInstanceOf(SqliteOutbox);
    const memory = storesOf({ state: { backend: "redis" }, outbox: { type: "memory" } });
    expect(createOutbox(memory.config.outbox, memory.state)).toBeInstanceOf(MemoryOutbox);
    const redis = storesOf({ state: { backend: "redis" }, outbox: { type: "redis" } });
    expect(createOutbox(redis.config.outbox, redis.state)).toBeInstanceOf(RedisOutbox);
  });

  it("refuses type redis without Redis state, and unknown keys of the variant", () => {
    // The schema says so (config check), and the outbox factory again for configs built in code.
    const checked = configSchema.safeParse({ outbox: { type: "redis" } });
    expect(checked.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["outbox.type", "redis needs state.backend: redis (the outbox uses the state's Redis connection)"],
    ]);
    const config = configSchema.parse({});
    const state = createStateStores(config);
    expect(() => createOutbox({ type: "redis" }, state)).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringMatching(/state\.backend/) }),
    );
    expect(() => createOutbox({ type: "redis" })).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
    const r = outboxSectionSchema.safeParse({ type: "redis", url: "redis://x:6379" });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.code)).toContain("unrecognized_keys");
  });
});
