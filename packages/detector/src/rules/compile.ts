import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SecmonError } from "../errors.ts";
import { defaultRegistry, type KindRegistry } from "../engine/registry.ts";
import type { CompiledInput, CompiledRule } from "../engine/types.ts";
import { groupExtractor } from "./attributes.ts";
import { rulesSectionSchema, type RuleOverride, type RulesConfig } from "./config.ts";
import { explainIssues, formatDiagnostic, hasErrors } from "./diagnostics.ts";
import { checkRule, loadRuleFiles, resolveEvents, type LoadedRule } from "./loader.ts";
import type { EventsSpec, RuleSpec } from "./language.ts";
import { compileWhere, whereText } from "./predicate.ts";
import { parseTemplate } from "./template.ts";

/**
 * The default rule pack's directory: `rules/` of the installed package when it ships one,
 * otherwise `rules/` at the root of the repository.
 */
export function builtinRulesDir(): string {
  const candidates = [
    new URL("../../rules/", import.meta.url),
    new URL("../../../../rules/", import.meta.url),
  ];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(dir) && readdirSync(dir).some((f) => /\.ya?ml$/.test(f))) return dir;
  }
  return fileURLToPath(candidates[candidates.length - 1]!);
}

/** The rule files a config names: the default pack (unless turned off), then `paths`. */
export function rulePaths(config: Pick<RulesConfig, "builtin" | "paths">): string[] {
  return [...(config.builtin ? [builtinRulesDir()] : []), ...config.paths];
}

/** Applies the overrides; unknown rule ids and settings a rule's kind lacks are CONFIG_INVALID. */
export function applyOverrides(
  rules: readonly LoadedRule[],
  overrides: Readonly<Record<string, RuleOverride>>,
): LoadedRule[] {
  const problems: string[] = [];
  const byId = new Map(rules.map((r) => [r.spec.id, r]));
  for (const id of Object.keys(overrides)) {
    if (!byId.has(id)) problems.push(`rules.overrides.${id}: no loaded rule has the id "${id}"`);
  }
  const out = rules.map((rule) => {
    const o = overrides[rule.spec.id];
    if (!o) return rule;
    let detect = rule.spec.detect;
    if (o.threshold !== undefined || o.window_seconds !== undefined) {
      const merged = {
        ...detect,
        ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
        ...(o.window_seconds !== undefined ? { window_seconds: o.window_seconds } : {}),
      };
      const parsed = rule.kind.schema.safeParse(merged);
      if (parsed.success) detect = parsed.data;
      else {
        for (const p of explainIssues(parsed.error.issues)) {
          const what = p.key
            ? `has no ${p.key} (kind ${rule.kind.name})`
            : `${p.path.join(".")} ${p.message}`;
          problems.push(`rules.overrides.${rule.spec.id}: the rule ${what}`);
        }
      }
    }
    const spec: RuleSpec = {
      ...rule.spec,
      detect,
      enabled: o.enabled ?? rule.spec.enabled,
      severity: o.severity ?? rule.spec.severity,
      suppression_seconds: o.suppression_seconds ?? rule.spec.suppression_seconds,
      responses: o.responses ?? rule.spec.responses,
    };
    for (const p of checkRule(spec, rule.kind)) {
      problems.push(`rules.overrides.${rule.spec.id}.${p.path.join(".")}: ${p.message}`);
    }
    return { ...rule, spec };
  });
  if (problems.length > 0) throw new SecmonError("CONFIG_INVALID", problems.join("; "));
  return out;
}

function eventsText(events: EventsSpec): string {
  if (typeof events === "string") return events;
  if (Array.isArray(events)) return events.join(", ");
  const except = events.security_events_except;
  return except.length ? `security events except ${except.join(", ")}` : "security events";
}

/** Turns validated rules into executable ones. */
export function compileRule(rule: LoadedRule, config: RulesConfig): CompiledRule {
  const { spec, kind } = rule;
  const inputs: CompiledInput[] = [
    {
      input: 0,
      events: resolveEvents(spec.match.events),
      eventsText: eventsText(spec.match.events),
      predicate: compileWhere(spec.match.where),
      where: whereText(spec.match.where),
    },
    ...(kind.extraInputs?.(spec.detect) ?? []).map((x, i) => ({
      input: i + 1,
      events: resolveEvents(x.match.events),
      eventsText: eventsText(x.match.events),
      predicate: compileWhere(x.match.where),
      where: whereText(x.match.where),
    })),
  ];
  return {
    id: spec.id,
    kind: kind.name,
    enabled: spec.enabled,
    severity: spec.severity,
    suppressionSeconds: spec.suppression_seconds,
    title: parseTemplate(spec.title).template,
    confidence: spec.confidence,
    recommendedActions: spec.recommended_actions,
    responses: spec.responses.map((r) => ({
      action: r.action,
      target: r.target,
      ...(r.duration_seconds !== undefined ? { durationSeconds: r.duration_seconds } : {}),
    })),
    inputs,
    group: groupExtractor(spec.id, spec.group_by, config.ipv6_group_prefix),
    evaluator: kind.build(spec.detect, {
      ruleId: spec.id,
      latenessSeconds: config.allowed_lateness_seconds,
      maxDistinctPerGroup: config.max_distinct_per_group,
    }),
    summary: kind.describe(spec.detect),
    spec,
    source: rule.source,
  };
}

export interface LoadRulesOptions {
  readonly registry?: KindRegistry;
  /** Shown paths are relative to this directory. */
  readonly displayRoot?: string;
}

/**
 * Loads, validates, overrides and compiles the rules a config names. Any error in a rule file is
 * RULE_INVALID listing every `file:line:col: message`; a bad override is CONFIG_INVALID.
 */
export function loadRules(config: Partial<RulesConfig> = {}, opts: LoadRulesOptions = {}): CompiledRule[] {
  const cfg = rulesSectionSchema.parse(config);
  const registry = opts.registry ?? defaultRegistry();
  const loaded = loadRuleFiles(
    rulePaths(cfg),
    registry,
    opts.displayRoot ? { displayRoot: opts.displayRoot } : {},
  );
  if (hasErrors(loaded.diagnostics)) {
    const errors = loaded.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
    throw new SecmonError("RULE_INVALID", errors.join("\n"));
  }
  return applyOverrides(loaded.rules, cfg.overrides).map((r) => compileRule(r, cfg));
}
