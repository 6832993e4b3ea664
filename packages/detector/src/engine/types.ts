import type { z } from "zod";
import type { AlertSeverity } from "@secmon/semconv";
import type { SecurityEvent } from "../event.ts";
import type { GroupExtractor } from "../rules/attributes.ts";
import type { MatchSpec, RuleSpec } from "../rules/language.ts";
import type { EventPredicate } from "../rules/predicate.ts";
import type { TitleTemplate } from "../rules/template.ts";
import type { StateOp, StateResult } from "../state/types.ts";

/**
 * What a rule kind decides for one group in one pass (a batch, or a part of a wide one). Times are
 * event times (ms).
 */
export interface Decision {
  readonly value?: number;
  readonly threshold?: number;
  readonly windowSeconds?: number;
  /** Oldest event counted (or the trigger's time when unknown). */
  readonly firstSeen: number;
  /** The event that made the rule fire. */
  readonly lastSeen: number;
}

/**
 * The executable side of one rule, built by its kind. Per pass (a batch, or an event-time part of a
 * batch that spans the suppression period, see Engine) the engine creates one group state per
 * (rule, group) with `newGroup`, feeds it the matching events with `collect`, asks for the group's
 * state ops with `ops`, applies every rule's ops in one store call, and hands each group its
 * results in `decide`. `G` is the kind's own per-group, per-pass state.
 */
export interface KindEvaluator<G = unknown> {
  newGroup(): G;
  /**
   * Takes one event that matched input `input` (0: the rule's `match`; others: the kind's own
   * inputs, e.g. sequence's `preceded_by`) at window time `time`. False when the event does not
   * count (e.g. the summed attribute is not a number).
   */
  collect(group: G, input: number, event: SecurityEvent, time: number): boolean;
  /** Appends the group's ops for this pass (any number, possibly none). */
  ops(group: G, key: string, out: StateOp[]): void;
  /** Given the results of exactly those ops, in order: whether and how the group fires. */
  decide(group: G, results: readonly StateResult[]): Decision | undefined;
}

/** Rule-wide settings a kind builds with. */
export interface KindContext {
  readonly ruleId: string;
  readonly latenessSeconds: number;
  /** Cap on members per group for distinct counts. */
  readonly maxDistinctPerGroup: number;
}

/** A problem a kind found in its spec; `path` is relative to the rule's `detect` block. */
export interface KindProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** How a kind's detection reads in the reference doc and in `describe()`. */
export interface KindSummary {
  /** e.g. "count >= 10 in 300 s". */
  readonly text: string;
  readonly windowSeconds?: number;
  readonly threshold?: number;
  readonly compare?: string;
}

/**
 * A rule kind: validates its `detect` block (`schema`) and builds itself (`build`), the way
 * CrowdSec's BucketFactory does. Options are small hooks inside a kind, never branches of the
 * engine.
 */
export interface RuleKind<S extends { kind: string } = { kind: string }> {
  readonly name: string;
  /** One sentence for the reference doc. */
  readonly summary: string;
  /** Schema of the `detect` block, `kind` included. */
  readonly schema: z.ZodType<S>;
  /** Event inputs beyond the rule's `match` (input 1, 2, …), with their path under `detect`. */
  extraInputs?(
    spec: S,
  ): readonly { readonly match: MatchSpec; readonly path: readonly (string | number)[] }[];
  /** Checks across fields or against the rest of the rule, after the schema passed. */
  check?(spec: S, rule: RuleSpec): readonly KindProblem[];
  describe(spec: S): KindSummary;
  build(spec: S, ctx: KindContext): KindEvaluator;
}

/** One event input of a compiled rule, resolved for the engine's index by event name. */
export interface CompiledInput {
  readonly input: number;
  readonly events: readonly string[];
  /** The events as written, for people ("auth.login", "security events except api.request"). */
  readonly eventsText: string;
  readonly predicate: EventPredicate;
  /** The condition as text, for people. */
  readonly where: string;
}

export interface CompiledResponse {
  readonly action: RuleSpec["responses"][number]["action"];
  readonly target: string;
  readonly durationSeconds?: number;
}

/** A rule ready to run: spec (overrides applied) plus closures. */
export interface CompiledRule {
  readonly id: string;
  readonly kind: string;
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly suppressionSeconds: number;
  readonly title: TitleTemplate;
  readonly confidence: number;
  readonly recommendedActions: readonly string[];
  readonly responses: readonly CompiledResponse[];
  readonly inputs: readonly CompiledInput[];
  readonly group: GroupExtractor;
  readonly evaluator: KindEvaluator;
  readonly summary: KindSummary;
  /** The effective spec (overrides applied), for the reference doc. */
  readonly spec: RuleSpec;
  /** `file:line:col` of the rule's id. */
  readonly source: string;
}
