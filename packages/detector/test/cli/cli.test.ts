import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.ts";
import { replay } from "../../src/cli/replay.ts";
import { rulesLint } from "../../src/cli/rules-lint.ts";
import { rulesTest } from "../../src/cli/rules-test.ts";

function capture() {
  let text = "";
  return {
    stream: { write: (s: string) => (text += s) },
    get text() {
      return text;
    },
  };
}

const RULE = `rules:
  - id: many_failures
    description: Failed sign-ins from one address.
    tags: [sandbox]
    severity: medium
    title: "{{ value }} failures from {{ client.address }}"
    match:
      events: auth.login
      where: { auth.outcome: failure }
    group_by: [client.address]
    detect: { kind: count, window_seconds: 60, threshold: 3 }
`;

const line = (sec: number, attrs: Record<string, string>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: new Date(Date.parse("2026-11-21T10:00:00Z") + sec * 1000).toISOString(),
    event_name: "auth.login",
    service: "checkout",
    attributes: { "auth.outcome": "failure", "client.address": "203.0.113.7", ...attrs },
    ...extra,
  });

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "secmon-cli-"));
}

describe("rulesLint", () => {
  it("passes the default pack", async () => {
    const out = capture();
    expect(await rulesLint([], { stdout: out.stream })).toBe(0);
    expect(out.text).toMatch(/^5 file\(s\), 14 valid rule\(s\), 0 error\(s\), 0 warning\(s\)\n$/);
  });

  it("prints file:line:col per problem and fails on errors; warnings alone pass", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.yaml"), RULE.replace("kind: count", "kind: counte"));
    writeFileSync(
      join(dir, "warn.yaml"),
      RULE.replace("many_failures", "other").replace("events: auth.login", "events: auth.logins"),
    );
    const out = capture();
    expect(await rulesLint([join(dir, "bad.yaml"), join(dir, "warn.yaml")], { stdout: out.stream })).toBe(1);
    expect(out.text.split("\n")).toEqual([
      `${join(dir, "bad.yaml")}:11:21: unknown rule kind "counte" (known: count, sum, distinct, sequence)`,
      `${join(dir, "warn.yaml")}:8:15: warning: event name "auth.logins" is neither in the spec nor custom.*; only an application's own events could match`,
      "2 file(s), 1 valid rule(s), 1 error(s), 1 warning(s)",
      "",
    ]);
    expect(await rulesLint([join(dir, "warn.yaml")], { stdout: capture().stream })).toBe(0);
    expect(await rulesLint([join(dir, "empty-dir-does-not-exist")], { stdout: capture().stream })).toBe(1);
  });
});

describe("rulesTest", () => {
  it("runs the golden cases beside the rule files and shows what differs", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rules.yaml"), RULE);
    const ok = join(dir, "testdata", "many_failures", "fires");
    const bad = join(dir, "testdata", "many_failures", "wrong");
    mkdirSync(ok, { recursive: true });
    mkdirSync(bad, { recursive: true });
    const events = [0, 1, 2].map((s) => line(s, {}, { batch: 1 })).join("\n") + "\n";
    writeFileSync(join(ok, "events.jsonl"), events);
    writeFileSync(
      join(ok, "expected.yaml"),
      "alerts:\n  - group: { client.address: 203.0.113.7 }\n    value: 3\n    count: 1\n    title: 3 failures from 203.0.113.7\n",
    );
    writeFileSync(join(bad, "events.jsonl"), events);
    writeFileSync(
      join(bad, "expected.yaml"),
      "alerts:\n  - group: { client.address: 203.0.113.7 }\n    value: 4\n",
    );
    const out = capture();
    expect(await rulesTest([dir], { stdout: out.stream })).toBe(1);
    expect(out.text).toContain("ok   many_failures/fires\n");
    expect(out.text).toContain("FAIL many_failures/wrong\n       alerts[0].value: expected 4, got 3\n");
    expect(out.text).toContain("2 case(s), 1 passed, 1 failed\n");

    writeFileSync(join(bad, "expected.yaml"), "none: true\n");
    const again = capture();
    expect(await rulesTest([join(dir, "rules.yaml")], { stdout: again.stream })).toBe(1);
    expect(again.text).toContain("FAIL many_failures/wrong\n       expected 0 alert(s), got 1\n");
    expect(again.text).toContain(
      'got: many_failures {"client.address":"203.0.113.7"} value=3 threshold=3 count=1',
    );
  });

  it("reports broken case files and rules without cases", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "rules.yaml"),
      RULE + RULE.replace("rules:\n", "").replace("many_failures", "untested"),
    );
    const c = join(dir, "testdata", "many_failures", "broken");
    mkdirSync(c, { recursive: true });
    writeFileSync(join(c, "events.jsonl"), '{"time": "yesterday", "event_name": "auth.login"}\nnot json\n');
    writeFileSync(join(c, "expected.yaml"), "none: true\n");
    const out = capture();
    expect(await rulesTest([dir], { stdout: out.stream })).toBe(1);
    expect(out.text).toContain("events.jsonl:1: time: must be an ISO-8601 time");
    expect(out.text).toContain("events.jsonl:2: not JSON");
    expect(out.text).toContain("warning: rule untested has no golden case");
  });
});

describe("replay", () => {
  const otlpLine = (secs: number[], address: string) =>
    JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "accounts" } }] },
          scopeLogs: [
            {
              logRecords: [
                ...secs.map((s) => ({
                  timeUnixNano: String((Date.parse("2026-11-21T10:00:00Z") + s * 1000) * 1e6),
                  eventName: "auth.login",
                  attributes: [
                    { key: "auth.outcome", value: { stringValue: "failure" } },
                    { key: "client.address", value: { stringValue: address } },
                    { key: "user.hash", value: { stringValue: `${s}`.padStart(32, "0") } },
                  ],
                })),
                { timeUnixNano: "1", body: { stringValue: "not a security event" } },
              ],
            },
          ],
        },
      ],
    });

  it("replays our event lines and OTLP/JSON lines, gzip too, on event time, deduplicated like the detector", async () => {
    const dir = tempDir();
    // 12 failures from one address in our format, out of order across two files
    writeFileSync(join(dir, "a.jsonl"), [5, 6, 7, 8, 9, 10, 11].map((s) => line(s, {})).join("\n") + "\n");
    writeFileSync(
      join(dir, "b.jsonl.gz"),
      gzipSync([0, 1, 2, 3, 4].map((s) => line(s, {})).join("\n") + "\n"),
    );
    // 10 failures from an IPv6 /64 in the Collector file exporter's format
    writeFileSync(
      join(dir, "otlp.json"),
      otlpLine([0, 1, 2, 3, 4], "2001:db8::1") + "\n" + otlpLine([5, 6, 7, 8, 9], "2001:db8::2") + "\n",
    );
    const out = capture();
    const summary = await replay([join(dir, "a.jsonl"), join(dir, "b.jsonl.gz"), join(dir, "otlp.json")], {
      stdout: out.stream,
      batchSize: 4,
    });
    expect(summary).toMatchObject({ exitCode: 0, events: 22, ignored: 2, rejected: 0, badLines: 0 });
    const bf = summary.alerts.filter((a) => a.rule === "brute_force");
    expect(bf.map((a) => [a.group["client.address"], a.value, a.first_seen])).toEqual([
      ["203.0.113.7", 12, "2026-11-21T10:00:00.000Z"],
      ["2001:db8::/64", 10, "2026-11-21T10:00:00.000Z"],
    ]);
    expect(bf[0]!.count).toBeGreaterThan(1); // later batches updated the alert instead of creating more
    expect(out.text).toContain("[high] brute_force: Brute-force sign-in attempts from 203.0.113.7\n");
    expect(out.text).toContain("  response block_ip 203.0.113.7 until 2026-11-21T11:00:11.000Z\n");
    expect(out.text).toMatch(
      /22 event\(s\) replayed \(2 ignored, 0 rejected, 0 unreadable line\(s\)\) from 3 file\(s\); \d+ alert\(s\)\n$/,
    );
  });

  it("prints JSON lines with json, reports unreadable lines, and honours the rules config", async () => {
    const dir = tempDir();
    const file = join(dir, "events.jsonl");
    writeFileSync(
      file,
      [
        ...[0, 1, 2, 3, 4].map((s) => line(s, {})),
        "{oops",
        JSON.stringify({ event_name: "auth.login" }),
        "[1]",
      ].join("\n"),
    );
    const out = capture();
    const err = capture();
    const summary = await replay([file], {
      stdout: out.stream,
      stderr: err.stream,
      json: true,
      rules: { overrides: { brute_force: { threshold: 5 } } },
    });
    expect(summary.exitCode).toBe(1);
    expect(summary.badLines).toBe(3);
    expect(err.text).toContain(`${file}:6: not a JSON line`);
    expect(err.text).toContain(`${file}:7: missing required key "time"`);
    expect(err.text).toContain(`${file}:8: The request body is not a valid OTLP ExportLogsServiceRequest`);
    const alerts = out.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    expect(alerts.map((a) => [a.rule, a.value, a.threshold])).toEqual([["brute_force", 5, 5]]);
  });

  it("exits 2 when nothing can be replayed", async () => {
    const err = capture();
    const missing = await replay(["/nonexistent/file.jsonl"], {
      stdout: capture().stream,
      stderr: err.stream,
    });
    expect(missing.exitCode).toBe(2);
    const badRules = await replay([], {
      stdout: capture().stream,
      stderr: err.stream,
      rules: { overrides: { nope: { enabled: false } } },
    });
    expect(badRules.exitCode).toBe(2);
    expect(err.text).toContain("rules.overrides.nope");
  });
});
