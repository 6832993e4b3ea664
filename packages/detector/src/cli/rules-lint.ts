import { defaultRegistry, type KindRegistry } from "../engine/registry.ts";
import { builtinRulesDir } from "../rules/compile.ts";
import { formatDiagnostic, hasErrors } from "../rules/diagnostics.ts";
import { loadRuleFiles } from "../rules/loader.ts";
import type { CliStreams } from "./io.ts";

export interface RulesLintOptions extends CliStreams {
  readonly registry?: KindRegistry;
}

/**
 * `secmon-detector rules lint [paths…]`: validates rule files (the default pack when no path is
 * given) and prints one `file:line:col: message` line per problem on stderr, then a summary line
 * on stdout. Resolves to the exit code: 0 when no errors (warnings allowed), 1 otherwise.
 */
export async function rulesLint(paths: readonly string[], opts: RulesLintOptions = {}): Promise<number> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const targets = paths.length > 0 ? paths : [builtinRulesDir()];
  const result = loadRuleFiles(targets, opts.registry ?? defaultRegistry());
  for (const d of result.diagnostics) stderr.write(formatDiagnostic(d) + "\n");
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = result.diagnostics.length - errors;
  stdout.write(
    `${result.files.length} file(s), ${result.rules.length} valid rule(s), ${errors} error(s), ${warnings} warning(s)\n`,
  );
  return hasErrors(result.diagnostics) || result.files.length === 0 ? 1 : 0;
}
