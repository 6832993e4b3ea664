import { z } from "zod";
import { ALERT_SEVERITIES } from "@secmon/semconv";
import { responseSchema, thresholdSchema, windowSecondsSchema } from "./language.ts";

/** Per-deployment changes to one rule; only the keys given change. */
export const ruleOverrideSchema = z
  .strictObject({
    enabled: z.boolean().optional().describe("Turn the rule on or off"),
    threshold: thresholdSchema.optional().describe("New threshold (rules whose kind has one)"),
    window_seconds: windowSecondsSchema.optional().describe("New window, seconds (rules whose kind has one)"),
    severity: z.enum(ALERT_SEVERITIES).optional().describe("New severity"),
    suppression_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional()
      .describe("New suppression period, seconds"),
    responses: z.array(responseSchema).optional().describe("Replaces the rule's responses (`[]` for none)"),
  })
  .describe("Changes to one rule");

/** Config section `rules`: which rule files run, and how the rule engine keeps its windows. */
export const rulesSectionSchema = z
  .strictObject({
    builtin: z.boolean().default(true).describe("Load the default rule pack shipped with the detector"),
    paths: z
      .array(z.string().min(1))
      .default([])
      .describe("More rule files or directories (every *.yaml / *.yml inside, testdata excluded)"),
    overrides: z
      .record(z.string().min(1), ruleOverrideSchema)
      .default({})
      .describe("Rule id → changes; an id that no loaded rule has is an error"),
    ipv6_group_prefix: z
      .number()
      .int()
      .min(1)
      .max(128)
      .default(64)
      .describe(
        "IPv6 client addresses are grouped by this prefix length (shown as the network, e.g. 2001:db8::/64)",
      ),
    allowed_lateness_seconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(60)
      .describe(
        "How far an event may be behind the newest event of its group and still count; later ones are skipped (reason late)",
      ),
    max_clock_skew_seconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(300)
      .describe(
        "Event times further than this ahead of the detector's clock are taken as the detector's clock",
      ),
    max_groups_per_rule: z
      .number()
      .int()
      .min(100)
      .max(10_000_000)
      .default(50_000)
      .describe(
        "Groups tracked per rule in the embedded window store; past it the least recently used is evicted",
      ),
    max_distinct_per_group: z
      .number()
      .int()
      .min(10)
      .max(1_000_000)
      .default(1000)
      .describe("Distinct values remembered per group by distinct-count rules (at least threshold + 1)"),
  })
  .prefault({})
  .describe("Detection rules: the rule files, per-rule overrides, and the window state");

export type RulesConfig = z.infer<typeof rulesSectionSchema>;
export type RuleOverride = z.infer<typeof ruleOverrideSchema>;
