import { describe, expect, it } from "vitest";
import { alertsSectionSchema } from "../../src/alerts/config.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import { describeAlertStore } from "./alert-store-suite.ts";
import { T0, firing } from "./fixtures.ts";

const NOW = T0 + 200_000;

describeAlertStore("memory", async (options) => new MemoryAlertStore(options));

describe("MemoryAlertStore", () => {
  it("counts what it holds in size", async () => {
    const store = new MemoryAlertStore({ maxAlerts: 3 });
    for (let i = 0; i < 5; i++) await store.record(firing({ rule: `r${i}` }), NOW + i);
    expect(store.size).toBe(3);
  });
});

describe("alerts config section", () => {
  it("has defaults and bounds, and sizes the memory store", async () => {
    expect(alertsSectionSchema.parse(undefined)).toEqual({
      retention_seconds: 30 * 86_400,
      max_alerts: 10_000,
      purge_interval_seconds: 60,
    });
    expect(alertsSectionSchema.safeParse({ max_alerts: 5 }).success).toBe(false);
    expect(alertsSectionSchema.safeParse({ retention: 5 }).success).toBe(false);
    const store = MemoryAlertStore.fromConfig(alertsSectionSchema.parse({ max_alerts: 100 }));
    for (let i = 0; i < 101; i++) await store.record(firing({ rule: `r${i}` }), NOW);
    expect(store.size).toBe(100);
  });
});
