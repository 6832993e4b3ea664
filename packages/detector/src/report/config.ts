import { z } from "zod";

/** Config section `report`: the recent-events index and the security report's hourly buckets. */
export const reportSectionSchema = z
  .strictObject({
    recent_events_per_group: z
      .number()
      .int()
      .min(1)
      .max(500)
      .default(50)
      .describe(
        "Recent events kept per alerted group (its events from the buffer when first alerted, then every new one), for GET /api/alerts/:id/events",
      ),
    recent_max_groups: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(5000)
      .describe(
        "Most alerted groups whose recent events are kept; the least recently alerted is dropped first",
      ),
    recent_buffer_events: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(0)
      .describe(
        "Recent events of all groups kept as the context of a group when its first alert comes (and to answer for a group without alert). 0 keeps none: the API shows an alert's sample events instead. Costly at high rates (every event is kept past the young generation): 4096 cost the pipeline about a third of its throughput in bench/detector",
      ),
    top_k_capacity: z
      .number()
      .int()
      .min(10)
      .max(10_000)
      .default(100)
      .describe(
        "Counters per hour bucket for the top failing identifiers and addresses (space-saving sketch); counts are exact while an hour has fewer distinct values",
      ),
    distinct_max_per_hour: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(10_000)
      .describe(
        "Most distinct client addresses remembered per hour bucket; past it the report marks the unique count as a lower bound",
      ),
  })
  .prefault({})
  .describe("Recent events per group and the security report (GET /api/report)");

export type ReportConfig = z.infer<typeof reportSectionSchema>;
