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

export const memoryOutboxSchema = z
  .strictObject({
    type: z.literal("memory").describe("Process memory: deliveries and dead letters are lost on restart"),
  })
  .describe("Outbox in memory (tests, throwaway runs)");

/**
 * Config section `outbox`: where deliveries wait until their sink has them (written before the
 * first attempt, removed on success) and where dead letters are kept.
 */
export const outboxSectionSchema = z
  .discriminatedUnion("type", [sqliteOutboxSchema, memoryOutboxSchema])
  .prefault({ type: "sqlite" })
  .describe("Where alert deliveries and dead letters are kept; default: .secmon/outbox.db (SQLite)");

export type OutboxConfig = z.infer<typeof outboxSectionSchema>;
export type SqliteOutboxConfig = z.infer<typeof sqliteOutboxSchema>;
