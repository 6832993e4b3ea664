import { describe, expect, it } from "vitest";
import { AlertManager } from "../../src/alerts/manager.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import type { AlertStore } from "../../src/alerts/store.ts";
import type { AlertChange } from "../../src/alerts/types.ts";
import { SecmonError } from "../../src/errors.ts";
import { T0, firing, manualClock } from "./fixtures.ts";
import { testMetrics } from "./metrics.ts";

describe("AlertManager.handle", () => {
  it("creates then updates, and records alert metrics and latencies", async () => {
    const clock = manualClock(T0 + 101_000);
    const { metrics, points } = testMetrics();
    const manager = new AlertManager({ store: new MemoryAlertStore(), clock: clock.now, metrics });
    const [created] = await manager.handle([firing()]);
    expect(created?.type).toBe("alert.created");
    expect(created?.firing?.rule).toBe("brute_force");
    clock.advance(1000);
    const [updated] = await manager.handle([firing({ lastSeen: T0 + 101_500, value: 11 })]);
    expect(updated).toMatchObject({ type: "alert.updated", alert: { id: created?.alert.id, count: 2 } });

    const counts = await points("secmon_alerts");
    expect(counts.map((p) => [p.attributes["outcome"], p.value])).toEqual([
      ["created", 1],
      ["updated", 1],
    ]);
    const detection = await points("secmon_detection_latency_seconds");
    expect(detection[0]?.value).toMatchObject({ count: 1, sum: 1 }); // 101 s − 100 s
    const latency = await points("secmon_alert_latency_seconds");
    expect(latency[0]?.value).toMatchObject({ count: 1, sum: 0.95 });
  });

  it("gives a retried batch's change again without counting it again", async () => {
    const clock = manualClock(T0 + 101_000);
    const { metrics, points } = testMetrics();
    const delivered: AlertChange[][] = [];
    const manager = new AlertManager({
      store: new MemoryAlertStore(),
      clock: clock.now,
      metrics,
      deliver: async (changes) => void delivered.push([...changes]),
    });
    const [first] = await manager.handle([firing({ batchId: "b1" })]);
    const [again] = await manager.handle([firing({ batchId: "b1" })]);
    expect(again).toMatchObject({ type: "alert.created", alert: first!.alert });
    expect(delivered).toHaveLength(2);
    const counts = await points("secmon_alerts");
    expect(counts.map((p) => [p.attributes["outcome"], p.value])).toEqual([["created", 1]]);
    expect((await points("secmon_alert_latency_seconds"))[0]?.value).toMatchObject({ count: 1 });
  });

  it("emits no change when a closed alert absorbs a firing", async () => {
    const clock = manualClock();
    const seen: AlertChange[] = [];
    const manager = new AlertManager({
      store: new MemoryAlertStore(),
      clock: clock.now,
      onChanges: (c) => seen.push(...c),
    });
    const [created] = await manager.handle([firing()]);
    await manager.update(created?.alert.id as string, { status: "false_positive" }, "ana");
    expect(await manager.handle([firing({ lastSeen: T0 + 150_000 })])).toEqual([]);
    expect(seen.map((c) => c.type)).toEqual(["alert.created", "alert.status_changed"]);
  });

  it("update: status_changed vs updated, and passes errors through", async () => {
    const manager = new AlertManager({ store: new MemoryAlertStore(), clock: manualClock().now });
    const [created] = await manager.handle([firing()]);
    const id = created?.alert.id as string;
    expect((await manager.update(id, { assignee: "ana" }, "ana")).type).toBe("alert.updated");
    const change = await manager.update(id, { status: "resolved", resolution: { note: "ok" } }, "ana");
    expect(change.type).toBe("alert.status_changed");
    expect(change.alert.resolution?.note).toBe("ok");
    await expect(manager.update("alt_nope", { status: "resolved" }, "ana")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("a store failure rejects with a retryable error, counts it, and still emits earlier changes", async () => {
    const inner = new MemoryAlertStore();
    let calls = 0;
    const failing: AlertStore = {
      ...bind(inner),
      record: async (f, now) => {
        if (++calls === 2) throw new SecmonError("STORE_UNAVAILABLE", "redis down");
        return inner.record(f, now);
      },
    };
    const { metrics, points } = testMetrics();
    const seen: AlertChange[] = [];
    const manager = new AlertManager({ store: failing, metrics, onChanges: (c) => seen.push(...c) });
    await expect(manager.handle([firing(), firing({ rule: "other" })])).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
      retryable: true,
    });
    expect(seen).toHaveLength(1);
    const errors = await points("secmon_store_errors");
    expect(errors[0]?.attributes).toEqual({ store: "alerts", operation: "record" });
  });

  it("observes open alerts by severity and follows the lifecycle contract", async () => {
    const { metrics, points } = testMetrics();
    const store = new MemoryAlertStore({ retentionSeconds: 3600 });
    const clock = manualClock();
    const manager = new AlertManager({ store, metrics, clock: clock.now, purgeIntervalSeconds: 3600 });
    await manager.stop(); // safe before start
    await manager.start();
    await manager.start(); // idempotent
    await manager.handle([firing({ severity: "critical" })]);
    const open = await points("secmon_alerts_open");
    expect(open.find((p) => p.attributes["severity"] === "critical")?.value).toBe(1);
    const [c] = await manager.handle([firing({ rule: "r2" })]);
    await manager.update(c?.alert.id as string, { status: "resolved" }, "a");
    clock.advance(3_601_000);
    expect(await manager.purge()).toBe(1);
    await manager.stop();
    await manager.stop();
  });
});

function bind(store: MemoryAlertStore): AlertStore {
  return {
    record: (f, n) => store.record(f, n),
    get: (id) => store.get(id),
    list: (q) => store.list(q),
    update: (id, p, a, n) => store.update(id, p, a, n),
    countOpen: () => store.countOpen(),
    purge: (n) => store.purge(n),
    ping: () => store.ping(),
  };
}
