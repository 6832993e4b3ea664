import type { z } from "zod";

/** One problem found in a rule file, with its place. */
export interface Diagnostic {
  readonly file: string;
  /** 1-based; 0 when the place is unknown. */
  readonly line: number;
  readonly col: number;
  readonly severity: "error" | "warning";
  readonly message: string;
}

/** `file:line:col: message` (warnings say so), the format of `secmon-detector rules lint`. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

type Issue = z.core.$ZodIssue;
export type Path = readonly (string | number)[];

/** A problem at a path of the validated value; `key` names an object key to point at. */
export interface PathProblem {
  readonly path: Path;
  readonly key?: string;
  readonly message: string;
}

const toPath = (p: readonly PropertyKey[]): (string | number)[] =>
  p.map((s) => (typeof s === "number" ? s : String(s)));

/**
 * Zod issues as readable problems. A union's issues come from the alternative that matched the
 * value's type, so `{ equal: 1 }` reads "unknown key equal", not "expected string".
 */
export function explainIssues(issues: readonly Issue[], base: Path = [], input?: unknown): PathProblem[] {
  const out: PathProblem[] = [];
  // An object with unknown keys says so; its refinements ("needs at least one …") are noise then.
  const unknownAt = new Set(
    issues.filter((i) => i.code === "unrecognized_keys").map((i) => JSON.stringify(i.path)),
  );
  for (const issue of issues) {
    const path = [...base, ...toPath(issue.path)];
    if (issue.code === "custom" && unknownAt.has(JSON.stringify(issue.path))) continue;
    if ((issue.code === "invalid_type" || issue.code === "invalid_value") && isMissing(input, issue.path)) {
      const name = path[path.length - 1];
      out.push({ path: path.slice(0, -1), message: `missing required key "${String(name)}"` });
      continue;
    }
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) out.push({ path, key, message: `unknown key "${key}"` });
        break;
      case "invalid_type": {
        const received = /received (\w+)/.exec(issue.message)?.[1];
        const name = path[path.length - 1];
        if (received === "undefined" && name !== undefined) {
          out.push({ path: path.slice(0, -1), message: `missing required key "${name}"` });
        } else out.push({ path, message: `must be ${article(issue.expected)}, not ${received ?? "that"}` });
        break;
      }
      case "invalid_union": {
        const branches = issue.errors.filter((b) => !isRootTypeMismatch(b));
        if (branches.length > 0) {
          const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
          out.push(...explainIssues(best, path, valueAt(input, issue.path)));
        } else {
          const expected = [
            ...new Set(issue.errors.flat().map((i) => (i.code === "invalid_type" ? i.expected : "other"))),
          ];
          out.push({ path, message: `must be ${expected.map(article).join(" or ")}` });
        }
        break;
      }
      case "invalid_value":
        out.push({
          path,
          message:
            issue.values.length === 1
              ? `must be ${JSON.stringify(issue.values[0])}`
              : `must be one of ${issue.values.map((v) => String(v)).join(", ")}`,
        });
        break;
      case "invalid_key": {
        const key = path[path.length - 1];
        const inner = issue.issues[0]?.message.replace(/^Invalid string: /, "") ?? "is invalid";
        out.push({ path: path.slice(0, -1), key: String(key), message: `key "${String(key)}" ${inner}` });
        break;
      }
      case "invalid_format":
        out.push({ path, message: issue.message.replace(/^Invalid string: /, "") });
        break;
      case "too_small":
      case "too_big":
        out.push({ path, message: boundMessage(issue) });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === "too_small";
  const n = Number(
    small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum,
  );
  const strict = issue.inclusive === false;
  if (issue.origin === "array" || issue.origin === "set") {
    if (small && n === 1) return "must not be empty";
    return `must have ${small ? "at least" : "at most"} ${strict ? (small ? n + 1 : n - 1) : n} items`;
  }
  if (issue.origin === "string") {
    if (small && n === 1) return "must not be empty";
    return `must be ${small ? "at least" : "at most"} ${n} characters long`;
  }
  return `must be ${small ? (strict ? ">" : ">=") : strict ? "<" : "<="} ${n}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** Whether the issue's path names a key its parent object does not have. */
function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  if (input === undefined || path.length === 0) return false;
  const parent = valueAt(input, path.slice(0, -1));
  return (
    parent !== null &&
    typeof parent === "object" &&
    !Array.isArray(parent) &&
    !(path[path.length - 1]! in parent)
  );
}

function isRootTypeMismatch(branch: readonly Issue[]): boolean {
  return branch.length === 1 && branch[0]!.code === "invalid_type" && branch[0]!.path.length === 0;
}

function article(type: string): string {
  if (type === "array") return "a list";
  if (type === "object") return "a mapping";
  if (type === "other") return "something else";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
