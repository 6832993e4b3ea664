/**
 * Title templates: text with `{{ name }}` placeholders, filled from the group values and the
 * firing's numbers. Nothing is evaluated: a placeholder is a name, looked up, inserted as text.
 */

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** Names the firing fills in besides the group_by attributes. */
export const TEMPLATE_BUILTINS = ["value", "threshold", "window_seconds", "rule"] as const;

export interface TitleTemplate {
  readonly source: string;
  /** The placeholder names, in order of appearance. */
  readonly names: readonly string[];
  render(values: Readonly<Record<string, string | number | undefined>>): string;
}

/** Parses a template; a stray `{{` or `}}` is a problem reported by the caller. */
export function parseTemplate(source: string): { template: TitleTemplate; problems: string[] } {
  const names: string[] = [];
  const pieces: (string | { name: string })[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    pieces.push(source.slice(last, m.index));
    pieces.push({ name: m[1]! });
    names.push(m[1]!);
    last = m.index + m[0].length;
  }
  pieces.push(source.slice(last));
  const problems: string[] = [];
  const literal = pieces.filter((p): p is string => typeof p === "string").join("");
  if (literal.includes("{{") || literal.includes("}}")) {
    problems.push(
      "malformed placeholder: use {{ name }} with an attribute name or one of value, threshold, window_seconds, rule",
    );
  }
  return {
    problems,
    template: {
      source,
      names,
      render(values) {
        let out = "";
        for (const p of pieces) {
          if (typeof p === "string") out += p;
          else {
            const v = values[p.name];
            out += v === undefined ? "" : typeof v === "number" ? formatNumber(v) : v;
          }
        }
        return out;
      },
    },
  };
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000);
}
