import { existsSync, readFileSync } from "node:fs";
import {
  formatProblems,
  parseConfigText,
  yamlLocator,
  type ConfigProblem,
  type Locator,
} from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { asSecmonError, ERROR_CODES, type SecmonError } from "../errors.ts";
import { loadRules } from "../rules/compile.ts";
import { cannotRead, type CliStreams } from "./io.ts";

type Segment = string | number;
const showPath = (path: readonly Segment[]) =>
  path.map((s, i) => (typeof s === "number" ? `[${s}]` : i > 0 ? `.${s}` : s)).join("");

/** A problem at the key (list item) of `path` in the config file, else of its nearest parent there. */
function problemAt(path: readonly Segment[], message: string, locate: Locator): ConfigProblem {
  let pos;
  for (let n = path.length; pos === undefined && n > 0; n--) pos = locate(path.slice(0, n), true);
  return { path: showPath(path), message, ...(pos ?? {}) };
}

/**
 * What `loadRules` refused, as lines: a rule file's problems at their `file:line:col`; a
 * `rules.paths` entry or an override at its line in the config file.
 */
function rulesProblems(err: SecmonError, file: string, rules: Config["rules"], locate: Locator): string[] {
  const prefix = `${ERROR_CODES[err.code].message}: `;
  const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const config = (p: ConfigProblem) => formatProblems(file, [p]);
  if (err.code === "RULE_INVALID") {
    return detail.split("\n").map((line) => {
      // An unreadable path of rules.paths: the loader cannot point inside it, the config can.
      const index = rules.paths.findIndex((p) => line.startsWith(`${p}:0:0: `));
      if (index === -1) return line;
      const path = rules.paths[index]!;
      const message = existsSync(path)
        ? line.slice(`${path}:0:0: `.length)
        : `no such file or directory: ${path}`;
      return config(problemAt(["rules", "paths", index], message, locate));
    });
  }
  if (err.code === "CONFIG_INVALID") {
    // Longest override id first, so that an id with dots is not cut at its first one.
    const ids = Object.keys(rules.overrides).sort((a, b) => b.length - a.length);
    return detail.split(/; (?=rules\.overrides\.)/).map((problem) => {
      const id = ids.find(
        (k) => problem.startsWith(`rules.overrides.${k}:`) || problem.startsWith(`rules.overrides.${k}.`),
      );
      if (id === undefined) return config(problemAt(["rules"], problem, locate));
      const rest = problem.slice(`rules.overrides.${id}`.length);
      const colon = rest.indexOf(": ");
      const inner = rest
        .slice(0, colon)
        .split(".")
        .filter((s) => s !== "")
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      return config(problemAt(["rules", "overrides", id, ...inner], rest.slice(colon + 2), locate));
    });
  }
  return [config(problemAt(["rules"], err.message, locate))];
}

/**
 * `secmon-detector config check FILE`: validates the file against the config schema, then loads
 * and compiles the rules it names exactly as the detector does at start (`loadRules`), so that
 * `ok` means the detector accepts it. Prints every problem as `file:line:col: path: message` on
 * stderr. Exit code: 0 ok, 1 problems, 2 when the file cannot be read.
 */
export function configCheck(file: string, opts: CliStreams = {}): number {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    stderr.write(cannotRead(file, err));
    return 2;
  }
  const parsed = parseConfigText(text);
  if (!parsed.ok) {
    stderr.write(formatProblems(file, parsed.problems) + "\n");
    return 1;
  }
  const rules = parsed.config.rules;
  const problems = rulesCheck(rules);
  // A missing path stops the loader before the overrides: look at them without it too.
  const missing = rules.paths.filter((p) => !existsSync(p));
  if (missing.length > 0 && problems[0]?.code === "RULE_INVALID") {
    problems.push(...rulesCheck({ ...rules, paths: rules.paths.filter((p) => !missing.includes(p)) }));
  }
  if (problems.length > 0) {
    const locate = yamlLocator(text);
    const lines = problems.flatMap((err) => rulesProblems(err, file, rules, locate));
    stderr.write([...new Set(lines)].join("\n") + "\n");
    return 1;
  }
  stdout.write(`${file}: ok\n`);
  return 0;
}

/** What the detector's start says of these rules settings: nothing, or its error. */
function rulesCheck(rules: Config["rules"]): SecmonError[] {
  try {
    loadRules(rules);
    return [];
  } catch (err) {
    return [asSecmonError(err)];
  }
}
