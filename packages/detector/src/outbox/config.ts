import { z } from "zod";

export const sqliteOutboxSchema = z
  .strictObject({
    type: z.literal("sqlite").describe("An embedded SQLite file (node:sqlite); needs no server"),
    path: z
      .string()
      .min(1)
      .default(".secmon/outbox.db")
      .describe(
        "The database file (its directory is created); one detector process per file (locked exclusively)",
      ),
    synchronous: z
      .enum(["normal", "full"])
      .default("normal")
      .describe(
        "normal: a committed delivery survives the detector being killed (kill -9); full: also a power loss or OS crash, at the cost of an fsync per write",
      ),
  })
  .describe("Durable outbox in a local SQLite file");

export const redisOutboxSchema = z
  .strictObject({
    type: z
      .literal("redis")
      .describe(
        "The Redis of `state.redis` (needs state.backend: redis), shared by every replica: a delivery one replica created is sent by another when the first dies",
      ),
  })
  .describe("Durable outbox in the shared Redis state");

export const memoryOutboxSchema = z
  .strictObject({
    type: z.literal("memory").describe("Process memory: deliveries and dead letters are lost on restart"),
  })
  .describe("Outbox in memory (tests, throwaway runs)");

/** An outbox: one of the variants. */
export const outboxSchema = z.discriminatedUnion("type", [
  sqliteOutboxSchema,
  redisOutboxSchema,
  memoryOutboxSchema,
]);

/**
 * Config section `outbox`: where deliveries wait until their sink has them (written before the
 * first attempt, removed on success) and where dead letters are kept. Optional: without it the
 * outbox follows `state.backend` (see resolveOutboxConfig).
 */
export const outboxSectionSchema = outboxSchema
  .optional()
  .describe(
    "Where alert deliveries and dead letters are kept; default: with state.backend redis the shared Redis (type: redis), else .secmon/outbox.db (type: sqlite)",
  );

export type OutboxConfig = z.infer<typeof outboxSchema>;
export type SqliteOutboxConfig = z.infer<typeof sqliteOutboxSchema>;

/**
 * The outbox a detector uses: the configured one, else Redis when the state is on Redis (so that
 * replicas share their deliveries), else the default SQLite file.
 */
export function resolveOutboxConfig(
  outbox: OutboxConfig | undefined,
  stateBackend: "memory" | "redis",
): OutboxConfig {
  if (outbox) return outbox;
  return stateBackend === "redis" ? { type: "redis" } : sqliteOutboxSchema.parse({ type: "sqlite" });
}
