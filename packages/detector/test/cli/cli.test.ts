import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.ts";
import { replay, type ReplayOptions } from "../../src/cli/replay.ts";
import { rulesLint } from "../../src/cli/rules-lint.ts";
import { rulesTest } from "../../src/cli/rules-test.ts";
import { capture, RULE, tempDir } from "./helpers.ts";

const line = (sec: number, attrs: Record<string, string>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: new Date(Date.parse("2026-11-21T10:00:00Z") + sec * 1000).toISOString(),
    event_name: "auth.login",
    service: "checkout",
    attributes: { "auth.outcome": "failure", "client.address": "203.0.113.7", ...attrs },
    ...extra,
  });

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
    const err = capture();
    const files = [join(dir, "bad.yaml"), join(dir, "warn.yaml")];
    expect(await rulesLint(files, { stdout: out.stream, stderr: err.stream })).toBe(1);
    // problems on stderr, the summary on stdout
    expect(err.text.split("\n")).toEqual([
      `${join(dir, "bad.yaml")}:11:21: unknown rule kind "counte" (known: count, sum, distinct, sequence)`,
      `${join(dir, "warn.yaml")}:8:15: warning: event name "auth.logins" is neither in the spec nor custom.*; only an application's own events could match`,
      "",
    ]);
    expect(out.text).toBe("2 file(s), 1 valid rule(s), 1 error(s), 1 warning(s)\n");
    const quiet = { stdout: capture().stream, stderr: capture().stream };
    expect(await rulesLint([join(dir, "warn.yaml")], quiet)).toBe(0);
    expect(await rulesLint([join(dir, "empty-dir-does-not-exist")], quiet)).toBe(1);
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

describe("rulesTest case folders", () => {
  const events = [0, 1, 2].map((s) => line(s, {}, { batch: 1 })).join("\n") + "\n";
  const addCase = (dir: string, rule: string, name: string) => {
    const c = join(dir, "testdata", rule, name);
    mkdirSync(c, { recursive: true });
    writeFileSync(join(c, "events.jsonl"), events);
    writeFileSync(join(c, "expected.yaml"), "alerts:\n  - group: { client.address: 203.0.113.7 }\n");
  };

  it("fails on a case folder named after no rule, naming it and the closest rule ids", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "rules.yaml"),
      RULE + RULE.replace("rules:\n", "").replace("many_failures", "few_failures"),
    );
    addCase(dir, "many_failures", "fires");
    addCase(dir, "few_failures", "fires");
    addCase(dir, "many_failure", "typo");
    addCase(dir, "many_failure", "typo2");
    const out = capture();
    expect(await rulesTest([dir], { stdout: out.stream, stderr: capture().stream })).toBe(1);
    expect(out.text).toContain(
      `FAIL ${join(dir, "testdata", "many_failure")}: no rule has the id "many_failure" (closest: many_failures); its 2 case(s) were not run\n`,
    );
    expect(out.text).toContain("2 case(s), 2 passed, 0 failed, 1 case folder(s) of no rule\n");
  });

  it("knows the rules of the other files beside testdata when one file is tested", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.yaml"), RULE);
    writeFileSync(join(dir, "b.yaml"), RULE.replace("many_failures", "few_failures"));
    addCase(dir, "many_failures", "fires");
    addCase(dir, "few_failures", "fires");
    const out = capture();
    expect(await rulesTest([join(dir, "a.yaml")], { stdout: out.stream })).toBe(0);
    expect(out.text).toBe("ok   many_failures/fires\n1 case(s), 1 passed, 0 failed\n");
  });

  it("prints rule file errors on stderr", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.yaml"), RULE.replace("kind: count", "kind: counte"));
    const out = capture();
    const err = capture();
    expect(await rulesTest([dir], { stdout: out.stream, stderr: err.stream })).toBe(1);
    expect([out.text, err.text]).toEqual([
      "",
      `${join(dir, "bad.yaml")}:11:21: unknown rule kind "counte" (known: count, sum, distinct, sequence)\n`,
    ]);
  });
});

describe("replay", () => {
  /** Replays `files` with `opts`, keeping what it writes on stdout and stderr. */
  const replayed = async (files: string[], opts: Omit<ReplayOptions, "stdout" | "stderr"> = {}) => {
    const out = capture();
    const err = capture();
    const summary = await replay(files, { stdout: out.stream, stderr: err.stream, ...opts });
    return { summary, out: out.text, err: err.text };
  };

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
    const { summary, out } = await replayed(
      [join(dir, "a.jsonl"), join(dir, "b.jsonl.gz"), join(dir, "otlp.json")],
      { batchSize: 4 },
    );
    expect(summary).toMatchObject({ exitCode: 0, events: 22, ignored: 2, rejected: 0, badLines: 0 });
    const bf = summary.alerts.filter((a) => a.rule === "brute_force");
    expect(bf.map((a) => [a.group["client.address"], a.value, a.first_seen])).toEqual([
      ["203.0.113.7", 12, "2026-11-21T10:00:00.000Z"],
      ["2001:db8::/64", 10, "2026-11-21T10:00:00.000Z"],
    ]);
    expect(bf[0]!.count).toBeGreaterThan(1); // later batches updated the alert instead of creating more
    expect(out).toContain("[high] brute_force: Brute-force sign-in attempts from 203.0.113.7\n");
    expect(out).toContain("  response block_ip 203.0.113.7 until 2026-11-21T11:00:11.000Z\n");
    expect(out).toMatch(
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
    const { summary, out, err } = await replayed([file], {
      json: true,
      rules: { overrides: { brute_force: { threshold: 5 } } },
    });
    expect(summary.exitCode).toBe(1);
    expect(summary.badLines).toBe(3);
    expect(err).toContain(`${file}:6: not a JSON line`);
    expect(err).toContain(`${file}:7: missing required key "time"`);
    expect(err).toContain(
      `${file}:8: an array, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
    );
    const alerts = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Alert);
    expect(alerts.map((a) => [a.rule, a.value, a.threshold])).toEqual([["brute_force", 5, 5]]);
  });

  /** One OTLP/JSON line of failed sign-ins; `times` per record: [timeUnixNano, observedTimeUnixNano]. */
  const otlpRecords = (times: [string | undefined, string | undefined][], address: string) =>
    JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: times.map(([time, observed], i) => ({
                ...(time !== undefined ? { timeUnixNano: time } : {}),
                ...(observed !== undefined ? { observedTimeUnixNano: observed } : {}),
                eventName: "auth.login",
                attributes: [
                  { key: "auth.outcome", value: { stringValue: "failure" } },
                  { key: "client.address", value: { stringValue: address } },
                  { key: "user.hash", value: { stringValue: `${i}`.padStart(32, "0") } },
                ],
              })),
            },
          ],
        },
      ],
    });
  const nanos = (sec: number) => `${Date.parse("2026-11-21T10:00:00Z") + sec * 1000}000000`;

  it("rejects records it cannot place on event time, one message per record, and counts them by reason", async () => {
    const dir = tempDir();
    const file = join(dir, "otlp.jsonl");
    const none: [undefined, undefined] = [undefined, undefined];
    writeFileSync(
      file,
      [
        // three failures with a timestamp (one only observed), three per address without any
        otlpRecords([[nanos(0), undefined], [undefined, nanos(1)], none, none, none], "203.0.113.7"),
        otlpRecords([none, none, none, [nanos(2), nanos(2)]], "203.0.113.8"),
        line(3, {}, { time: "1970-01-01T00:00:00.000Z" }),
        line(4, {}, { time: "+275760-09-13T00:00:00.000Z" }),
      ].join("\n"),
    );
    const { summary, out, err } = await replayed([file], {
      rules: { overrides: { brute_force: { threshold: 3 } } },
    });
    expect(summary).toMatchObject({
      exitCode: 1,
      events: 3,
      rejected: 8,
      rejectedBy: { missing_timestamp: 6, invalid_timestamp: 2 },
      badLines: 0,
    });
    const noTime =
      "auth.login record rejected: it has no timestamp (neither timeUnixNano nor observedTimeUnixNano), and replay places events on event time";
    expect(err.split("\n").filter((l) => l.endsWith(noTime))).toEqual([
      ...Array<string>(3).fill(`${file}:1: ${noTime}`),
      ...Array<string>(3).fill(`${file}:2: ${noTime}`),
    ]);
    expect(err).toContain(
      `${file}:3: auth.login event rejected: time 1970-01-01T00:00:00.000Z is not after 1970-01-01T00:00:00Z and before 2200-01-01T00:00:00.000Z`,
    );
    expect(err).toContain(`${file}:4: auth.login event rejected: time +275760-09-13T00:00:00.000Z`);
    expect(out).toMatch(
      /3 event\(s\) replayed \(0 ignored, 8 rejected: missing_timestamp 6, invalid_timestamp 2; 0 unreadable line\(s\)\) from 1 file\(s\); 0 alert\(s\)\n$/,
    );
  });

  it("names the file and line of everything it cannot read, and replays the rest", async () => {
    const dir = tempDir();
    const file = join(dir, "mixed.jsonl");
    let deep = '{"stringValue":"x"}';
    for (let i = 0; i < 20_000; i++) deep = `{"kvlistValue":{"values":[{"key":"k","value":${deep}}]}}`;
    const deepBody = otlpRecords([[nanos(0), undefined]], "203.0.113.9").replace(
      '"eventName"',
      `"body":${deep},"eventName"`,
    );
    const tooLong = line(0, { "user.name": "x".repeat(2_000_000) });
    const badAttr = otlpRecords([[nanos(0), undefined]], "203.0.113.9").replace(
      '"attributes":[',
      '"attributes":[{"key":"bad","value":{"kvlistValue":{}}},',
    );
    writeFileSync(
      file,
      [line(0, {}), "1", "null", '"text"', "[]", "garbage", deepBody, tooLong, badAttr, "\r", line(1, {})]
        .join("\r\n")
        .concat("\n"),
    );
    const empty = join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    const gz = join(dir, "truncated.jsonl.gz");
    const whole = gzipSync(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => line(s, { "user.name": "u".repeat(500) })).join("\n"),
    );
    writeFileSync(gz, whole.subarray(0, whole.length - 40));
    const { summary, err } = await replayed([file, empty, gz], { maxLineBytes: 1_500_000 });
    expect(err).not.toContain("Internal error");
    const messages = err.trim().split("\n");
    expect(messages.slice(0, 9)).toEqual([
      `${file}:2: a number, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
      `${file}:3: null, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
      `${file}:4: a string, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
      `${file}:5: an array, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
      `${file}:6: not a JSON line`,
      `${file}:7: The request body is not a valid OTLP ExportLogsServiceRequest: body nested deeper than 32 levels`,
      `${file}:8: line longer than 1500000 bytes, skipped`,
      `${file}:9: 1 record(s) rejected; the first: record 0 (auth.login): attribute bad is a kvlist; kvlist values are not accepted`,
      expect.stringMatching(
        new RegExp(
          `^${gz}:\\d+: cannot read further: gzip data is truncated or corrupt \\(unexpected end of file\\)$`,
        ),
      ),
    ]);
    expect(messages).toHaveLength(9);
    expect(summary).toMatchObject({ exitCode: 1, rejected: 1, badLines: 8 });
    // lines 1 and 11 of the mixed file, and the gzip file's lines before the break
    expect(summary.events).toBeGreaterThan(2);
    expect(summary.events).toBeLessThan(12);
  });

  it("exits 2 naming each file it cannot open", async () => {
    const err = capture();
    const dir = tempDir();
    const missing = await replay(["/nonexistent/file.jsonl", dir], {
      stdout: capture().stream,
      stderr: err.stream,
    });
    expect(missing.exitCode).toBe(2);
    expect(err.text).toBe(
      `/nonexistent/file.jsonl: cannot read: no such file\n${dir}: cannot read: is a directory, not a file\n`,
    );
    const badRules = await replay([], {
      stdout: capture().stream,
      stderr: err.stream,
      rules: { overrides: { nope: { enabled: false } } },
    });
    expect(badRules.exitCode).toBe(2);
    expect(err.text).toContain("rules.overrides.nope");
  });
});
