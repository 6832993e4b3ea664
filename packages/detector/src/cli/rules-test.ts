import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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

/**
 * `secmon-detector rules test [paths…]`: runs the golden cases of the rules in `paths` (the
 * default pack when none): `testdata/<rule>/<case>/` beside the rule files. Prints `ok` or `FAIL`
 * per case, with what differs; a rule without any case is reported. Resolves to the exit code:
 * 0 when every case passes, 1 otherwise.
 */
export async function rulesTest(paths: readonly string[], opts: RulesTestOptions = {}): Promise<number> {
  const stdout = opts.stdout ?? process.stdout;
  const targets = paths.length > 0 ? paths : [builtinRulesDir()];
  const loaded = loadRuleFiles(targets, opts.registry ?? defaultRegistry());
  if (hasErrors(loaded.diagnostics)) {
    for (const d of loaded.diagnostics) stdout.write(formatDiagnostic(d) + "\n");
    return 1;
  }
  const ids = new Set(loaded.rules.map((r) => r.spec.id));
  const seen = new Set<string>();
  const cases: GoldenCase[] = [];
  for (const dir of new Set(targets.map((p) => resolve(testdataFor(p))))) {
    for (const c of discoverGoldenCases(dir)) {
      const key = `${c.rule}/${c.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      cases.push(c);
    }
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
  stdout.write(`${outcomes.length} case(s), ${outcomes.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
