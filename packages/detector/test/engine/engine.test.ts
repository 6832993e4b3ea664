import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import { SecmonError } from "../../src/errors.ts";
import { loadRules } from "../../src/rules/compile.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import type { WindowStore } from "../../src/state/types.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { compileYaml, event, failure, T0 } from "./helpers.ts";

const pack = loadRules({});
const rule = (id: string) => pack.filter((r) => r.id === id);
const at = (sec: number) => T0 + sec * 1000;
const ctx = (batchId: string, sec: number) => ({ batchId, receivedAt: at(sec) });

describe("Engine firings", () => {
  it("carries everything an alert needs", async () => {
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    const events = Array.from({ length: 12 }, (_, i) =>
      failure(
        i,
        { "user.hash": `h${i % 3}`, ...(i === 11 ? { "user.name": "alice@example.com" } : {}) },
        {
          service: i % 2 ? "checkout" : "accounts",
          traceId: `${(i % 4).toString(16).padStart(32, "0")}`,
          spanId: "00f067aa0ba902b7",
        },
      ),
    );
    const [f, ...rest] = await engine.evaluate(events, ctx("b1", 20));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      rule: "brute_force",
      severity: "high",
      title: "Brute-force sign-in attempts from 203.0.113.7",
      group: { "client.address": "203.0.113.7" },
      groupKey: "brute_force|203.0.113.7",
      value: 12,
      threshold: 10,
      windowSeconds: 300,
      firstSeen: at(0),
      lastSeen: at(11),
      indicators: [{ type: "ip", value: "203.0.113.7", confidence: 0.8 }],
      responses: [
        { action: "block_ip", target: "203.0.113.7", until: new Date(at(11) + 3600_000).toISOString() },
      ],
      suppressionSeconds: 300,
      receivedAt: at(20),
    });
    expect(f!.recommendedActions.length).toBeGreaterThan(0);
    expect([...f!.services].sort()).toEqual(["accounts", "checkout"]);
    expect(f!.traceIds).toHaveLength(4);
    // the ten most recent matching events, oldest first, as received (user.name only where it was sent)
    expect(f!.sampleEvents).toHaveLength(10);
    expect(f!.sampleEvents.map((s) => s.time)).toEqual(
      Array.from({ length: 10 }, (_, i) => new Date(at(i + 2)).toISOString()),
    );
    expect(f!.sampleEvents[9]).toMatchObject({
      event_name: "auth.login",
      service: "checkout",
      attributes: { "user.name": "alice@example.com" },
      trace_id: "00000000000000000000000000000003",
      span_id: "00f067aa0ba902b7",
    });
    expect(f!.sampleEvents.slice(0, 9).every((s) => !("user.name" in s.attributes))).toBe(true);
  });

  it("fires at most once per (rule, group) per batch, one firing per group", async () => {
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    const events = [
      ...Array.from({ length: 30 }, (_, i) => failure(i * 0.1)),
      ...Array.from({ length: 10 }, (_, i) => failure(i * 0.1, { "client.address": "198.51.100.1" })),
      ...Array.from({ length: 9 }, (_, i) => failure(i * 0.1, { "client.address": "198.51.100.2" })),
    ];
    const firings = await engine.evaluate(events, ctx("b", 5));
    expect(firings.map((f) => [f.group["client.address"], f.value])).toEqual([
      ["203.0.113.7", 30],
      ["198.51.100.1", 10],
    ]);
  });

  it("indexes rules by event name: only matching rules count an event", async () => {
    const engine = new Engine({ rules: pack, store: new MemoryWindowStore() });
    const events = Array.from({ length: 60 }, (_, i) =>
      event(i * 0.5, "api.request", { "client.address": "203.0.113.9", "http.response.status_code": 404 }),
    );
    const firings = await engine.evaluate(events, ctx("b", 40));
    expect(firings.map((f) => f.rule)).toEqual(["api_scanning"]);
  });

  it("fires a sequence on the trigger, with the preceding events' window", async () => {
    const engine = new Engine({ rules: rule("account_takeover"), store: new MemoryWindowStore() });
    const hash = { "user.hash": "0123456789abcdef0123456789abcdef" };
    const failures = Array.from({ length: 5 }, (_, i) => failure(i, hash));
    expect(await engine.evaluate(failures, ctx("1", 5))).toEqual([]);
    const success = event(30, "auth.login", {
      "auth.outcome": "success",
      "client.address": "198.51.100.3",
      ...hash,
    });
    const [f] = await engine.evaluate([success], ctx("2", 31));
    expect(f).toMatchObject({
      rule: "account_takeover",
      severity: "critical",
      value: 5,
      threshold: 5,
      firstSeen: at(0),
      lastSeen: at(30),
      indicators: [{ type: "user_hash", value: hash["user.hash"] }],
      responses: [{ action: "revoke_sessions", target: hash["user.hash"] }],
      title: `Possible account takeover of ${hash["user.hash"]} after 5 failed sign-ins`,
    });
    expect(f!.sampleEvents.map((s) => s.attributes["auth.outcome"])).toEqual(["success"]);
  });

  it("sums numeric attributes, numeric strings included", async () => {
    const engine = new Engine({ rules: rule("data_exfiltration"), store: new MemoryWindowStore() });
    const events = [
      event(0, "api.request", { "user.id": "u1", "http.response.body.size": 600_000 }),
      event(1, "api.request", { "user.id": "u1", "http.response.body.size": "400000" }),
      event(2, "api.request", { "user.id": "u1", "http.response.body.size": "lots" }),
      event(3, "api.request", { "user.id": "u1" }),
    ];
    const [f] = await engine.evaluate(events, ctx("b", 4));
    expect(f).toMatchObject({
      value: 1_000_000,
      lastSeen: at(1),
      indicators: [{ type: "user", value: "u1" }],
    });
  });

  it("groups IPv6 clients by their network and shows it as an indicator of type network", async () => {
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    const events = Array.from({ length: 10 }, (_, i) =>
      failure(i, { "client.address": `2001:db8:a:b::${i + 1}` }),
    );
    const [f] = await engine.evaluate(events, ctx("b", 10));
    expect(f).toMatchObject({
      group: { "client.address": "2001:db8:a:b::/64" },
      indicators: [{ type: "network", value: "2001:db8:a:b::/64" }],
      responses: [{ target: "2001:db8:a:b::/64" }],
    });
  });

  it("counts only security events for security_events_except rules", async () => {
    const engine = new Engine({ rules: rule("user_activity_surge"), store: new MemoryWindowStore() });
    const events = Array.from({ length: 25 }, (_, i) =>
      event(i, i % 2 ? "custom.audit" : "api.request", { "user.id": "u7" }),
    );
    expect(await engine.evaluate(events, ctx("b", 30))).toEqual([]);
  });

  it("skips disabled rules", async () => {
    const rules = loadRules({ overrides: { brute_force: { enabled: false } } }).filter(
      (r) => r.id === "brute_force",
    );
    expect(rules[0]!.enabled).toBe(false);
    const engine = new Engine({ rules, store: new MemoryWindowStore() });
    expect(engine.rules).toEqual([]);
    expect(
      await engine.evaluate(
        Array.from({ length: 20 }, (_, i) => failure(i)),
        ctx("b", 20),
      ),
    ).toEqual([]);
  });

  it("rejects two rules with one id", () => {
    expect(
      () =>
        new Engine({
          rules: [...rule("brute_force"), ...rule("brute_force")],
          store: new MemoryWindowStore(),
        }),
    ).toThrow(SecmonError);
  });

  it("describes its rules", () => {
    const engine = new Engine({ rules: pack, store: new MemoryWindowStore() });
    const d = engine.describe().find((r) => r.id === "credential_stuffing");
    expect(d).toMatchObject({
      kind: "distinct",
      severity: "high",
      groupBy: ["client.address"],
      detection: "distinct user.hash >= 5 in 600 s",
      windowSeconds: 600,
      threshold: 5,
      compare: ">=",
      inputs: [{ events: "auth.login", where: 'auth.outcome = "failure"' }],
    });
    expect(d!.source).toMatch(/authentication\.yaml:\d+:\d+$/);
  });
});

describe("Engine windows and skips", () => {
  it("counts events missing a group attribute as skipped, never under an empty group", async () => {
    const { metrics, points } = testMetrics();
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore(), metrics });
    const events = [
      ...Array.from({ length: 9 }, (_, i) => failure(i)),
      failure(10, { "client.address": "" }),
      event(11, "auth.login", { "auth.outcome": "failure" }),
    ];
    expect(await engine.evaluate(events, ctx("b", 12))).toEqual([]);
    const skipped = await points("secmon_rule_skipped_events");
    expect(skipped.map((p) => [p.attributes, p.value])).toEqual([
      [{ rule: "brute_force", reason: "missing_group" }, 2],
    ]);
    const evaluation = await points("secmon_rule_evaluation_seconds");
    expect(evaluation).toHaveLength(1);
  });

  it("skips events later than the allowed lateness and counts them (reason late)", async () => {
    const { metrics, points } = testMetrics();
    const rules = loadRules({ allowed_lateness_seconds: 30 }).filter((r) => r.id === "brute_force");
    const engine = new Engine({ rules, store: new MemoryWindowStore(), metrics });
    await engine.evaluate(
      Array.from({ length: 8 }, (_, i) => failure(100 + i)),
      ctx("1", 110),
    );
    // 20 s behind the newest (107): counted; 50 s behind: late
    const firings = await engine.evaluate([failure(87), failure(57)], ctx("2", 111));
    expect(firings).toEqual([]);
    const skipped = await points("secmon_rule_skipped_events");
    expect(skipped.map((p) => [p.attributes, p.value])).toEqual([
      [{ rule: "brute_force", reason: "late" }, 1],
    ]);
    const [f] = await engine.evaluate([failure(108)], ctx("3", 112));
    // the oldest counted event (87 s) came in an earlier batch: first_seen is its bucket's start
    expect(f).toMatchObject({ value: 10, firstSeen: at(85), lastSeen: at(108) });
  });

  it("lets an event leave the window between W and W + one bucket", async () => {
    // brute_force: 300 s window, 5 s buckets
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    await engine.evaluate(
      Array.from({ length: 9 }, () => failure(0)),
      ctx("1", 1),
    );
    expect(await engine.evaluate([failure(299)], ctx("2", 300))).toHaveLength(1);
    const engine2 = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    await engine2.evaluate(
      Array.from({ length: 9 }, () => failure(0)),
      ctx("1", 1),
    );
    expect(await engine2.evaluate([failure(305)], ctx("2", 306))).toEqual([]);
  });

  it("supports both >= and >", async () => {
    const yaml = (compare: string) => `rules:
  - id: r
    description: d
    tags: [sandbox]
    severity: low
    title: t
    match: { events: auth.login }
    group_by: [client.address]
    detect: { kind: count, window_seconds: 60, compare: "${compare}", threshold: 3 }
`;
    const run = async (compare: string, n: number) => {
      const engine = new Engine({ rules: compileYaml(yaml(compare)), store: new MemoryWindowStore() });
      return (
        await engine.evaluate(
          Array.from({ length: n }, (_, i) => failure(i)),
          ctx("b", 10),
        )
      ).length;
    };
    expect([await run(">=", 2), await run(">=", 3), await run(">", 3), await run(">", 4)]).toEqual([
      0, 1, 0, 1,
    ]);
  });

  it("takes event times far ahead of the detector's clock as the clock", async () => {
    const engine = new Engine({
      rules: rule("brute_force"),
      store: new MemoryWindowStore(),
      maxClockSkewSeconds: 60,
    });
    const events = [...Array.from({ length: 9 }, (_, i) => failure(i)), failure(100_000)];
    const [f] = await engine.evaluate(events, ctx("b", 10));
    expect(f).toMatchObject({ value: 10, lastSeen: at(10) });
  });

  it("does not count a retried batch twice", async () => {
    const engine = new Engine({ rules: rule("brute_force"), store: new MemoryWindowStore() });
    const events = Array.from({ length: 10 }, (_, i) => failure(i));
    const first = await engine.evaluate(events, ctx("same", 10));
    const retry = await engine.evaluate(events, ctx("same", 11));
    expect(retry.map((f) => f.value)).toEqual(first.map((f) => f.value));
    const [next] = await engine.evaluate([failure(12)], ctx("next", 12));
    expect(next!.value).toBe(11);
  });

  it("surfaces a store failure as STORE_UNAVAILABLE (retryable)", async () => {
    const broken: WindowStore = {
      start: async () => {},
      stop: async () => {},
      apply: async () => {
        throw new Error("connection refused");
      },
    };
    const engine = new Engine({ rules: rule("brute_force"), store: broken });
    const err = await engine.evaluate([failure(0)], ctx("b", 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecmonError);
    expect(err).toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true });
    // no state op, no store call
    await expect(engine.evaluate([event(0, "auth.logout", {})], ctx("c", 1))).resolves.toEqual([]);
  });

  it("keeps enough distinct members for a threshold above the configured cap", async () => {
    const rules = loadRules({
      max_distinct_per_group: 10,
      overrides: { credential_stuffing: { threshold: 50 } },
    });
    const engine = new Engine({
      rules: rules.filter((r) => r.id === "credential_stuffing"),
      store: new MemoryWindowStore(),
    });
    const events = Array.from({ length: 200 }, (_, i) => failure(i * 0.1, { "user.hash": `u${i}` }));
    const [f] = await engine.evaluate(events, ctx("b", 30));
    expect(f!.value).toBeGreaterThanOrEqual(91); // cap 2 × 51 = 102, then a tenth forgotten at a time
  });

  it("stays bounded when a spray of distinct addresses goes through the whole pack", async () => {
    const store = new MemoryWindowStore({ maxGroupsPerRule: 1000 });
    const engine = new Engine({ rules: pack, store });
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 1000 }, (_, i) => {
        const n = b * 1000 + i;
        return failure(b, {
          "client.address": `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
          "user.hash": `${n}`,
        });
      });
      await engine.evaluate(events, ctx(`spray:${b}`, b));
    }
    expect(store.groupCount("brute_force")).toBe(1000);
    expect(store.groupCount("password_spray")).toBe(1000);
    expect(store.groupCount("account_brute_force")).toBe(1000);
  });
});
