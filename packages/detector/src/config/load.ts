import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isNode } from "yaml";
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

/** Finds the line of a path in the source; `atKey` points at the key rather than its value. */
type Locator = (
  path: readonly PropertyKey[],
  atKey?: boolean,
) => { line: number; column: number } | undefined;

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
  const locate: Locator = (path, atKey) => {
    const node = doc.getIn(path as unknown[], true);
    if (!atKey && isNode(node) && node.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
    // An unknown key: find the key node in its parent map.
    const parent = doc.getIn(path.slice(0, -1) as unknown[], true) as unknown;
    const last = path[path.length - 1];
    if (parent && typeof parent === "object" && "items" in parent && Array.isArray(parent.items)) {
      for (const pair of parent.items as { key?: unknown }[]) {
        const k = pair.key;
        if (isNode(k) && "value" in k && k.value === last && k.range) {
          const pos = lineCounter.linePos(k.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
    }
    return undefined;
  };
  return validateConfig(doc.toJS() ?? {}, locate);
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
