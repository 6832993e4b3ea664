import { ATTR, AUTH_RESET_STAGE, EVENT } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { createReportComponents } from "../../src/report/build.ts";
import { reportSectionSchema } from "../../src/report/config.ts";
import { MemoryReportStore } from "../../src/report/memory-store.ts";
import { SecurityReporter, parsePeriod } from "../../src/report/reporter.ts";
import { SpaceSaving, mergeTop } from "../../src/report/space-saving.ts";
import type { ReportStore } from "../../src/report/store.ts";
import { DAY0, H, ev, failedLogin, okLogin } from "./events.ts";

function setup(now: number, opts: ConstructorParameters<typeof MemoryReportStore>[0] = {}) {
  const clock = () => now;
  const store = new MemoryReportStore({ clock, ...opts });
  return { store, reporter: new SecurityReporter({ store, clock }) };
}

describe("SecurityReporter", () => {
  it("reports the seed's numbers on known events, on event time", async () => {
    const now = DAY0 + 10 * H + 5 * 60_000; // 10:05
    const { reporter } = setup(now);
    const events = [
      // 09:xx: 4 failures from .7 against 2 identifiers, 1 failure from an IPv6 /64, 2 successes
      ...[0, 1, 2].map((i) => failedLogin(DAY0 + 9 * H + i * 1000, "203.0.113.7", "aaaa")),
      failedLogin(DAY0 + 9 * H + 5000, "203.0.113.7", "bbbb"),
      failedLogin(DAY0 + 9 * H + 6000, "2001:db8:1:2::10", "bbbb"),
      failedLogin(DAY0 + 9 * H + 7000, "2001:db8:1:2::99", "cccc"),
      okLogin(DAY0 + 9 * H + 8000, "198.51.100.1", "dddd"),
      okLogin(DAY0 + 10 * H + 1000, "::ffff:198.51.100.1", "dddd"),
      ev(EVENT.AUTH_ACCOUNT_LOCKED, DAY0 + 10 * H, { [ATTR.USER_HASH]: "aaaa" }),
      ev(EVENT.AUTH_PASSWORD_RESET, DAY0 + 10 * H, { [ATTR.AUTH_RESET_STAGE]: AUTH_RESET_STAGE.REQUESTED }),
      ev(EVENT.AUTH_PASSWORD_RESET, DAY0 + 10 * H, { [ATTR.AUTH_RESET_STAGE]: AUTH_RESET_STAGE.COMPLETED }),
      ev(EVENT.API_REQUEST, DAY0 + 10 * H, { [ATTR.CLIENT_ADDRESS]: "192.0.2.1" }),
      // yesterday 23:xx and two days ago: outside "today", inside / outside 24h
      failedLogin(DAY0 - 30 * 60_000, "192.0.2.50", "eeee"),
      failedLogin(DAY0 - 48 * H, "192.0.2.51", "ffff"),
    ];
    reporter.observe(events.slice(0, 7));
    reporter.observe(events.slice(7));

    const r = await reporter.report("24h");
    expect(r).toMatchObject({
      period: "24h",
      from: "2026-11-20T11:00:00.000Z",
      to: "2026-11-21T11:00:00.000Z",
      summary: {
        sign_ins: 9,
        failed_sign_ins: 7,
        unique_client_addresses: 4, // .7, 2001:db8:1:2::/64, 198.51.100.1 (mapped too), 192.0.2.50
        unique_client_addresses_exact: true,
        locked_accounts: 1,
        password_resets: 1,
      },
      top_counts_exact: true,
    });
    expect(r.top_failed_identifiers.slice(0, 2)).toEqual([
      { value: "aaaa", failures: 3 },
      { value: "bbbb", failures: 2 },
    ]);
    expect(r.top_failed_addresses).toEqual([
      { value: "203.0.113.7", failures: 4 },
      { value: "2001:db8:1:2::/64", failures: 2 },
      { value: "192.0.2.50", failures: 1 },
    ]);
    const hour = await reporter.report("1h");
    expect(hour.summary).toMatchObject({ sign_ins: 1, failed_sign_ins: 0, locked_accounts: 1 });
    const week = await reporter.report("7d", 1);
    expect(week.summary.failed_sign_ins).toBe(8);
    expect(week.top_failed_identifiers).toEqual([{ value: "aaaa", failures: 3 }]);
    expect(await reporter.eventsToday()).toBe(12);
  });

  it("rejects periods outside 1h…30d and bad top values", async () => {
    const { reporter } = setup(DAY0);
    for (const p of ["0h", "31d", "721h", "24", "1w", "", "-1h"]) {
      await expect(reporter.report(p)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    }
    expect(parsePeriod("30d")).toBe(720);
    expect(parsePeriod("1h")).toBe(1);
    await expect(reporter.report("24h", 0)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(reporter.report("24h", 51)).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("says when unique addresses and top counts stop being exact", async () => {
    const { reporter } = setup(DAY0 + 1000, { distinctMaxPerHour: 100, topKCapacity: 10 });
    reporter.observe(
      Array.from({ length: 150 }, (_, i) => failedLogin(DAY0 + i, `10.0.${i >> 8}.${i & 255}`, `h${i}`)),
    );
    const r = await reporter.report("1h");
    expect(r.summary.unique_client_addresses).toBe(100);
    expect(r.summary.unique_client_addresses_exact).toBe(false);
    expect(r.top_counts_exact).toBe(false);
    expect(r.summary.failed_sign_ins).toBe(150);
  });

  it("drops buckets past retention and ignores events older than it", async () => {
    const now = DAY0 + 40 * 24 * H;
    const { store, reporter } = setup(now);
    reporter.observe([failedLogin(DAY0, "192.0.2.1", "x"), failedLogin(now, "192.0.2.1", "x")]);
    expect(store.bucketCount).toBe(1);
  });

  it("never throws from observe when the store fails", async () => {
    const errors: unknown[] = [];
    const failing: ReportStore = {
      add: () => Promise.reject(new Error("down")),
      summarize: () => Promise.reject(new Error("down")),
      countEvents: () => Promise.reject(new Error("down")),
    };
    const reporter = new SecurityReporter({ store: failing, onError: (e) => errors.push(e) });
    reporter.observe([failedLogin(DAY0, "192.0.2.1", "x")]);
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
  });
});

describe("SpaceSaving", () => {
  it("is exact below capacity and keeps heavy hitters above it", () => {
    const s = new SpaceSaving(5);
    for (let i = 0; i < 100; i++) s.add("heavy");
    for (let i = 0; i < 50; i++) s.add(`light${i}`);
    const top = mergeTop([s.entries()], 1);
    expect(top[0]?.value).toBe("heavy");
    expect(top[0]?.count).toBeGreaterThanOrEqual(100);
    expect(s.size).toBeLessThanOrEqual(10);
    const exact = new SpaceSaving(5);
    exact.add("a", 3);
    exact.add("b");
    expect(mergeTop([exact.entries(), [{ value: "b", count: 4, error: 0 }]], 5)).toEqual([
      { value: "b", count: 5, error: 0 },
      { value: "a", count: 3, error: 0 },
    ]);
  });
});

describe("report config section", () => {
  it("has bounded defaults and builds both observers", async () => {
    const config = reportSectionSchema.parse(undefined);
    expect(config).toEqual({
      recent_events_per_group: 50,
      recent_max_groups: 5000,
      recent_buffer_events: 0,
      top_k_capacity: 100,
      distinct_max_per_hour: 10_000,
    });
    expect(reportSectionSchema.safeParse({ recent_events_per_group: 0 }).success).toBe(false);
    expect(reportSectionSchema.safeParse({ top_k: 5 }).success).toBe(false);
    const { recentEvents, reporter } = createReportComponents(
      { ...config, recent_buffer_events: 10 },
      { clock: () => DAY0 + 1000 },
    );
    const batch = [failedLogin(DAY0, "192.0.2.1", "a")];
    recentEvents.observe(batch);
    reporter.observe(batch);
    expect(recentEvents.eventsFor({ "client.address": "192.0.2.1" })).toHaveLength(1);
    expect((await reporter.report("1h")).summary.failed_sign_ins).toBe(1);
  });
});
