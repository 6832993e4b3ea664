import { readFileSync } from "node:fs";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { SecmonError } from "../errors.ts";
import { configSchema, type Config } from "./schema.ts";

/** One problem in a config file, with where it is. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * Finds the line of a path in the source: its value, or with `atKey` the key of the map entry (the
 * item of a list); undefined when the source does not have it.
 */
export type Locator = (
  path: readonly PropertyKey[],
  atKey?: boolean,
) => { line: number; column: number } | undefined;

function locatorIn(doc: Document, lineCounter: LineCounter): Locator {
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  return (path, atKey) => {
    const node = doc.getIn(path as unknown[], true);
    if (!atKey && isNode(node) && node.range) return at(node.range[0]);
    const parent = doc.getIn(path.slice(0, -1) as unknown[], true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const key = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last))?.key;
      if (isNode(key) && key.range) return at(key.range[0]);
    } else if (isSeq(parent) && typeof last === "number") {
      const item = parent.items[last];
      if (isNode(item) && item.range) return at(item.range[0]);
    }
    return undefined;
  };
}

/** The locator of a YAML text, for problems found after it was parsed (e.g. in the rules it names). */
export function yamlLocator(text: string): Locator {
  const lineCounter = new LineCounter();
  return locatorIn(parseDocument(text, { lineCounter }), lineCounter);
}

/** Deep-freezes a parsed config so no component can change it after start. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
    .join(".")
    .replace(/\.\[/g, "[");
}

/**
 * Validates a config value (already parsed from YAML or built in code). Unknown keys are
 * rejected with their path. Returns the frozen config or the list of problems.
 */
export function validateConfig(
  raw: unknown,
  locate?: Locator,
): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return { ok: true, config: deepFreeze(result.data) };
  return { ok: false, problems: result.error.issues.map((issue) => toProblem(issue, locate)) };
}

function toProblem(issue: z.core.$ZodIssue, locate?: Locator): ConfigProblem {
  let path = issue.path;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    // Point at the first unknown key itself.
    const key = issue.keys[0] ?? "";
    path = [...issue.path, key];
    const where = formatPath(issue.path) || "the top level";
    message = `${where} has unknown key${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
  }
  let pos = locate?.(path, issue.code === "unrecognized_keys");
  // A missing key (e.g. a required `api.token`): point at the nearest part of the path the file has.
  for (let n = issue.path.length; pos === undefined && locate !== undefined && n > 0; n--) {
    pos = locate(issue.path.slice(0, n));
  }
  return { path: formatPath(path), message, ...(pos ?? {}) };
}

/** Renders problems one a line: `file:line:col: path: message`. */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map(
      (p) =>
        `${file}${p.line ? `:${p.line}:${p.column ?? 1}` : ""}: ${p.path ? `${p.path}: ` : ""}${p.message}`,
    )
    .join("\n");
}

/** Parses YAML text into a validated config, or explains every problem with its line. */
export function parseConfigText(
  text: string,
): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: "", message: e.message.split("\n")[0] ?? e.message, line: pos.line, column: pos.col };
      }),
    };
  }
  return validateConfig(doc.toJS() ?? {}, locatorIn(doc, lineCounter));
}

/** Loads the config file (or the embedded defaults when no file is given). Throws CONFIG_INVALID. */
export function loadConfig(file?: string): Config {
  if (file === undefined) {
    const result = validateConfig({});
    if (!result.ok) throw new SecmonError("CONFIG_INVALID", formatProblems("<defaults>", result.problems));
    return result.config;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SecmonError("CONFIG_INVALID", `cannot read ${file}`, { cause: err });
  }
  const result = parseConfigText(text);
  if (!result.ok) throw new SecmonError("CONFIG_INVALID", `\n${formatProblems(file, result.problems)}`);
  return result.config;
}
