import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { distance } from "fastest-levenshtein";
import { defaultRegistry, type KindRegistry } from "../engine/registry.ts";
import { builtinRulesDir } from "../rules/compile.ts";
import { formatDiagnostic, hasErrors } from "../rules/diagnostics.ts";
import { discoverGoldenCases, runGoldenCase, type GoldenCase, type GoldenOutcome } from "../rules/golden.ts";
import { loadRuleFiles } from "../rules/loader.ts";
import type { CliStreams } from "./io.ts";

export interface RulesTestOptions extends CliStreams {
  readonly registry?: KindRegistry;
}

/** The testdata directory that belongs to a rule path: `<dir>/testdata`, or beside a file. */
function testdataFor(path: string): string {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // reported by the loader
  }
  return join(isDir ? path : dirname(path), "testdata");
}

/** The known ids nearest to `id` by edit distance (at most three). */
function closestIds(id: string, known: Iterable<string>): string[] {
  const ranked = [...known].map((k) => ({ k, d: distance(id, k) })).sort((a, b) => a.d - b.d);
  const best = ranked[0]?.d ?? 0;
  return ranked
    .filter((r) => r.d <= best + 1)
    .slice(0, 3)
    .map((r) => r.k);
}

/**
 * `secmon-detector rules test [paths…]`: runs the golden cases of the rules in `paths` (the
 * default pack when none): `testdata/<rule>/<case>/` beside the rule files. Prints `ok` or `FAIL`
 * per case, with what differs; a rule without any case is reported; a case folder named after no
 * rule (neither of `paths` nor of a rule file beside its testdata) fails, with the closest ids.
 * Resolves to the exit code: 0 when every case passes, 1 otherwise.
 */
export async function rulesTest(paths: readonly string[], opts: RulesTestOptions = {}): Promise<number> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const targets = paths.length > 0 ? paths : [builtinRulesDir()];
  const registry = opts.registry ?? defaultRegistry();
  const loaded = loadRuleFiles(targets, registry);
  if (hasErrors(loaded.diagnostics)) {
    for (const d of loaded.diagnostics) stderr.write(formatDiagnostic(d) + "\n");
    return 1;
  }
  const ids = new Set(loaded.rules.map((r) => r.spec.id));
  const seen = new Set<string>();
  const cases: GoldenCase[] = [];
  // Rules beside a testdata folder that `paths` did not select (one file of a directory) are
  // known too: their cases are not run, but they are no typos.
  const known = new Set(ids);
  for (const dir of new Set(targets.map((p) => resolve(testdataFor(p))))) {
    const found = discoverGoldenCases(dir);
    if (found.some((c) => !ids.has(c.rule))) {
      for (const r of loadRuleFiles([dirname(dir)], registry).rules) known.add(r.spec.id);
    }
    for (const c of found) {
      const key = `${c.rule}/${c.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      cases.push(c);
    }
  }
  const strays = new Map<string, GoldenCase[]>();
  for (const c of cases) {
    if (!known.has(c.rule)) strays.set(c.rule, [...(strays.get(c.rule) ?? []), c]);
  }
  for (const [rule, of] of strays) {
    const folder = dirname(of[0]!.dir);
    const closest = closestIds(rule, known);
    stdout.write(
      `FAIL ${folder}: no rule has the id "${rule}"${closest.length > 0 ? ` (closest: ${closest.join(", ")})` : ""}; its ${of.length} case(s) were not run\n`,
    );
  }
  const outcomes: GoldenOutcome[] = [];
  for (const c of cases) {
    if (!ids.has(c.rule)) continue;
    const outcome = await runGoldenCase(c, loaded.rules);
    outcomes.push(outcome);
    stdout.write(`${outcome.pass ? "ok  " : "FAIL"} ${c.rule}/${c.name}\n`);
    for (const p of outcome.problems) stdout.write(`       ${p}\n`);
  }
  const covered = new Set(outcomes.map((o) => o.case.rule));
  const untested = loaded.rules.filter((r) => !covered.has(r.spec.id)).map((r) => r.spec.id);
  for (const id of untested) stdout.write(`warning: rule ${id} has no golden case\n`);
  const failed = outcomes.filter((o) => !o.pass).length;
  const stray = strays.size > 0 ? `, ${strays.size} case folder(s) of no rule` : "";
  stdout.write(`${outcomes.length} case(s), ${outcomes.length - failed} passed, ${failed} failed${stray}\n`);
  return failed > 0 || strays.size > 0 ? 1 : 0;
}
