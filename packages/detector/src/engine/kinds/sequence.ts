import { z } from "zod";
import type { SecurityEvent } from "../../event.ts";
import { compareSchema, matchSchema, thresholdSchema, windowSecondsSchema } from "../../rules/language.ts";
import { windowGeometry, type StateOp, type StateResult, type WindowGeometry } from "../../state/types.ts";
import type { Decision, KindEvaluator, RuleKind } from "../types.ts";
import { crossed, Points } from "./points.ts";
import { windowAdd } from "./threshold.ts";

/**
 * `sequence`: the rule's `match` is the trigger (e.g. a successful sign-in); it fires when the
 * group had at least `threshold` events matching `preceded_by` (e.g. failed sign-ins) in the
 * `window_seconds` before the trigger. The preceding events are counted in a window of their own;
 * each trigger reads it at the trigger's time.
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
    if (group.preceding.length > 0) {
      group.preceding.sort();
      out.push(windowAdd(this.#ruleId, key, g, group.preceding));
    }
    if (group.triggers.length > 0) {
      group.triggers.sort();
      out.push({
        type: "window_read",
        rule: this.#ruleId,
        key,
        bucketMs: g.bucketMs,
        windowMs: g.windowMs,
        latenessMs: g.latenessMs,
        ttlMs: g.ttlMs,
        times: group.triggers.times,
      });
    }
  }

  decide(group: SequenceGroup, results: readonly StateResult[]): Decision | undefined {
    if (group.triggers.length === 0) return undefined;
    const read = results[results.length - 1];
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
