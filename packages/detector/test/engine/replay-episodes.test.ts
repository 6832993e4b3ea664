import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replay } from "../../src/cli/replay.ts";

/**
 * `secmon-detector replay` reads events in batches of 1,000: two attack episodes two hours apart
 * land in one batch, and must give two alerts, as live traffic (two requests) does.
 */
describe("replay of two episodes in one read batch", () => {
  const file = join(mkdtempSync(join(tmpdir(), "secmon-episodes-")), "episodes.jsonl");
  const line = (at: string) =>
    JSON.stringify({
      time: at,
      event_name: "auth.login",
      service: "s",
      attributes: { "auth.outcome": "failure", "client.address": "203.0.113.9", "user.hash": "a".repeat(32) },
    });
  const times = ["10", "12"].flatMap((hour) =>
    Array.from({ length: 10 }, (_, i) => `2026-11-21T${hour}:00:0${i}.000Z`),
  );
  writeFileSync(file, times.map(line).join("\n") + "\n");
  const sink = { write: () => true };

  const alertsOf = async (batchSize?: number) => {
    const summary = await replay([file], {
      json: true,
      stdout: sink,
      stderr: sink,
      ...(batchSize ? { batchSize } : {}),
    });
    expect(summary.exitCode).toBe(0);
    return summary.alerts.map((a) => [a.rule, a.group, a.value, a.count, a.first_seen, a.last_seen]);
  };

  it("gives one brute_force and one account_brute_force alert per episode", async () => {
    const alerts = await alertsOf();
    const group = { "client.address": "203.0.113.9" };
    expect(alerts.filter(([rule]) => rule === "brute_force")).toEqual([
      ["brute_force", group, 10, 1, "2026-11-21T10:00:00.000Z", "2026-11-21T10:00:09.000Z"],
      ["brute_force", group, 10, 1, "2026-11-21T12:00:00.000Z", "2026-11-21T12:00:09.000Z"],
    ]);
    expect(alerts.filter(([rule]) => rule === "account_brute_force")).toHaveLength(2);
  });

  it("gives the same alerts whatever the batch size", async () => {
    // the count of firings an alert took depends on the batches by design; first_seen is exact
    // only when the oldest counted event came in the firing's own batch
    const essentials = async (batchSize?: number) =>
      (await alertsOf(batchSize))
        .map(([rule, group, value, , , lastSeen]) => JSON.stringify([rule, group, value, lastSeen]))
        .sort();
    const whole = await essentials();
    expect(whole).toHaveLength(4);
    expect(await essentials(1)).toEqual(whole);
    expect(await essentials(7)).toEqual(whole);
  });
});
