import type { SecurityEvent, Attributes } from "../../src/event.ts";
import { defaultRegistry } from "../../src/engine/registry.ts";
import type { CompiledRule } from "../../src/engine/types.ts";
import { applyOverrides, compileRule } from "../../src/rules/compile.ts";
import { rulesSectionSchema, type RulesConfig } from "../../src/rules/config.ts";
import { formatDiagnostic } from "../../src/rules/diagnostics.ts";
import { parseRuleText } from "../../src/rules/loader.ts";

export const T0 = Date.parse("2026-11-21T10:00:00.000Z");

/** Compiles the rules of a YAML text (throws with the lint output when it has errors). */
export function compileYaml(text: string, config: Partial<RulesConfig> = {}): CompiledRule[] {
  const cfg = rulesSectionSchema.parse(config);
  const parsed = parseRuleText("test.yaml", text, defaultRegistry());
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map(formatDiagnostic).join("\n"));
  return applyOverrides(
    parsed.rules.map((r) => r.rule),
    cfg.overrides,
  ).map((r) => compileRule(r, cfg));
}

/** A security event `sec` seconds after T0. */
export function event(
  sec: number,
  name: string,
  attributes: Attributes,
  extra: Partial<Omit<SecurityEvent, "time" | "name" | "attributes">> = {},
): SecurityEvent {
  return { name, time: T0 + sec * 1000, service: "checkout", attributes, resource: {}, ...extra };
}

export const failure = (sec: number, attrs: Attributes = {}, extra = {}) =>
  event(sec, "auth.login", { "auth.outcome": "failure", "client.address": "203.0.113.7", ...attrs }, extra);
