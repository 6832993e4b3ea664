import { SecmonError } from "../errors.ts";
import type { RedisConnection } from "../state/redis/connection.ts";
import { resolveOutboxConfig, type OutboxConfig } from "./config.ts";
import { MemoryOutbox } from "./memory.ts";
import { RedisOutbox } from "./redis.ts";
import { SqliteOutbox } from "./sqlite.ts";
import type { Outbox } from "./types.ts";

/** What the outbox needs of the state stores (createStateStores' result has it). */
export interface OutboxState {
  readonly backend: "memory" | "redis";
  /** The shared Redis connection (backend redis). */
  readonly connection: RedisConnection | undefined;
}

/**
 * The outbox of the `outbox` section (not started: the wiring starts it before the dispatcher).
 * Without a section it follows the state: Redis when `state.backend` is redis, else SQLite.
 * CONFIG_INVALID for `type: redis` without Redis state.
 */
export function createOutbox(
  config: OutboxConfig | undefined,
  state: OutboxState = { backend: "memory", connection: undefined },
): Outbox {
  const resolved = resolveOutboxConfig(config, state.backend);
  switch (resolved.type) {
    case "sqlite":
      return new SqliteOutbox(resolved);
    case "redis":
      if (!state.connection) {
        throw new SecmonError("CONFIG_INVALID", "outbox: type redis needs state.backend: redis");
      }
      return new RedisOutbox({ connection: state.connection });
    case "memory":
      return new MemoryOutbox();
  }
}
