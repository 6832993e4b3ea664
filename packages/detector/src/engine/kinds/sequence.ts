import { z } from "zod";
import type { SecurityEvent } from "../../event.ts";
import { compareSchema, matchSchema, thresholdSchema, windowSecondsSchema } from "../../rules/language.ts";
import {
  bucketStart,
  windowGeometry,
  type AggregateResult,
  type StateOp,
  type StateResult,
  type WindowGeometry,
} from "../../state/types.ts";
import type { Decision, KindEvaluator, RuleKind } from "../types.ts";
import { crossed, Points } from "./points.ts";
import { windowAdd } from "./threshold.ts";

/**
 * `sequence`: the rule's `match` is the trigger (e.g. a successful sign-in); it fires when the
 * group had at least `threshold` events matching `preceded_by` (e.g. failed sign-ins) in the
 * `window_seconds` before the trigger. The preceding events are counted in a window of their own;
 * each trigger reads it at the trigger's time.
 *
 * Within one pass the adds and reads go in time order: the preceding events up to the end of a
 * trigger's bucket are added before it reads, the later ones after. So a trigger followed in the
 * same batch by preceding events more than the allowed lateness later still reads its window, as
 * it would in a batch of its own (adding them first made the trigger late).
 */
const sequenceSchema = z
  .strictObject({
    kind: z.literal("sequence").describe("`sequence`"),
    preceded_by: matchSchema.describe("The events that must come before the trigger (the rule's `match`)"),
    window_seconds: windowSecondsSchema.describe(
      "How far before the trigger the preceding events count, seconds",
    ),
    threshold: thresholdSchema.describe("How many preceding events it takes"),
    compare: compareSchema,
  })
  .describe("sequence: a trigger event preceded by enough other events of the same group");

type SequenceSpec = z.infer<typeof sequenceSchema>;

const TRIGGER = 0;
const PRECEDING = 1;

class SequenceGroup {
  preceding = new Points();
  triggers = new Points();
  /** Which of the group's ops are the reads (indexes among its ops, ascending), filled by `ops`. */
  readonly reads: number[] = [];
}

class SequenceEvaluator implements KindEvaluator<SequenceGroup> {
  readonly #ruleId: string;
  readonly #spec: SequenceSpec;
  readonly #geometry: WindowGeometry;

  constructor(ruleId: string, spec: SequenceSpec, geometry: WindowGeometry) {
    this.#ruleId = ruleId;
    this.#spec = spec;
    this.#geometry = geometry;
  }

  newGroup(): SequenceGroup {
    return new SequenceGroup();
  }

  collect(group: SequenceGroup, input: number, _event: SecurityEvent, time: number): boolean {
    if (input === PRECEDING) group.preceding.push(time, 1);
    else if (input === TRIGGER) group.triggers.push(time, 0);
    else return false;
    return true;
  }

  ops(group: SequenceGroup, key: string, out: StateOp[]): void {
    const g = this.#geometry;
    const pre = group.preceding;
    const trig = group.triggers;
    pre.sort();
    trig.sort();
    const first = out.length;
    // the preceding points that count for a trigger: up to the end of its bucket
    const upTo = (t: number) => bucketStart(t, g.bucketMs) + g.bucketMs;
    let p = 0;
    for (let t = 0; t < trig.length;) {
      const end = upTo(trig.times[t]!);
      let q = p;
      while (q < pre.length && pre.times[q]! < end) q++;
      if (q > p) out.push(this.#add(key, pre, p, q));
      p = q;
      // the next triggers read together until one needs preceding points not added yet
      let u = t + 1;
      while (u < trig.length && (p === pre.length || pre.times[p]! >= upTo(trig.times[u]!))) u++;
      group.reads.push(out.length - first);
      out.push({
        type: "window_read",
        rule: this.#ruleId,
        key,
        bucketMs: g.bucketMs,
        windowMs: g.windowMs,
        latenessMs: g.latenessMs,
        ttlMs: g.ttlMs,
        times: t === 0 && u === trig.length ? trig.times : trig.times.slice(t, u),
      });
      t = u;
    }
    if (p < pre.length) out.push(this.#add(key, pre, p, pre.length));
  }

  /** The window_add of the preceding points [from, to). */
  #add(key: string, pre: Points, from: number, to: number): StateOp {
    const whole = from === 0 && to === pre.length;
    return windowAdd(this.#ruleId, key, this.#geometry, {
      times: whole ? pre.times : pre.times.slice(from, to),
      amounts: whole ? pre.amounts : pre.amounts.slice(from, to),
    });
  }

  decide(group: SequenceGroup, results: readonly StateResult[]): Decision | undefined {
    // the largest value the reads found (the latest of equal ones: reads go in time order)
    let read: AggregateResult | undefined;
    for (const i of group.reads) {
      const r = results[i];
      if (r && r.at !== null && (read === undefined || r.value >= read.value)) read = r;
    }
    if (!read || !crossed(read, this.#spec.compare, this.#spec.threshold)) return undefined;
    return {
      value: read.value,
      threshold: this.#spec.threshold,
      windowSeconds: this.#spec.window_seconds,
      firstSeen:
        read.oldest === null ? read.at : group.preceding.firstIn(read.oldest, this.#geometry.bucketMs),
      lastSeen: read.at,
    };
  }
}

export const sequenceKind: RuleKind<SequenceSpec> = {
  name: "sequence",
  summary:
    "Fires on a trigger event (the rule's `match`) of a group that had enough `preceded_by` events in the window before it.",
  schema: sequenceSchema,
  extraInputs: (spec) => [{ match: spec.preceded_by, path: ["preceded_by"] }],
  describe: (spec) => ({
    text: `trigger preceded by ${spec.compare} ${spec.threshold} events within ${spec.window_seconds} s`,
    windowSeconds: spec.window_seconds,
    threshold: spec.threshold,
    compare: spec.compare,
  }),
  build: (spec, ctx) =>
    new SequenceEvaluator(ctx.ruleId, spec, windowGeometry(spec.window_seconds, ctx.latenessSeconds)),
};
