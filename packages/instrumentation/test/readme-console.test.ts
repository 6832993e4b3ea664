/** The README's console quick start runs as written against the installed SDK and prints the record. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { readmeAfter } from "./helpers/readme.ts";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** The first ```ts block after `<!-- marker -->`. */
function codeBlock(marker: string): string {
  const match = /```ts\n([\s\S]*?)```/.exec(readmeAfter(marker));
  expect(match, marker).not.toBeNull();
  return match![1]!;
}

/** Runs `code` as an ES module from this package (so `@secmon/instrumentation` resolves to its source). */
async function runModule(code: string): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  // the block is TypeScript without type annotations: valid JavaScript
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--conditions=@secmon/source", "--input-type=module", "-e", code],
      { cwd: packageDir, env: { ...process.env, NODE_ENV: "" }, timeout: 60_000 },
    );
    return { stdout, stderr, exitCode: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", exitCode: failed.code ?? -1 };
  }
}

describe("README console quick start", () => {
  const code = codeBlock("quickstart:console");

  it("prints the auth.login record, pseudonymous", async () => {
    const { stdout, stderr, exitCode } = await runModule(code);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    expect(stdout).toContain("eventName: 'auth.login'");
    expect(stdout).toContain("body: 'login failed: invalid credentials'");
    expect(stdout).toContain("'auth.failure_reason': 'invalid_credentials'");
    expect(stdout).toContain("'client.address': '203.0.113.7'");
    expect(stdout).toMatch(/'user\.hash': '[0-9a-f]{32}'/);
    expect(stdout).toContain("'service.name': 'checkout'");
    // the record itself (the resource quotes the command line, hence the code)
    expect(stdout.slice(stdout.indexOf("severityText"))).not.toContain("alice");
  });

  it("the positional form it warns about prints nothing, and its shutdown fails", async () => {
    const positional = code.replace(
      "new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() })",
      "new SimpleLogRecordProcessor(new ConsoleLogRecordExporter())",
    );
    expect(positional).not.toBe(code);
    const { stdout, stderr, exitCode } = await runModule(positional);
    expect(stdout).not.toContain("auth.login");
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("reading 'shutdown'");
  });
});
