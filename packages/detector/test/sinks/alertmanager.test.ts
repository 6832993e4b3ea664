import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertFromFiring, applyPatch } from "../../src/alerts/build.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import type { AlertChange } from "../../src/alerts/types.ts";
import { alertmanagerAlert, labelName } from "../../src/sinks/alertmanager.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { firing } from "../alerts/fixtures.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { startAlertmanager, type Alertmanager } from "./peers.ts";

const API = "https://secmon.example.com";
let am: Alertmanager;
beforeAll(async () => {
  am = await startAlertmanager();
}, 30_000);
afterAll(async () => {
  await am?.stop();
});

/** Alertmanager compares times with its own clock: these alerts live on the real one. */
function realChange(rule: string, address: string): AlertChange {
  const now = Date.now();
  const f = firing({
    rule,
    severity: "high",
    lastSeen: now - 1000,
    group: { "client.address": address },
    services: ["checkout"],
    recommendedActions: ["Block the address", "Check the accounts"],
  });
  const id = `alt_AM${rule.toUpperCase()}${address.replace(/\D/g, "")}${now}`;
  return { type: "alert.created", alert: alertFromFiring(f, id, now) };
}

function dispatcherFor(store?: MemoryAlertStore) {
  let tick: (() => void) | undefined;
  const { metrics, points } = testMetrics();
  const dispatcher = createSinkDispatcher(
    sinksSectionSchema.parse([{ type: "alertmanager", name: "am", url: am.url, min_severity: "medium" }]),
    {
      apiBaseUrl: API,
      metrics,
      ...(store ? { alertStore: store } : {}),
      every: (fn) => {
        tick = fn;
        return () => (tick = undefined);
      },
    },
  );
  return { dispatcher, points, tick: () => tick?.() };
}

describe("alertmanager sink against a real Alertmanager", () => {
  it("posts the alert with labels and annotations; resolving it ends it in Alertmanager", async () => {
    const { dispatcher } = dispatcherFor();
    await dispatcher.start();
    const created = realChange("brute_force", "203.0.113.7");
    dispatcher.dispatch([created]);
    await dispatcher.whenIdle();

    const id = created.alert.id;
    const find = async (query?: string) => (await am.alerts(query)).find((a) => a.labels["alert_id"] === id);
    const active = await find();
    expect(active).toBeDefined();
    expect(active!.labels).toEqual({
      alertname: "brute_force",
      rule: "brute_force",
      severity: "high",
      service: "checkout",
      group: "client.address=203.0.113.7",
      client_address: "203.0.113.7",
      alert_id: id,
      source: "secmon",
    });
    expect(active!.annotations).toMatchObject({
      title: created.alert.title,
      actions: "Block the address\nCheck the accounts",
    });
    expect(active!.status.state).toBe("active");
    expect(active!.generatorURL).toBe(`${API}/api/alerts/${id}`);
    expect(Date.parse(active!.startsAt)).toBe(Date.parse(created.alert.created_at));

    const resolvedAlert = applyPatch(created.alert, { status: "resolved" }, "analyst", Date.now());
    dispatcher.dispatch([{ type: "alert.status_changed", alert: resolvedAlert }]);
    await dispatcher.whenIdle();
    // no longer active: either gone from the active list, or listed with endsAt in the past
    expect(await find("?active=true&silenced=false&inhibited=false")).toBeUndefined();
    const any = await find("?active=false");
    if (any) expect(Date.parse(any.endsAt)).toBeLessThanOrEqual(Date.now());
    await dispatcher.stop();
  });

  it("re-posts open alerts from the AlertStore on each interval, none of the closed ones", async () => {
    const store = new MemoryAlertStore();
    const now = Date.now();
    const open = await store.record(firing({ rule: "password_spray", lastSeen: now - 1000 }), now);
    const closed = await store.record(
      firing({ rule: "api_scanning", lastSeen: now - 1000, group: { "client.address": "198.51.100.9" } }),
      now,
    );
    await store.update(closed.alert.id, { status: "false_positive" }, "analyst", now);
    const low = await store.record(firing({ rule: "low_rule", severity: "low", lastSeen: now - 1000 }), now);
    const { dispatcher, tick } = dispatcherFor(store);
    await dispatcher.start();
    tick();
    await dispatcher.stop(); // waits for the running round
    const ids = (await am.alerts()).map((a) => a.labels["alert_id"]);
    expect(ids).toContain(open.alert.id);
    expect(ids).not.toContain(closed.alert.id);
    expect(ids).not.toContain(low.alert.id); // below min_severity
  });

  it("a failed re-send round is counted, not queued", async () => {
    const store = new MemoryAlertStore();
    await store.record(firing({ lastSeen: Date.now() }), Date.now());
    const { metrics, points } = testMetrics();
    let tick: (() => void) | undefined;
    const dispatcher = createSinkDispatcher(
      sinksSectionSchema.parse([{ type: "alertmanager", name: "gone", url: "http://127.0.0.1:9" }]),
      { metrics, alertStore: store, every: (fn) => ((tick = fn), () => undefined) },
    );
    await dispatcher.start();
    tick?.();
    await dispatcher.stop();
    const failed = (await points("secmon_sink_deliveries")).find(
      (p) => p.attributes["outcome"] === "resend_failed",
    );
    expect(failed?.value).toBe(1);
    expect(await dispatcher.outbox.backlog()).toEqual({});
  });

  it("turns group attributes into valid label names without overriding its own labels", () => {
    expect(labelName("client.address")).toBe("client_address");
    expect(labelName("1x-y")).toBe("_1x_y");
    const c = realChange("r", "192.0.2.1");
    const a = alertmanagerAlert({ ...c.alert, group: { severity: "spoofed", "user.name": "" } });
    expect((a["labels"] as Record<string, string>)["severity"]).toBe("high");
    expect(a["labels"]).not.toHaveProperty("user_name");
    expect(a).not.toHaveProperty("endsAt");
  });
});
