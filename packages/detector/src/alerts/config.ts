import { z } from "zod";

/** Config section `alerts`: how long alerts are kept and how many. */
export const alertsSectionSchema = z
  .strictObject({
    retention_seconds: z
      .number()
      .int()
      .min(3600)
      .max(366 * 86_400)
      .default(30 * 86_400)
      .describe("Closed alerts (resolved, false_positive) whose last change is older than this are purged"),
    max_alerts: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(10_000)
      .describe(
        "Most alerts kept; past this the oldest closed alerts are dropped first, then the oldest open ones",
      ),
    purge_interval_seconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe("How often retention is applied"),
  })
  .prefault({})
  .describe("Alert storage: retention and bounds");

export type AlertsConfig = z.infer<typeof alertsSectionSchema>;
