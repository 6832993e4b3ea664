import { z } from "zod";
import { ingestSectionSchema, logSectionSchema, metricsSectionSchema } from "./sections.ts";

/**
 * The detector's one configuration schema: defaults, bounds and descriptions for every key.
 * `docs/configuration.md` is generated from it (`pnpm docs`), and a test keeps the two in step.
 */
export const configSchema = z
  .strictObject({
    ingest: ingestSectionSchema,
    metrics: metricsSectionSchema,
    log: logSectionSchema,
  })
  .describe("secmon-detector configuration");

export type Config = z.infer<typeof configSchema>;
