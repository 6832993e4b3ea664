import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { loadRules } from "../../src/rules/compile.ts";
import type { RulesConfig } from "../../src/rules/config.ts";
import { MemoryWindowStore } from "../../src/state/memory/store.ts";
import type { WindowStore } from "../../src/state/types.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { describeBatching } from "./batching-suite.ts";
import { event, failure, T0 } from "./helpers.ts";

describeBatching("memory", { windowStore: () => new MemoryWindowStore() });

const at = (sec: number) => T0 + sec * 1000;

/** A memory window store that notes the batch id and the event times of every apply. */
function spyStore(): { store: WindowStore; applies: { batchId: string; times: number[] }[] } {
  const inner = new MemoryWindowStore();
  const applies: { batchId: string; times: number[] }[] = [];
  return {
    applies,
    store: {
      start: () => inner.start(),
      stop: () => inner.stop(),
      apply: (ops, opts) => {
        applies.push({
          batchId: opts.batchId,
          times: [...new Set(ops.flatMap((o) => o.times))].sort((a, b) => a - b),
        });
        return inner.apply(ops, opts);
      },
    },
  };
}

function engineOn(config: Partial<RulesConfig>, ids: string[]) {
  const spy = spyStore();
  const metrics = testMetrics();
  const rules = loadRules(config).filter((r) => ids.includes(r.id));
  return { ...spy, ...metrics, engine: new Engine({ rules, store: spy.store, metrics: metrics.metrics }) };
}

const ip = (sec: number, address: string) => failure(sec, { "client.address": address });

describe("Engine parts of a batch", () => {
  it("evaluates a batch spanning less than the smallest suppression period in one pass, as sent", async () => {
    const { engine, applies } = engineOn({}, ["brute_force"]);
    const events = [ip(299.9, "203.0.113.1"), ip(0, "203.0.113.2"), ip(150, "203.0.113.1")];
    await engine.evaluate(events, { batchId: "b", receivedAt: at(300) });
    expect(applies).toEqual([{ batchId: "b", times: [at(0), at(150), at(299.9)] }]);
  });

  it("cuts a wider batch by event time into parts spanning less than it, one apply each, in time order", async () => {
    const { engine, applies } = engineOn({}, ["brute_force"]);
    // 300 s apart is not less than 300 s: another part
    const events = [0, 7200, 100, 300, 299.999, 900, 600].map((sec) => ip(sec, "203.0.113.1"));
    await engine.evaluate(events, { batchId: "b", receivedAt: at(7200) });
    expect(applies).toEqual([
      { batchId: "b#0", times: [at(0), at(100), at(299.999)] },
      { batchId: "b#1", times: [at(300)] },
      { batchId: "b#2", times: [at(600)] },
      { batchId: "b#3", times: [at(900)] },
      { batchId: "b#4", times: [at(7200)] },
    ]);
  });

  it("takes the smallest suppression period of the enabled rules, at least one second", async () => {
    const events = [0, 30, 59, 61, 100].map((sec) => ip(sec, "203.0.113.1"));
    const parts = async (config: Partial<RulesConfig>) => {
      const { engine, applies } = engineOn(config, ["brute_force", "credential_stuffing"]);
      await engine.evaluate(events, { batchId: "b", receivedAt: at(100) });
      return applies.map((a) => a.batchId);
    };
    expect(await parts({})).toEqual(["b"]);
    expect(await parts({ overrides: { credential_stuffing: { suppression_seconds: 60 } } })).toEqual([
      "b#0",
      "b#1",
    ]);
    // a disabled rule does not count
    expect(
      await parts({ overrides: { credential_stuffing: { suppression_seconds: 60, enabled: false } } }),
    ).toEqual(["b"]);
    expect(await parts({ overrides: { brute_force: { suppression_seconds: 0 } } })).toEqual(
      events.map((_, i) => `b#${i}`),
    );
  });

  it("fires once per part: a burst spread over more than the suppression period fires in each part", async () => {
    const { engine } = engineOn({}, ["brute_force"]);
    const events = Array.from({ length: 40 }, (_, i) => ip(i * 10, "203.0.113.1"));
    const firings = await engine.evaluate(events, { batchId: "b", receivedAt: at(400) });
    // parts [0, 290] and [300, 390]; the window (300 s) then holds the last 30 or 31 events
    expect(firings.map((f) => [f.batchId, f.value, f.lastSeen])).toEqual([
      ["b#0", 30, at(290)],
      ["b#1", 31, at(390)],
    ]);
  });

  it("counts skipped events of every part and one evaluation per batch", async () => {
    const { engine, points } = engineOn({ allowed_lateness_seconds: 30 }, ["brute_force"]);
    const events: SecurityEvent[] = [
      event(0, "auth.login", { "auth.outcome": "failure" }),
      ip(1, ""),
      ip(1000, "203.0.113.1"),
      event(1001, "auth.login", { "auth.outcome": "failure" }),
    ];
    await engine.evaluate(events, { batchId: "b", receivedAt: at(1001) });
    // late: 900 s is behind the group's newest event (1000 s) by more than 30 s
    await engine.evaluate([ip(1500, "203.0.113.1"), ip(900, "203.0.113.1"), ip(2000, "203.0.113.1")], {
      batchId: "c",
      receivedAt: at(2000),
    });
    const skipped = await points("secmon_rule_skipped_events");
    expect(skipped.map((p) => [p.attributes, p.value])).toEqual([
      [{ rule: "brute_force", reason: "missing_group" }, 3],
      [{ rule: "brute_force", reason: "late" }, 1],
    ]);
    const evaluations = await points("secmon_rule_evaluation_seconds");
    expect(evaluations.map((p) => (p.value as { count: number }).count)).toEqual([2]);
  });
});
