import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../../src/cli/main.ts";
import { capture, RULE, tempDir } from "./helpers.ts";

/** `secmon-detector config check <file with text>`: the exit code and what it printed. */
async function check(text: string, dir = tempDir()) {
  const file = join(dir, "detector.yaml");
  writeFileSync(file, text);
  const out = capture();
  const err = capture();
  const code = await cli(["config", "check", file], { stdout: out.stream, stderr: err.stream });
  return { file, code, out: out.text, err: err.text };
}

describe("config check", () => {
  it("says ok for a config the detector starts with, rules included", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "mine.yaml"), RULE);
    const r = await check(
      `rules:\n  paths: [${join(dir, "mine.yaml")}]\n  overrides:\n    many_failures: { threshold: 5 }\n`,
      dir,
    );
    expect([r.code, r.out, r.err]).toEqual([0, `${r.file}: ok\n`, ""]);
  });

  it("loads the rules as the start does: an unknown override id, a response target outside group_by", async () => {
    const r = await check(
      [
        "rules:",
        "  overrides:",
        "    brute_forse:",
        "      enabled: false",
        "    account_takeover:",
        "      threshold: 3",
        "      responses:",
        "        - { action: block_ip, target: client.address }",
        "",
      ].join("\n"),
    );
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(
      [
        `${r.file}:3:5: rules.overrides.brute_forse: no loaded rule has the id "brute_forse"`,
        `${r.file}:8:31: rules.overrides.account_takeover.responses[0].target: response target "client.address" is not a group_by attribute (user.hash)`,
        "",
      ].join("\n"),
    );
  });

  it("names a rules.paths entry that does not exist at its line, and still checks the overrides", async () => {
    const r = await check(
      "rules:\n  paths: [/nonexistent/rules]\n  overrides:\n    nope: { enabled: false }\n",
    );
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      [
        `${r.file}:2:11: rules.paths[0]: no such file or directory: /nonexistent/rules`,
        `${r.file}:4:5: rules.overrides.nope: no loaded rule has the id "nope"`,
        "",
      ].join("\n"),
    );
  });

  it("shows a rule file's problems at their place in the rule file", async () => {
    const dir = tempDir();
    const rules = join(dir, "mine.yaml");
    writeFileSync(rules, RULE.replace("kind: count", "kind: counte"));
    const r = await check(`rules:\n  paths: [${rules}]\n`, dir);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `${rules}:11:21: unknown rule kind "counte" (known: count, sum, distinct, sequence)\n`,
    );
  });

  it("says what a secret must look like instead of 'Invalid input'", async () => {
    const r = await check(
      'api:\n  token: "abc"\nsinks:\n  - { name: team, type: slack, webhook_url: { env: A, file: b } }\n',
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${r.file}:2:10: api.token: a secret is never written inline; write { env: NAME } (read from an environment variable) or { file: PATH } (read from a file)\n`,
    );
    expect(r.err).toContain(
      "sinks[0].webhook_url: needs exactly one of the keys env and file (env, file given): { env: NAME }",
    );
    expect(r.err).not.toContain("Invalid input");
  });

  it("reports a config file it cannot read in one line, exit 2 like other unreadable input (--config too)", async () => {
    const out = capture();
    const err = capture();
    const code = await cli(["config", "check", "/nonexistent/detector.yaml"], {
      stdout: out.stream,
      stderr: err.stream,
    });
    expect([code, out.text, err.text]).toEqual([
      2,
      "",
      "/nonexistent/detector.yaml: cannot read: no such file\n",
    ]);
    for (const command of [[], ["replay", "capture.jsonl"]]) {
      const e = capture();
      expect(await cli(["--config", "/nonexistent/detector.yaml", ...command], { stderr: e.stream })).toBe(2);
      expect(e.text).toBe("/nonexistent/detector.yaml: cannot read: no such file\n");
    }
  });
});
