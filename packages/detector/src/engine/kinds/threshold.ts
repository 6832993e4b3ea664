import { z } from "zod";
import type { SecurityEvent } from "../../event.ts";
import { attributeReader, toNumber } from "../../rules/attributes.ts";
import {
  attributeNameSchema,
  compareSchema,
  thresholdSchema,
  windowSecondsSchema,
  type Comparator,
} from "../../rules/language.ts";
import {
  windowGeometry,
  type AggregateResult,
  type StateOp,
  type WindowAddOp,
  type WindowGeometry,
} from "../../state/types.ts";
import type { Decision, KindContext, KindEvaluator, KindSummary, RuleKind } from "../types.ts";
import { crossed, Points } from "./points.ts";

/**
 * The threshold kinds: an aggregate of the matching events over a sliding event-time window,
 * compared with a threshold. They differ in one hook only, the aggregate:
 * - `count`: how many events;
 * - `sum`: the sum of a numeric attribute (`field`); events without a number there do not count;
 * - `distinct`: how many distinct values of `field`; events without it do not count.
 */

interface ThresholdSpec {
  kind: string;
  window_seconds: number;
  threshold: number;
  compare: Comparator;
  field?: string;
}

/** The aggregate hook of a threshold kind. */
interface Aggregate {
  /** Adds one event to the group's points; false when it does not count. */
  collect(points: Points, event: SecurityEvent, time: number): boolean;
  /** The op that adds the points and evaluates the window. */
  op(points: Points, rule: string, key: string, geometry: WindowGeometry): StateOp;
  /** Words for the doc: "count", "sum of http.response.body.size", … */
  label: string;
}

/** A window_add op (fields spelled out: one object shape for every op). */
export function windowAdd(
  rule: string,
  key: string,
  g: WindowGeometry,
  points: Pick<Points, "times" | "amounts">,
): WindowAddOp {
  return {
    type: "window_add",
    rule,
    key,
    bucketMs: g.bucketMs,
    windowMs: g.windowMs,
    latenessMs: g.latenessMs,
    ttlMs: g.ttlMs,
    times: points.times,
    amounts: points.amounts,
  };
}

function countAggregate(): Aggregate {
  return {
    label: "count",
    collect(points, _event, time) {
      points.push(time, 1);
      return true;
    },
    op: (points, rule, key, g) => windowAdd(rule, key, g, points),
  };
}

function sumAggregate(field: string): Aggregate {
  const read = attributeReader(field);
  return {
    label: `sum of ${field}`,
    collect(points, event, time) {
      const n = toNumber(read(event));
      if (n === undefined) return false;
      points.push(time, n);
      return true;
    },
    op: (points, rule, key, g) => windowAdd(rule, key, g, points),
  };
}

function distinctAggregate(field: string, maxMembers: number): Aggregate {
  const read = attributeReader(field);
  return {
    label: `distinct ${field}`,
    collect(points, event, time) {
      const v = read(event);
      if (v === undefined || v === "" || typeof v === "object") return false;
      points.push(time, 1, String(v));
      return true;
    },
    op: (points, rule, key, g) => ({
      type: "distinct_add",
      rule,
      key,
      bucketMs: g.bucketMs,
      windowMs: g.windowMs,
      latenessMs: g.latenessMs,
      ttlMs: g.ttlMs,
      times: points.times,
      members: points.members ?? [],
      maxMembers,
    }),
  };
}

class ThresholdEvaluator implements KindEvaluator<Points> {
  readonly #ruleId: string;
  readonly #spec: ThresholdSpec;
  readonly #aggregate: Aggregate;
  readonly #geometry: WindowGeometry;

  constructor(ruleId: string, spec: ThresholdSpec, aggregate: Aggregate, geometry: WindowGeometry) {
    this.#ruleId = ruleId;
    this.#spec = spec;
    this.#aggregate = aggregate;
    this.#geometry = geometry;
  }

  newGroup(): Points {
    return new Points();
  }

  collect(points: Points, _input: number, event: SecurityEvent, time: number): boolean {
    return this.#aggregate.collect(points, event, time);
  }

  ops(points: Points, key: string, out: StateOp[]): void {
    if (points.length === 0) return;
    points.sort();
    out.push(this.#aggregate.op(points, this.#ruleId, key, this.#geometry));
  }

  decide(points: Points, results: readonly AggregateResult[]): Decision | undefined {
    const r = results[0];
    if (!r || !crossed(r, this.#spec.compare, this.#spec.threshold)) return undefined;
    return {
      value: r.value,
      threshold: this.#spec.threshold,
      windowSeconds: this.#spec.window_seconds,
      firstSeen: r.oldest === null ? r.at : points.firstIn(r.oldest, this.#geometry.bucketMs),
      lastSeen: r.at,
    };
  }
}

const windowFields = {
  window_seconds: windowSecondsSchema,
  threshold: thresholdSchema,
  compare: compareSchema,
};

function summary(label: string, spec: ThresholdSpec): KindSummary {
  return {
    text: `${label} ${spec.compare} ${spec.threshold} in ${spec.window_seconds} s`,
    windowSeconds: spec.window_seconds,
    threshold: spec.threshold,
    compare: spec.compare,
  };
}

const countSchema = z
  .strictObject({ kind: z.literal("count").describe("`count`"), ...windowFields })
  .describe("count: number of matching events in the window");

export const countKind: RuleKind<z.infer<typeof countSchema>> = {
  name: "count",
  summary: "Counts the matching events of each group over a sliding window.",
  schema: countSchema,
  describe: (spec) => summary("count", spec),
  build: (spec, ctx: KindContext) =>
    new ThresholdEvaluator(
      ctx.ruleId,
      spec,
      countAggregate(),
      windowGeometry(spec.window_seconds, ctx.latenessSeconds),
    ),
};

const fieldSchema = attributeNameSchema.describe("The attribute aggregated");

const sumSchema = z
  .strictObject({ kind: z.literal("sum").describe("`sum`"), field: fieldSchema, ...windowFields })
  .describe("sum: sum of a numeric attribute over the matching events in the window");

export const sumKind: RuleKind<z.infer<typeof sumSchema>> = {
  name: "sum",
  summary:
    "Sums a numeric attribute (numbers or numeric strings) of the matching events of each group over a sliding window.",
  schema: sumSchema,
  describe: (spec) => summary(`sum of ${spec.field}`, spec),
  build: (spec, ctx) =>
    new ThresholdEvaluator(
      ctx.ruleId,
      spec,
      sumAggregate(spec.field),
      windowGeometry(spec.window_seconds, ctx.latenessSeconds),
    ),
};

const distinctSchema = z
  .strictObject({ kind: z.literal("distinct").describe("`distinct`"), field: fieldSchema, ...windowFields })
  .describe("distinct: number of distinct values of an attribute among the matching events in the window");

export const distinctKind: RuleKind<z.infer<typeof distinctSchema>> = {
  name: "distinct",
  summary:
    "Counts the distinct values of an attribute among the matching events of each group over a sliding window.",
  schema: distinctSchema,
  describe: (spec) => summary(`distinct ${spec.field}`, spec),
  build: (spec, ctx) =>
    new ThresholdEvaluator(
      ctx.ruleId,
      spec,
      distinctAggregate(spec.field, Math.max(ctx.maxDistinctPerGroup, 2 * (Math.ceil(spec.threshold) + 1))),
      windowGeometry(spec.window_seconds, ctx.latenessSeconds),
    ),
};
