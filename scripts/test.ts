/**
 * The whole test suite, as the README's test command runs it (and .ci/run through it):
 * system packages the tests need, static checks, generated-doc checks, then every test.
 * It ends with one line `tests: N passed, N failed` (and skipped, which must be 0).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian packages whose programs the tests start for real. */
const SYSTEM_PROGRAMS: Record<string, string> = {
  "redis-server": "redis-server",
  prometheus: "prometheus",
  promtool: "prometheus",
  "prometheus-alertmanager": "prometheus-alertmanager",
  openssl: "openssl",
  "docker-compose": "docker-compose",
};

function run(title: string, cmd: string, args: string[]): void {
  console.log(`\n▶ ${title}: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`✖ ${title} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function have(program: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}

function ensureSystemPackages(): void {
  const missing = [
    ...new Set(
      Object.entries(SYSTEM_PROGRAMS)
        .filter(([program]) => !have(program))
        .map(([, pkg]) => pkg),
    ),
  ];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(
      `Missing system packages: ${missing.join(" ")}. Install them: sudo apt-get install ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  run("apt-get update", "apt-get", ["update", "-qq"]);
  run("install system packages", "apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
}

ensureSystemPackages();
run("typecheck", "tsc", ["-p", "tsconfig.json", "--noEmit"]);
run("lint", "eslint", [".", "--max-warnings=0"]);
run("format", "prettier", ["--check", "."]);
run("generated docs", "node", ["--conditions=@secmon/source", "scripts/docs.ts", "--check"]);

const dir = mkdtempSync(join(tmpdir(), "secmon-test-"));
const report = join(dir, "vitest.json");
const vitest = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit", env: { ...process.env, CI: process.env.CI ?? "true" } },
);
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + r.numTodoTests;
}
rmSync(dir, { recursive: true, force: true });
if (vitest.status !== 0 && failed === 0) failed = 1; // a crash or a failed suite outside any test
if (skipped > 0) {
  console.error(`✖ ${skipped} tests were skipped; CI runs every test`);
  failed += skipped;
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
