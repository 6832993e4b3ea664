import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SecmonError } from "../../src/errors.ts";
import { builtinRulesDir, loadRules, rulePaths } from "../../src/rules/compile.ts";
import { rulesSectionSchema } from "../../src/rules/config.ts";
import { parseTemplate } from "../../src/rules/template.ts";

const byId = (rules: ReturnType<typeof loadRules>, id: string) => rules.find((r) => r.id === id)!;

function catchError(fn: () => unknown): SecmonError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecmonError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("rules config section", () => {
  it("has defaults for everything and rejects unknown keys", () => {
    expect(rulesSectionSchema.parse(undefined)).toEqual({
      builtin: true,
      paths: [],
      overrides: {},
      ipv6_group_prefix: 64,
      allowed_lateness_seconds: 60,
      max_clock_skew_seconds: 300,
      max_groups_per_rule: 50_000,
      max_distinct_per_group: 1000,
    });
    expect(rulesSectionSchema.safeParse({ builtins: false }).success).toBe(false);
    expect(rulesSectionSchema.safeParse({ overrides: { brute_force: { treshold: 3 } } }).success).toBe(false);
    expect(rulesSectionSchema.safeParse({ ipv6_group_prefix: 129 }).success).toBe(false);
  });

  it("names the default pack and extra paths", () => {
    expect(rulePaths({ builtin: true, paths: ["/etc/secmon/rules"] })).toEqual([
      builtinRulesDir(),
      "/etc/secmon/rules",
    ]);
    expect(rulePaths({ builtin: false, paths: [] })).toEqual([]);
  });
});

describe("loadRules and overrides", () => {
  it("compiles the default pack", () => {
    const rules = loadRules();
    expect(rules).toHaveLength(14);
    expect(rules.every((r) => r.enabled)).toBe(true);
    expect(byId(rules, "security_event_surge").inputs[0]!.events).not.toContain("api.request");
    expect(byId(rules, "account_takeover").inputs.map((i) => i.eventsText)).toEqual([
      "auth.login",
      "auth.login",
    ]);
  });

  it("applies overrides per rule", () => {
    const rules = loadRules({
      overrides: {
        brute_force: {
          threshold: 20,
          window_seconds: 600,
          severity: "critical",
          suppression_seconds: 60,
          responses: [{ action: "rate_limit", target: "client.address" }],
        },
        credential_stuffing: { enabled: false },
        account_takeover: { threshold: 3 },
        api_scanning: { responses: [] },
      },
    });
    const bf = byId(rules, "brute_force");
    expect(bf).toMatchObject({ severity: "critical", suppressionSeconds: 60 });
    expect(bf.summary).toMatchObject({ threshold: 20, windowSeconds: 600, text: "count >= 20 in 600 s" });
    expect(bf.responses).toEqual([{ action: "rate_limit", target: "client.address" }]);
    expect(byId(rules, "credential_stuffing").enabled).toBe(false);
    expect(byId(rules, "account_takeover").summary.threshold).toBe(3);
    expect(byId(rules, "api_scanning").responses).toEqual([]);
  });

  it("rejects an override of an unknown rule id", () => {
    const err = catchError(() => loadRules({ overrides: { brute_forse: { enabled: false } } }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain('rules.overrides.brute_forse: no loaded rule has the id "brute_forse"');
  });

  it("rejects an override whose responses target no group attribute", () => {
    const err = catchError(() =>
      loadRules({
        overrides: { brute_force: { responses: [{ action: "suspend_user", target: "user.id" }] } },
      }),
    );
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain(
      'rules.overrides.brute_force.responses.0.target: response target "user.id" is not a group_by attribute',
    );
  });

  it("fails with RULE_INVALID listing file:line:col for a broken rule file", () => {
    const dir = mkdtempSync(join(tmpdir(), "secmon-bad-"));
    writeFileSync(join(dir, "bad.yaml"), "rules:\n  - id: x\n    descripton: typo\n");
    const err = catchError(() => loadRules({ builtin: false, paths: [dir] }, { displayRoot: dir }));
    expect(err.code).toBe("RULE_INVALID");
    expect(err.message).toContain('bad.yaml:3:5: unknown key "descripton"');
  });

  it("loads extra rule files next to the default pack, with the config's IPv6 prefix", () => {
    const dir = mkdtempSync(join(tmpdir(), "secmon-extra-"));
    writeFileSync(
      join(dir, "custom.yaml"),
      `rules:
  - id: checkout_abuse
    description: Many checkout failures from one network.
    tags: [sandbox, custom]
    severity: low
    title: "Checkout abuse from {{ client.address }} ({{ value }} in {{ window_seconds }} s)"
    match:
      events: custom.checkout_failed
    group_by: [client.address]
    detect: { kind: count, window_seconds: 60, threshold: 5 }
`,
    );
    const rules = loadRules({ paths: [dir], ipv6_group_prefix: 48 });
    const custom = byId(rules, "checkout_abuse");
    expect(rules).toHaveLength(15);
    expect(
      custom.group.key({
        name: "custom.checkout_failed",
        time: 0,
        service: "s",
        attributes: { "client.address": "2001:db8:1:2::1" },
        resource: {},
      }),
    ).toBe("checkout_abuse|2001:db8:1::/48");
  });
});

describe("title templates", () => {
  it("inserts names as text and evaluates nothing", () => {
    const { template, problems } = parseTemplate(
      "From {{ client.address }}: {{value}} of {{ threshold }} {{ missing }}",
    );
    expect(problems).toEqual([]);
    expect(template.names).toEqual(["client.address", "value", "threshold", "missing"]);
    expect(template.render({ "client.address": "{{ value }}", value: 12.3456, threshold: 10 })).toBe(
      "From {{ value }}: 12.346 of 10 ",
    );
  });

  it("reports stray braces", () => {
    expect(parseTemplate("a {{ b").problems).toHaveLength(1);
    expect(parseTemplate("a }} b").problems).toHaveLength(1);
    expect(parseTemplate("${process.exit()}").problems).toEqual([]);
  });
});
