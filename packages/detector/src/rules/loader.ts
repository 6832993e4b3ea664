import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { SECURITY_EVENT_NAMES, CUSTOM_EVENT_PREFIX } from "@secmon/semconv";
import type { KindRegistry } from "../engine/registry.ts";
import type { RuleKind } from "../engine/types.ts";
import { explainIssues, type Diagnostic, type Path, type PathProblem } from "./diagnostics.ts";
import { ruleFileSchema, ruleSchema, type EventsSpec, type MatchSpec, type RuleSpec } from "./language.ts";
import { parseTemplate, TEMPLATE_BUILTINS } from "./template.ts";

/** A rule that passed validation, with the means to point at its parts. */
export interface LoadedRule {
  /** Validated; `detect` has been validated (and defaulted) by the rule's kind. */
  readonly spec: RuleSpec;
  readonly kind: RuleKind;
  readonly file: string;
  /** `file:line:col` of the rule's id. */
  readonly source: string;
}

export interface LoadResult {
  readonly rules: LoadedRule[];
  readonly diagnostics: Diagnostic[];
  readonly files: string[];
}

const RULE_FILE = /\.ya?ml$/;

/**
 * The rule files named by `paths`: files as given, directories walked for *.yaml / *.yml in
 * name order (a `testdata` directory is skipped: it holds golden cases).
 */
export function collectRuleFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "testdata" && !entry.name.startsWith(".")) walk(p);
      } else if (RULE_FILE.test(entry.name)) out.push(p);
    }
  };
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      out.push(p); // reported as unreadable by the loader
      continue;
    }
    if (isDir) walk(p);
    else out.push(p);
  }
  return out;
}

/** Loads and validates rule files; ids must be unique across all of them. */
export function loadRuleFiles(
  paths: readonly string[],
  registry: KindRegistry,
  opts: { displayRoot?: string } = {},
): LoadResult {
  const files = collectRuleFiles(paths);
  const rules: LoadedRule[] = [];
  const diagnostics: Diagnostic[] = [];
  const firstById = new Map<string, string>();
  for (const file of files) {
    const shown = opts.displayRoot ? relative(opts.displayRoot, file) : file;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      diagnostics.push({
        file: shown,
        line: 0,
        col: 0,
        severity: "error",
        message: `cannot read rule file: ${(err as Error).message}`,
      });
      continue;
    }
    const parsed = parseRuleText(shown, text, registry);
    diagnostics.push(...parsed.diagnostics);
    for (const loaded of parsed.rules) {
      const first = firstById.get(loaded.rule.spec.id);
      if (first !== undefined) {
        diagnostics.push(
          loaded.diagnostic(["id"], `duplicate rule id "${loaded.rule.spec.id}" (first defined at ${first})`),
        );
        continue;
      }
      firstById.set(loaded.rule.spec.id, loaded.rule.source);
      rules.push(loaded.rule);
    }
  }
  return { rules, diagnostics, files };
}

interface ParsedRule {
  readonly rule: LoadedRule;
  /** A diagnostic at a path inside this rule. */
  diagnostic(path: Path, message: string, severity?: Diagnostic["severity"]): Diagnostic;
}

/** Parses one rule file's text; `file` is only used in the diagnostics. */
export function parseRuleText(
  file: string,
  text: string,
  registry: KindRegistry,
): { rules: ParsedRule[]; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number, severity: Diagnostic["severity"], message: string): Diagnostic => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line: Math.max(line, 1), col: Math.max(col, 1), severity, message };
  };
  for (const e of doc.errors) diagnostics.push(at(e.pos[0], "error", yamlMessage(e.message)));
  for (const w of doc.warnings) diagnostics.push(at(w.pos[0], "warning", yamlMessage(w.message)));
  if (doc.errors.length > 0) return { rules: [], diagnostics };

  const problemAt = (p: PathProblem, severity: Diagnostic["severity"] = "error"): Diagnostic =>
    at(offsetOf(doc, p.path, p.key), severity, p.message);

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    diagnostics.push(at(0, "error", (err as Error).message));
    return { rules: [], diagnostics };
  }
  if (value === null || value === undefined || typeof value !== "object" || Array.isArray(value)) {
    diagnostics.push(at(0, "error", "a rule file is a mapping with a `rules` list"));
    return { rules: [], diagnostics };
  }
  const fileResult = ruleFileSchema.safeParse(value);
  if (!fileResult.success) {
    for (const p of explainIssues(fileResult.error.issues, [], value)) diagnostics.push(problemAt(p));
    return { rules: [], diagnostics };
  }

  const rules: ParsedRule[] = [];
  fileResult.data.rules.forEach((raw, index) => {
    const base: Path = ["rules", index];
    const before = diagnostics.length;
    const report = (problems: readonly PathProblem[], severity: Diagnostic["severity"] = "error") => {
      for (const p of problems) diagnostics.push(problemAt({ ...p, path: [...base, ...p.path] }, severity));
    };
    const result = ruleSchema.safeParse(raw);
    if (!result.success) {
      report(explainIssues(result.error.issues, [], raw));
      return;
    }
    const spec = result.data;
    const kind = registry.get(spec.detect.kind);
    if (!kind) {
      report([
        {
          path: ["detect", "kind"],
          message: `unknown rule kind "${spec.detect.kind}" (known: ${registry.names().join(", ")})`,
        },
      ]);
      return;
    }
    const detect = kind.schema.safeParse(spec.detect);
    if (!detect.success) {
      report(explainIssues(detect.error.issues, ["detect"], spec.detect));
      return;
    }
    const full: RuleSpec = { ...spec, detect: detect.data };
    report(kind.check?.(detect.data, full).map((p) => ({ ...p, path: ["detect", ...p.path] })) ?? []);
    report(checkRule(full, kind));
    report(eventNameWarnings(full, kind), "warning");
    if (diagnostics.slice(before).some((d) => d.severity === "error")) return;

    const idAt = problemAt({ path: [...base, "id"], message: "" });
    rules.push({
      rule: { spec: full, kind, file, source: `${file}:${idAt.line}:${idAt.col}` },
      diagnostic: (path, message, severity = "error") =>
        problemAt({ path: [...base, ...path], message }, severity),
    });
  });
  return { rules, diagnostics };
}

/** Checks across fields of a rule that passed the schemas. */
export function checkRule(spec: RuleSpec, kind: RuleKind): PathProblem[] {
  const problems: PathProblem[] = [];
  const groupBy = new Set(spec.group_by);
  spec.responses.forEach((r, i) => {
    if (!groupBy.has(r.target)) {
      problems.push({
        path: ["responses", i, "target"],
        message: `response target "${r.target}" is not a group_by attribute (${spec.group_by.join(", ")})`,
      });
    }
  });
  const { template, problems: templateProblems } = parseTemplate(spec.title);
  for (const m of templateProblems) problems.push({ path: ["title"], message: m });
  for (const name of template.names) {
    if (!groupBy.has(name) && !(TEMPLATE_BUILTINS as readonly string[]).includes(name)) {
      problems.push({
        path: ["title"],
        message: `unknown placeholder {{ ${name} }}: use a group_by attribute or one of ${TEMPLATE_BUILTINS.join(", ")}`,
      });
    }
  }
  for (const { match, path } of matches(spec, kind)) {
    if (typeof match.events === "object" && !Array.isArray(match.events)) {
      match.events.security_events_except.forEach((name, i) => {
        if (!(SECURITY_EVENT_NAMES as readonly string[]).includes(name)) {
          problems.push({
            path: [...path, "events", "security_events_except", i],
            message: `"${name}" is not a security event name (${SECURITY_EVENT_NAMES.join(", ")})`,
          });
        }
      });
    }
  }
  return problems;
}

/** Every event match of a rule: its own and its kind's, with their paths. */
function matches(spec: RuleSpec, kind: RuleKind): { match: MatchSpec; path: Path }[] {
  return [
    { match: spec.match, path: ["match"] },
    ...(kind.extraInputs?.(spec.detect) ?? []).map((x) => ({ match: x.match, path: ["detect", ...x.path] })),
  ];
}

function eventNameWarnings(spec: RuleSpec, kind: RuleKind): PathProblem[] {
  const out: PathProblem[] = [];
  for (const { match, path } of matches(spec, kind)) {
    const names: [string, Path][] =
      typeof match.events === "string"
        ? [[match.events, [...path, "events"]]]
        : Array.isArray(match.events)
          ? match.events.map((n, i) => [n, [...path, "events", i]])
          : [];
    for (const [name, p] of names) {
      if (
        !(SECURITY_EVENT_NAMES as readonly string[]).includes(name) &&
        !name.startsWith(CUSTOM_EVENT_PREFIX)
      ) {
        out.push({
          path: p,
          message: `event name "${name}" is neither in the spec nor ${CUSTOM_EVENT_PREFIX}*; only an application's own events could match`,
        });
      }
    }
  }
  return out;
}

/** The event names an `events` spec stands for. */
export function resolveEvents(events: EventsSpec): string[] {
  if (typeof events === "string") return [events];
  if (Array.isArray(events)) return [...new Set(events)];
  const except = new Set(events.security_events_except);
  return SECURITY_EVENT_NAMES.filter((n) => !except.has(n));
}

function yamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+.*$/s, "").trim();
}

/**
 * The source offset of a path in the document: the deepest node the path reaches (a missing key
 * points at its parent), or the key itself when `key` names one of the node's keys.
 */
function offsetOf(doc: Document, path: Path, key?: string): number {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  const fullPath = key === undefined ? path : [...path, key];
  for (let i = 0; i < fullPath.length; i++) {
    const seg = fullPath[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      // For the named key itself (unknown key, bad key), point at the key.
      if (key !== undefined && i === fullPath.length - 1) {
        node = pair.key;
        break;
      }
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
    } else break;
  }
  const range = (node as Node | null | undefined)?.range ?? keyNode?.range;
  return range ? range[0] : 0;
}
