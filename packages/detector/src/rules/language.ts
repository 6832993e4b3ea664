import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { ALERT_SEVERITIES, RESPONSE_ACTIONS } from "@secmon/semconv";

/**
 * The rule language: the schema of a rule file, less the `detect` block, whose schema belongs to
 * each rule kind (src/engine/registry.ts). docs/rules.md is generated from these descriptions.
 */

/** The first tag of every rule: how far the rule can be trusted. */
export const MATURITIES = ["stable", "incubating", "sandbox", "deprecated"] as const;

/** Attribute names: semconv-style dotted names. */
export const attributeNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "must be an attribute name such as client.address")
  .describe("An attribute name (`service.name` and `event.name` name the event's service and name)");

export const eventNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "must be an event name such as auth.login")
  .describe("An event name");

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);

/** An IPv4/IPv6 address or CIDR, strictly (no shorthand IPv4 forms). */
export function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bitsText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return false;
  const bits = Number(bitsText);
  return bits <= (family === 4 ? 32 : 128) && ipaddr.isValidCIDR(text);
}

const cidrSchema = z
  .string()
  .refine(isAddressOrCidr, { message: "must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8)" });

export interface PredicateOps {
  equals?: string | number | boolean | undefined;
  in?: (string | number | boolean)[] | undefined;
  contains?: string | number | boolean | undefined;
  gt?: number | undefined;
  gte?: number | undefined;
  lt?: number | undefined;
  lte?: number | undefined;
  exists?: boolean | undefined;
  cidr?: string | string[] | undefined;
  not?: PredicateOps | undefined;
}

export const predicateOpsSchema: z.ZodType<PredicateOps> = z
  .strictObject({
    equals: scalarSchema
      .optional()
      .describe('Equal to the value; a number also matches a numeric string (`404` matches `"404"`)'),
    in: z.array(scalarSchema).min(1).optional().describe("Equal to one of the values"),
    contains: scalarSchema
      .optional()
      .describe(
        "An array attribute has an element equal to the value (a single value counts as one element)",
      ),
    gt: z.number().optional().describe("Greater than the number (numeric strings are converted)"),
    gte: z.number().optional().describe("Greater than or equal to the number"),
    lt: z.number().optional().describe("Less than the number"),
    lte: z.number().optional().describe("Less than or equal to the number"),
    exists: z
      .boolean()
      .optional()
      .describe("`true`: present and not an empty string; `false`: missing or empty"),
    cidr: z
      .union([cidrSchema, z.array(cidrSchema).min(1)])
      .optional()
      .describe("An IP address inside one of the CIDRs (IPv4-mapped IPv6 addresses count as IPv4)"),
    get not() {
      return predicateOpsSchema.optional().describe("None of the nested operators holds");
    },
  })
  .refine((ops) => Object.values(ops).some((v) => v !== undefined), {
    message:
      "a predicate needs at least one operator (equals, in, contains, gt, gte, lt, lte, exists, cidr, not)",
  })
  .describe("Operators on one attribute; several in one object must all hold");

export const predicateSchema = z
  .union([scalarSchema, predicateOpsSchema])
  .describe("A value (shorthand for `equals`) or an object of operators");

export const whereSchema = z
  .record(attributeNameSchema, predicateSchema)
  .describe("Attribute → predicate, one clause per line; every clause must hold");

export const eventsSchema = z
  .union([
    eventNameSchema,
    z.array(eventNameSchema).min(1),
    z.strictObject({
      security_events_except: z
        .array(eventNameSchema)
        .describe("Every event name of the spec (security-events.md) except these; custom.* never"),
    }),
  ])
  .describe("An event name, a list of names, or `{ security_events_except: [names] }`");

export const matchSchema = z
  .strictObject({
    events: eventsSchema,
    where: whereSchema.optional(),
  })
  .describe("Which events the rule counts: names, then attribute predicates");

export const responseSchema = z
  .strictObject({
    action: z.enum(RESPONSE_ACTIONS).describe("What the services are asked to do"),
    target: attributeNameSchema.describe("The group_by attribute whose value is the target"),
    duration_seconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 86_400)
      .optional()
      .describe("How long the response holds; `until` = trigger event time + this (absent: open-ended)"),
  })
  .describe("A response the alert asks for");

export const ruleSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, "must be snake_case: lowercase letters, digits and _")
      .describe("Stable id; renaming or removing it is a breaking change"),
    description: z.string().min(1).describe("What the rule detects and why, for people (folded YAML `>`)"),
    tags: z
      .array(z.string().min(1))
      .min(1)
      .refine((tags) => (MATURITIES as readonly string[]).includes(tags[0] ?? ""), {
        message: `the first tag must be the maturity: ${MATURITIES.join(", ")}`,
      })
      .describe(`Maturity first (${MATURITIES.join(", ")}), then topics`),
    enabled: z.boolean().default(true).describe("Disabled rules are loaded and linted, never evaluated"),
    severity: z.enum(ALERT_SEVERITIES).describe("Severity of the alerts"),
    suppression_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(300)
      .describe(
        "A firing within this time (event time) of the alert's creation updates it instead of creating one",
      ),
    title: z
      .string()
      .min(1)
      .max(300)
      .describe(
        "Alert title; `{{ name }}` inserts a group_by attribute's value, `value`, `threshold` or `window_seconds`",
      ),
    match: matchSchema,
    group_by: z
      .array(attributeNameSchema)
      .min(1)
      .max(4)
      .refine((attrs) => new Set(attrs).size === attrs.length, {
        message: "group_by lists an attribute twice",
      })
      .describe("Attributes whose values make the group; an event missing one is not counted"),
    detect: z
      .looseObject({ kind: z.string().describe("The rule kind") })
      .describe("The detection: `kind` and that kind's settings"),
    confidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.8)
      .describe("Confidence (0–1) of the indicators the alerts carry"),
    recommended_actions: z
      .array(z.string().min(1))
      .default([])
      .describe("What a person should do, copied into every alert"),
    responses: z
      .array(responseSchema)
      .default([])
      .describe("Responses the alerts ask the services to carry out"),
  })
  .describe("One rule");

export const ruleFileSchema = z
  .strictObject({
    rules: z.array(z.unknown()).describe("The rules of this file"),
  })
  .describe("A rule file");

export type Predicate = z.infer<typeof predicateSchema>;
export type Where = z.infer<typeof whereSchema>;
export type EventsSpec = z.infer<typeof eventsSchema>;
export type MatchSpec = z.infer<typeof matchSchema>;
export type ResponseSpec = z.infer<typeof responseSchema>;
export type RuleSpec = z.infer<typeof ruleSchema>;

/** The comparison every threshold kind accepts. */
export const COMPARATORS = [">=", ">"] as const;
export type Comparator = (typeof COMPARATORS)[number];

/** Settings shared by the windowed kinds. */
export const windowSecondsSchema = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400)
  .describe("Length of the sliding window on event time, seconds");
export const thresholdSchema = z.number().min(0).describe("The value the aggregate is compared with");
export const compareSchema = z
  .enum(COMPARATORS)
  .default(">=")
  .describe("`>=`: fires when the aggregate reaches the threshold; `>`: when it passes it");
