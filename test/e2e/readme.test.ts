import { parseConfigText } from "@secmon/detector";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../deploy/paths.ts";

const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts,
);

/** The README is what a new user follows: its configs parse and its commands exist. */
describe("README", () => {
  it("shows detector configs that the detector accepts", () => {
    const blocks = [...readme.matchAll(/```yaml\n(# [\w-]+\.yaml\n[\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const result = parseConfigText(block);
      expect(result.ok ? [] : result.problems, block.split("\n")[0]).toEqual([]);
    }
  });

  it("names only pnpm scripts that exist", () => {
    const used = new Set([...readme.matchAll(/\bpnpm(?:@[\d.]+)? ([a-z][\w:-]*)/g)].map((m) => m[1]!));
    const builtins = new Set(["install", "exec", "add", "run"]);
    for (const name of used) if (!builtins.has(name)) expect(scripts, `pnpm ${name}`).toContain(name);
    expect(used).toContain("demo");
    expect(used).toContain("test");
  });

  it("gives .ci/run exactly the README's test command", () => {
    const ci = readFileSync(join(REPO_ROOT, ".ci/run"), "utf8");
    const command = /```sh\n(npx -y pnpm@[\d.]+ test)\n```/.exec(readme)?.[1];
    expect(command).toBeDefined();
    expect(ci).toContain(command!);
  });
});
