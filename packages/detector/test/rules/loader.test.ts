import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry } from "../../src/engine/registry.ts";
import { builtinRulesDir } from "../../src/rules/compile.ts";
import { formatDiagnostic } from "../../src/rules/diagnostics.ts";
import { collectRuleFiles, loadRuleFiles, parseRuleText } from "../../src/rules/loader.ts";
import { EXAMPLE_RULE } from "../../src/rules/reference.ts";

const BASE = `rules:
  - id: r1
    description: d
    tags: [stable]
    severity: high
    title: "T {{ client.address }}"
    match:
      events: auth.login
      where:
        auth.outcome: failure
    group_by: [client.address]
    detect:
      kind: count
      window_seconds: 60
      threshold: 3
    responses:
      - action: block_ip
        target: client.address
`;

function lint(text: string): string[] {
  return parseRuleText("t.yaml", text, defaultRegistry()).diagnostics.map(formatDiagnostic);
}

function edit(from: string, to: string): string {
  expect(BASE.includes(from)).toBe(true);
  return BASE.replace(from, to);
}

describe("rule loader and linter", () => {
  it("accepts the base rule, the reference example and the default pack without a word", () => {
    expect(lint(BASE)).toEqual([]);
    expect(lint(EXAMPLE_RULE)).toEqual([]);
    const pack = loadRuleFiles([builtinRulesDir()], defaultRegistry());
    expect(pack.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(pack.rules.map((r) => r.spec.id).sort()).toEqual([
      "account_brute_force",
      "account_takeover",
      "api_scanning",
      "auth_failure_surge",
      "brute_force",
      "credential_stuffing",
      "data_access_surge",
      "data_exfiltration",
      "failed_login_spike",
      "injection_attempts",
      "password_spray",
      "privilege_escalation",
      "security_event_surge",
      "user_activity_surge",
    ]);
  });

  it("keeps the source of each rule and applies the schema defaults", () => {
    const [loaded] = parseRuleText("t.yaml", BASE, defaultRegistry()).rules;
    expect(loaded!.rule.source).toBe("t.yaml:2:9");
    expect(loaded!.rule.spec).toMatchObject({
      enabled: true,
      suppression_seconds: 300,
      confidence: 0.8,
      recommended_actions: [],
      detect: { kind: "count", compare: ">=" },
    });
  });

  it.each([
    [
      "an unknown key",
      edit("    severity: high\n", "    severity: high\n    sevrity: high\n"),
      't.yaml:6:5: unknown key "sevrity"',
    ],
    [
      "an unknown predicate operator",
      edit("auth.outcome: failure", "auth.outcome: { equal: failure }"),
      't.yaml:10:25: unknown key "equal"',
    ],
    [
      "a list where a value belongs",
      edit("auth.outcome: failure", "auth.outcome: [failure, success]"),
      "t.yaml:10:23: must be a string or a number or a boolean",
    ],
    [
      "an empty operator object",
      edit("auth.outcome: failure", "auth.outcome: { not: {} }"),
      "t.yaml:10:30: a predicate needs at least one operator (equals, in, contains, gt, gte, lt, lte, exists, cidr, not)",
    ],
    [
      "an empty in list",
      edit("auth.outcome: failure", "auth.outcome: { in: [] }"),
      "t.yaml:10:29: must not be empty",
    ],
    [
      "an attribute name with a space",
      edit("auth.outcome: failure", "'auth outcome': failure"),
      't.yaml:10:9: key "auth outcome" must be an attribute name such as client.address',
    ],
    [
      "an unknown kind",
      edit("kind: count", "kind: counter"),
      't.yaml:13:13: unknown rule kind "counter" (known: count, sum, distinct, sequence)',
    ],
    [
      "an IPv4 CIDR with too many bits",
      edit("auth.outcome: failure", "client.address: { cidr: [10.0.0.0/33] }"),
      "t.yaml:10:34: must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8)",
    ],
    [
      "an IPv6 CIDR with too many bits",
      edit("auth.outcome: failure", "client.address: { cidr: 2001:db8::/129 }"),
      "t.yaml:10:33: must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8)",
    ],
    [
      "an unknown response action",
      edit("action: block_ip", "action: ban_ip"),
      "t.yaml:17:17: must be one of block_ip, require_captcha, rate_limit, throttle_user, suspend_user, revoke_sessions",
    ],
    [
      "a response target outside group_by",
      edit("target: client.address", "target: user.id"),
      't.yaml:18:17: response target "user.id" is not a group_by attribute (client.address)',
    ],
    [
      "an unknown title placeholder",
      edit("{{ client.address }}", "{{ user.id }}"),
      "t.yaml:6:12: unknown placeholder {{ user.id }}: use a group_by attribute or one of value, threshold, window_seconds, rule",
    ],
    [
      "a malformed title placeholder",
      edit("{{ client.address }}", "{{ client address }}"),
      "t.yaml:6:12: malformed placeholder: use {{ name }} with an attribute name or one of value, threshold, window_seconds, rule",
    ],
    [
      "a missing required key",
      edit("    severity: high\n", ""),
      't.yaml:2:5: missing required key "severity"',
    ],
    [
      "a missing kind setting",
      edit("      threshold: 3\n", ""),
      't.yaml:13:7: missing required key "threshold"',
    ],
    [
      "a setting the kind does not have",
      edit("      threshold: 3\n", "      threshold: 3\n      field: user.hash\n"),
      't.yaml:16:7: unknown key "field"',
    ],
    [
      "an unknown comparison",
      edit("      threshold: 3\n", '      threshold: 3\n      compare: "=>"\n'),
      "t.yaml:16:16: must be one of >=, >",
    ],
    ["a zero window", edit("window_seconds: 60", "window_seconds: 0"), "t.yaml:14:23: must be >= 1"],
    [
      "a window that is text",
      edit("window_seconds: 60", "window_seconds: sixty"),
      "t.yaml:14:23: must be a number, not string",
    ],
    [
      "tags without the maturity first",
      edit("tags: [stable]", "tags: [auth]"),
      "t.yaml:4:11: the first tag must be the maturity: stable, incubating, sandbox, deprecated",
    ],
    [
      "an attribute grouped twice",
      edit("group_by: [client.address]", "group_by: [client.address, client.address]"),
      "t.yaml:11:15: group_by lists an attribute twice",
    ],
    [
      "an id that is not snake_case",
      edit("id: r1", "id: R-1"),
      "t.yaml:2:9: must be snake_case: lowercase letters, digits and _",
    ],
    [
      "an excepted name that is not a security event",
      edit("events: auth.login", "events: { security_events_except: [api.requests] }"),
      't.yaml:8:42: "api.requests" is not a security event name',
    ],
    [
      "a duplicate YAML key",
      edit("    severity: high\n", "    severity: high\n    severity: low\n"),
      "t.yaml:6:5: Map keys must be unique",
    ],
    [
      "a YAML syntax error",
      edit('T {{ client.address }}"', "T {{ client.address }}"),
      't.yaml:19:1: Missing closing "quote',
    ],
    ["a wrong top-level key", edit("rules:\n", "rule:\n"), 't.yaml:1:1: unknown key "rule"'],
  ])("reports %s with its position", (_name, text, expected) => {
    const out = lint(text);
    expect(
      out.some((line) => line.startsWith(expected)),
      out.join("\n"),
    ).toBe(true);
    expect(out.every((line) => /^t\.yaml:\d+:\d+: /.test(line))).toBe(true);
  });

  it("warns about event names that are neither in the spec nor custom.*", () => {
    expect(lint(edit("events: auth.login", "events: auth.logins"))).toEqual([
      't.yaml:8:15: warning: event name "auth.logins" is neither in the spec nor custom.*; only an application\'s own events could match',
    ]);
    expect(lint(edit("events: auth.login", "events: [custom.checkout_abuse, auth.login]"))).toEqual([]);
  });

  it("says what a file that is not a rule file is", () => {
    expect(lint("")).toEqual(["t.yaml:1:1: a rule file is a mapping with a `rules` list"]);
    expect(lint("- a\n")).toEqual(["t.yaml:1:1: a rule file is a mapping with a `rules` list"]);
    expect(lint("rules: 3\n")).toEqual(["t.yaml:1:8: must be a list, not number"]);
  });

  it("reports every bad rule of a file and keeps the good ones", () => {
    const text =
      BASE + BASE.replace("rules:\n", "").replace("id: r1", "id: r2").replace("kind: count", "kind: nope");
    const r = parseRuleText("t.yaml", text, defaultRegistry());
    expect(r.rules.map((x) => x.rule.spec.id)).toEqual(["r1"]);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      't.yaml:30:13: unknown rule kind "nope" (known: count, sum, distinct, sequence)',
    ]);
  });

  it("finds rule files in directories (skipping testdata), rejects duplicate ids across files and unreadable paths", () => {
    const dir = mkdtempSync(join(tmpdir(), "secmon-rules-"));
    mkdirSync(join(dir, "testdata", "r1"), { recursive: true });
    mkdirSync(join(dir, "more"));
    writeFileSync(join(dir, "a.yaml"), BASE);
    writeFileSync(join(dir, "more", "b.yml"), BASE);
    writeFileSync(join(dir, "testdata", "r1", "x.yaml"), "not: a rule file\n");
    writeFileSync(join(dir, "notes.txt"), "ignored");
    expect(collectRuleFiles([dir]).map((f) => f.slice(dir.length + 1))).toEqual(["a.yaml", "more/b.yml"]);
    const result = loadRuleFiles([dir, join(dir, "missing.yaml")], defaultRegistry(), { displayRoot: dir });
    expect(result.rules.map((r) => r.spec.id)).toEqual(["r1"]);
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([
      'more/b.yml:2:9: duplicate rule id "r1" (first defined at a.yaml:2:9)',
      expect.stringMatching(/^missing\.yaml:0:0: cannot read rule file: ENOENT/),
    ]);
  });
});
