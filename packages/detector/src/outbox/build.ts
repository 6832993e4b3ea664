import type { OutboxConfig } from "./config.ts";
import { MemoryOutbox } from "./memory.ts";
import { SqliteOutbox } from "./sqlite.ts";
import type { Outbox } from "./types.ts";

/** The outbox of the `outbox` section (not started: the wiring starts it before the dispatcher). */
export function createOutbox(config: OutboxConfig): Outbox {
  switch (config.type) {
    case "sqlite":
      return new SqliteOutbox(config);
    case "memory":
      return new MemoryOutbox();
  }
}
