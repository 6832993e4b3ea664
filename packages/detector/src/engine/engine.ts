import { createNoopMeter } from "@opentelemetry/api";
import { ATTR, RESOURCE_ATTR, type AlertSeverity } from "@secmon/semconv";
import { toSample } from "../alerts/sample.ts";
import type { Firing, Indicator, ResponseRequest } from "../alerts/types.ts";
import { asSecmonError, SecmonError } from "../errors.ts";
import type { SecurityEvent } from "../event.ts";
import { createMetrics, type Metrics } from "../metrics/catalog.ts";
import type { StateOp, StateResult, WindowStore } from "../state/types.ts";
import type { CompiledRule, Decision } from "./types.ts";

export const MAX_SAMPLE_EVENTS = 10;
const MAX_TRACE_IDS = 20;
const MAX_SERVICES = 20;
/**
 * The narrowest event-time part a wide batch is cut into (the finest bucket of any window), so
 * that rules with no suppression do not turn a wide batch into one store call per event.
 */
const MIN_PART_MS = 1000;

export interface EngineOptions {
  readonly rules: readonly CompiledRule[];
  readonly store: WindowStore;
  readonly metrics?: Pick<Metrics, "ruleSkipped" | "ruleEvaluation" | "storeErrors">;
  /** Monotonic ms clock for the evaluation-time histogram (default performance.now). */
  readonly clock?: () => number;
  /** Event times further than this ahead of the batch's receivedAt are taken as receivedAt (default 300). */
  readonly maxClockSkewSeconds?: number;
}

export interface EvaluateContext {
  /** Stable id of the batch; the store applies a batch id once. */
  readonly batchId: string;
  /** Detector time (ms) at which the batch arrived. */
  readonly receivedAt: number;
}

/** How a rule reads in the reference doc and the API. */
export interface RuleDescription {
  readonly id: string;
  readonly kind: string;
  readonly enabled: boolean;
  readonly severity: AlertSeverity;
  readonly description: string;
  readonly tags: readonly string[];
  /** The events each input counts (input 0: the rule's match), with their conditions. */
  readonly inputs: readonly { readonly events: string; readonly where: string }[];
  readonly groupBy: readonly string[];
  readonly detection: string;
  readonly windowSeconds?: number;
  readonly threshold?: number;
  readonly compare?: string;
  readonly suppressionSeconds: number;
  readonly title: string;
  readonly recommendedActions: readonly string[];
  readonly responses: readonly {
    readonly action: string;
    readonly target: string;
    readonly durationSeconds?: number;
  }[];
  readonly source: string;
}

export function describeRule(rule: CompiledRule): RuleDescription {
  const spec = rule.spec;
  return {
    id: rule.id,
    kind: rule.kind,
    enabled: rule.enabled,
    severity: rule.severity,
    description: spec.description.trim(),
    tags: spec.tags,
    inputs: rule.inputs.map((input) => ({ events: input.eventsText, where: input.where })),
    groupBy: spec.group_by,
    detection: rule.summary.text,
    ...(rule.summary.windowSeconds !== undefined ? { windowSeconds: rule.summary.windowSeconds } : {}),
    ...(rule.summary.threshold !== undefined ? { threshold: rule.summary.threshold } : {}),
    ...(rule.summary.compare !== undefined ? { compare: rule.summary.compare } : {}),
    suppressionSeconds: rule.suppressionSeconds,
    title: rule.title.source,
    recommendedActions: rule.recommendedActions,
    responses: rule.responses,
    source: rule.source,
  };
}

interface IndexEntry {
  readonly ruleIndex: number;
  readonly input: number;
  readonly predicate: (e: SecurityEvent) => boolean;
  /** Index of the rule's group_by attribute list among the engine's distinct lists. */
  readonly sig: number;
}

/** One group of one rule in one batch: the kind's state and the events it counted. */
class GroupAcc {
  /** The group's state key (`<rule id>|<group text>`), built once the batch's groups are known. */
  key = "";
  readonly text: string;
  readonly state: unknown;
  readonly events: SecurityEvent[];

  constructor(text: string, state: unknown, first: SecurityEvent) {
    this.text = text;
    this.state = state;
    this.events = [first];
  }
}

/**
 * Evaluates batches of security events against the compiled rules. Rules are indexed by event
 * name; each matching event is added to its (rule, group) accumulator; the state ops of the whole
 * batch go to the window store in one `apply`; each group's results decide whether it fires.
 *
 * A group fires at most once per pass, with the largest aggregate the pass reached. So that what
 * fires does not depend on how events were cut into batches, a batch whose event times span the
 * smallest suppression period of the rules or more (a replay, a Collector draining its queue) is
 * evaluated in parts: sorted by event time and cut into runs that each span less than that
 * period, one pass and one `apply` per part, in time order. Two episodes of a group further apart
 * than its rule's suppression period then give two firings, hence two alerts, whether they came
 * in one batch or in two. Part k applies under the batch id `<batch id>#k`; the cut depends only
 * on the events, so a sender's retry of the batch is cut the same way and stays idempotent.
 */
export class Engine {
  readonly #rules: CompiledRule[];
  readonly #index = new Map<string, IndexEntry[]>();
  readonly #store: WindowStore;
  readonly #metrics: Pick<Metrics, "ruleSkipped" | "ruleEvaluation" | "storeErrors">;
  readonly #clock: () => number;
  readonly #skewMs: number;
  /** `<rule id>|` per rule, the start of its group keys. */
  readonly #keyPrefix: string[];
  readonly #sigEvent: (SecurityEvent | undefined)[];
  readonly #sigText: (string | undefined)[];
  /** Event-time span (ms) from which a batch is evaluated in parts (Infinity: never). */
  readonly #partMs: number;

  constructor(opts: EngineOptions) {
    this.#rules = opts.rules.filter((r) => r.enabled);
    this.#store = opts.store;
    this.#metrics = opts.metrics ?? createMetrics(createNoopMeter());
    this.#clock = opts.clock ?? (() => performance.now());
    this.#skewMs = (opts.maxClockSkewSeconds ?? 300) * 1000;
    this.#keyPrefix = this.#rules.map((r) => r.id + "|");
    let suppressionMs = Infinity;
    for (const r of this.#rules) suppressionMs = Math.min(suppressionMs, r.suppressionSeconds * 1000);
    this.#partMs = Math.max(MIN_PART_MS, suppressionMs);
    const ids = new Set<string>();
    const sigs = new Map<string, number>();
    this.#rules.forEach((rule, ruleIndex) => {
      if (ids.has(rule.id)) throw new SecmonError("RULE_INVALID", `duplicate rule id ${rule.id}`);
      ids.add(rule.id);
      const sigKey = rule.group.signature;
      let sig = sigs.get(sigKey);
      if (sig === undefined) sigs.set(sigKey, (sig = sigs.size));
      for (const input of rule.inputs) {
        for (const name of input.events) {
          let list = this.#index.get(name);
          if (!list) this.#index.set(name, (list = []));
          list.push({
            ruleIndex,
            input: input.input,
            predicate: input.predicate,
            sig,
          });
        }
      }
    });
    this.#sigEvent = new Array<SecurityEvent | undefined>(sigs.size);
    this.#sigText = new Array<string | undefined>(sigs.size);
  }

  /** The enabled rules, as evaluated. */
  get rules(): readonly CompiledRule[] {
    return this.#rules;
  }

  describe(): RuleDescription[] {
    return this.#rules.map(describeRule);
  }

  /**
   * Evaluates one batch: at most one firing per (rule, group) and part of the batch (one part
   * unless the batch is wide in event time, see the class), in event-time order. Rejects with
   * STORE_UNAVAILABLE (retryable) when the window store fails; the batch may then be retried with
   * the same batchId (parts already applied are answered from the store's memory of batch ids).
   */
  async evaluate(events: readonly SecurityEvent[], ctx: EvaluateContext): Promise<Firing[]> {
    const started = this.#clock();
    const rules = this.#rules;
    const missing = new Array<number>(rules.length).fill(0);
    const late = new Array<number>(rules.length).fill(0);
    const firings: Firing[] = [];
    const partMs = this.#partMs;
    if (spansAtLeast(events, partMs)) {
      // by event time as sent, not as clamped to receivedAt: a retry arrives at another time and
      // must be cut the same way (stable: the order of equal times is the order received)
      const sorted = events.slice().sort((a, b) => a.time - b.time);
      for (let from = 0, part = 0; from < sorted.length; part++) {
        const end = sorted[from]!.time + partMs;
        let to = from + 1;
        while (to < sorted.length && sorted[to]!.time < end) to++;
        await this.#pass(sorted.slice(from, to), ctx, `${ctx.batchId}#${part}`, missing, late, firings);
        from = to;
      }
    } else await this.#pass(events, ctx, ctx.batchId, missing, late, firings);

    for (let i = 0; i < rules.length; i++) {
      if (missing[i]! > 0)
        this.#metrics.ruleSkipped.add(missing[i]!, { rule: rules[i]!.id, reason: "missing_group" });
      if (late[i]! > 0) this.#metrics.ruleSkipped.add(late[i]!, { rule: rules[i]!.id, reason: "late" });
    }
    this.#metrics.ruleEvaluation.record((this.#clock() - started) / 1000);
    return firings;
  }

  /**
   * One pass over (a part of) a batch: its state ops in one `apply` under `batchId`, its firings
   * appended to `firings`, its skipped events added to `missing` / `late` (by rule index).
   */
  async #pass(
    events: readonly SecurityEvent[],
    ctx: EvaluateContext,
    batchId: string,
    missing: number[],
    late: number[],
    firings: Firing[],
  ): Promise<void> {
    const rules = this.#rules;
    const groups: (Map<string, GroupAcc> | undefined)[] = new Array(rules.length);
    const maxTime = ctx.receivedAt + this.#skewMs;
    // rules grouping by the same attributes share the group text of an event
    const sigEvent = this.#sigEvent.fill(undefined);
    const sigText = this.#sigText;

    for (const event of events) {
      const entries = this.#index.get(event.name);
      if (entries === undefined) continue;
      const time = event.time > maxTime ? ctx.receivedAt : event.time;
      for (const entry of entries) {
        if (!entry.predicate(event)) continue;
        const ruleIndex = entry.ruleIndex;
        const rule = rules[ruleIndex]!;
        const sig = entry.sig;
        let text: string | undefined;
        if (sigEvent[sig] === event) text = sigText[sig];
        else {
          text = rule.group.text(event);
          sigEvent[sig] = event;
          sigText[sig] = text;
        }
        if (text === undefined) {
          missing[ruleIndex]!++;
          continue;
        }
        // keyed by the group text (a string the decoder or the address memo often hands out
        // again, hash already computed); the key is built once per group, below
        let byText = groups[ruleIndex];
        if (byText === undefined) groups[ruleIndex] = byText = new Map();
        const acc = byText.get(text);
        if (acc === undefined) {
          const state = rule.evaluator.newGroup();
          if (rule.evaluator.collect(state, entry.input, event, time))
            byText.set(text, new GroupAcc(text, state, event));
        } else if (rule.evaluator.collect(acc.state, entry.input, event, time)) acc.events.push(event);
      }
    }

    const ops: StateOp[] = [];
    const planRule: number[] = [];
    const planAcc: GroupAcc[] = [];
    const planFrom: number[] = [];
    for (let ruleIndex = 0; ruleIndex < groups.length; ruleIndex++) {
      const byText = groups[ruleIndex];
      if (!byText) continue;
      const evaluator = rules[ruleIndex]!.evaluator;
      const prefix = this.#keyPrefix[ruleIndex]!;
      for (const acc of byText.values()) {
        acc.key = prefix + acc.text;
        planRule.push(ruleIndex);
        planAcc.push(acc);
        planFrom.push(ops.length);
        evaluator.ops(acc.state, acc.key, ops);
      }
    }

    let results: StateResult[] = [];
    if (ops.length > 0) {
      try {
        results = await this.#store.apply(ops, { batchId });
      } catch (err) {
        this.#metrics?.storeErrors.add(1, { store: "windows", operation: "apply" });
        if (err instanceof SecmonError) throw err;
        throw new SecmonError("STORE_UNAVAILABLE", "window store failed", { cause: err });
      }
      if (results.length !== ops.length) {
        throw asSecmonError(
          new Error(`window store answered ${results.length} results for ${ops.length} ops`),
        );
      }
    }

    for (let p = 0; p < planAcc.length; p++) {
      const ruleIndex = planRule[p]!;
      const acc = planAcc[p]!;
      const rule = rules[ruleIndex]!;
      const mine = results.slice(planFrom[p]!, p + 1 < planFrom.length ? planFrom[p + 1]! : results.length);
      for (const r of mine) late[ruleIndex]! += r.late;
      const decision = rule.evaluator.decide(acc.state, mine);
      if (decision) firings.push(buildFiring(rule, acc, decision, ctx.receivedAt, batchId));
    }
  }
}

/** Whether the events' times span `ms` or more (one pass over them, no allocation). */
function spansAtLeast(events: readonly SecurityEvent[], ms: number): boolean {
  if (events.length < 2 || ms === Infinity) return false;
  let min = events[0]!.time;
  let max = min;
  for (let i = 1; i < events.length; i++) {
    const t = events[i]!.time;
    if (t < min) min = t;
    else if (t > max) max = t;
  }
  return max - min >= ms;
}

const INDICATOR_TYPES: Readonly<Record<string, string>> = {
  [ATTR.CLIENT_ADDRESS]: "ip",
  [ATTR.USER_HASH]: "user_hash",
  [ATTR.USER_ID]: "user",
  [RESOURCE_ATTR.SERVICE_NAME]: "service",
};

/** Distinct values in order of first appearance, at most `max`. */
function distinctOf(
  events: readonly SecurityEvent[],
  pick: (e: SecurityEvent) => string | undefined,
  max: number,
) {
  const out: string[] = [];
  for (const e of events) {
    const v = pick(e);
    if (v !== undefined && !out.includes(v)) {
      out.push(v);
      if (out.length >= max) break;
    }
  }
  return out;
}

function buildFiring(
  rule: CompiledRule,
  acc: GroupAcc,
  d: Decision,
  receivedAt: number,
  batchId: string,
): Firing {
  const group = rule.group.values(acc.events[0]!);
  const indicators: Indicator[] = [];
  for (const [attr, value] of Object.entries(group)) {
    const type = INDICATOR_TYPES[attr];
    if (type === undefined) continue;
    indicators.push({
      type: type === "ip" && value.includes("/") ? "network" : type,
      value,
      confidence: rule.confidence,
    });
  }
  const responses: ResponseRequest[] = rule.responses.map((r) => ({
    action: r.action,
    target: group[r.target] ?? "",
    ...(r.durationSeconds !== undefined
      ? { until: new Date(d.lastSeen + r.durationSeconds * 1000).toISOString() }
      : {}),
  }));
  const title = rule.title.render({
    ...group,
    value: d.value,
    threshold: d.threshold,
    window_seconds: d.windowSeconds,
    rule: rule.id,
  });
  return {
    rule: rule.id,
    severity: rule.severity,
    title,
    group,
    groupKey: acc.key,
    ...(d.value !== undefined ? { value: d.value } : {}),
    ...(d.threshold !== undefined ? { threshold: d.threshold } : {}),
    ...(d.windowSeconds !== undefined ? { windowSeconds: d.windowSeconds } : {}),
    firstSeen: Math.min(d.firstSeen, d.lastSeen),
    lastSeen: d.lastSeen,
    services: distinctOf(acc.events, (e) => e.service, MAX_SERVICES),
    indicators,
    recommendedActions: rule.recommendedActions,
    responses,
    traceIds: distinctOf(acc.events, (e) => e.traceId, MAX_TRACE_IDS),
    sampleEvents: acc.events.slice(-MAX_SAMPLE_EVENTS).map(toSample),
    suppressionSeconds: rule.suppressionSeconds,
    receivedAt,
    batchId,
  };
}
