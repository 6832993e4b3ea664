import { z } from "zod";
import { alertsSectionSchema } from "../alerts/config.ts";
import { apiSectionSchema } from "../api/config.ts";
import { outboxSectionSchema } from "../outbox/config.ts";
import { receiversSectionSchema } from "../receiver/config.ts";
import { reportSectionSchema } from "../report/config.ts";
import { rulesSectionSchema } from "../rules/config.ts";
import { sinksSectionSchema } from "../sinks/config.ts";
import { stateSectionSchema } from "../state/config.ts";
import { ingestSectionSchema, logSectionSchema, metricsSectionSchema } from "./sections.ts";

/**
 * The detector's one configuration schema: defaults, bounds and descriptions for every key,
 * composed from the sections that live beside the components they configure.
 * `docs/configuration.md` is generated from it (`pnpm docs`), and a test keeps the two in step.
 */
export const configSchema = z
  .strictObject({
    receivers: receiversSectionSchema,
    ingest: ingestSectionSchema,
    rules: rulesSectionSchema,
    state: stateSectionSchema,
    alerts: alertsSectionSchema,
    report: reportSectionSchema,
    sinks: sinksSectionSchema,
    outbox: outboxSectionSchema,
    api: apiSectionSchema,
    metrics: metricsSectionSchema,
    log: logSectionSchema,
  })
  .superRefine((c, ctx) => {
    // Across sections: what `config check` must catch rather than the start.
    if (c.outbox?.type === "redis" && c.state.backend !== "redis") {
      ctx.addIssue({
        code: "custom",
        path: ["outbox", "type"],
        message: "redis needs state.backend: redis (the outbox uses the state's Redis connection)",
      });
    }
  })
  .describe("secmon-detector configuration");

export type Config = z.infer<typeof configSchema>;
