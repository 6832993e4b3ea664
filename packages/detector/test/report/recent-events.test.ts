import { ATTR, ATTR_EVENT_NAME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import type { SampleEvent } from "../../src/alerts/types.ts";
import { RecentEvents, defaultAddressGroup } from "../../src/report/recent-events.ts";
import { DAY0, ev, failedLogin, okLogin } from "./events.ts";

const at = (events: readonly SampleEvent[]) => events.map((e) => Date.parse(e.time) - DAY0);
const byAddress = (a: string) => ({ [ATTR.CLIENT_ADDRESS]: a });

describe("RecentEvents: the buffer", () => {
  it("answers for any group from the buffer, newest first, filtered by every group attribute", () => {
    const recent = new RecentEvents({ bufferEvents: 100 });
    recent.observe([
      failedLogin(DAY0 + 1, "203.0.113.7", "aaaa"),
      failedLogin(DAY0 + 2, "203.0.113.7", "bbbb", "login"),
      okLogin(DAY0 + 3, "198.51.100.1", "aaaa"),
      ev(EVENT.API_REQUEST, DAY0 + 4, { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.USER_ID]: "u1" }),
    ]);
    const address = recent.eventsFor(byAddress("203.0.113.7"));
    expect(at(address)).toEqual([4, 2, 1]);
    expect(address[0]).toMatchObject({ event_name: EVENT.API_REQUEST, service: "checkout" });
    expect(recent.eventsFor({ [ATTR.USER_HASH]: "aaaa" })).toHaveLength(2);
    expect(recent.eventsFor({ [ATTR.USER_ID]: "u1" })).toHaveLength(1);
    const both = recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.USER_HASH]: "bbbb" });
    expect(both.map((e) => e.service)).toEqual(["login"]);
    const byService = recent.eventsFor({
      [ATTR_EVENT_NAME]: EVENT.AUTH_LOGIN,
      [RESOURCE_ATTR.SERVICE_NAME]: "checkout",
    });
    expect(byService).toHaveLength(2);
    expect(recent.eventsFor(byAddress("192.0.2.200"))).toEqual([]);
    expect(recent.eventsFor({ "custom.thing": "x" })).toEqual([]);
    expect(recent.eventsFor({})).toEqual([]);
    expect(recent.eventsFor(byAddress("203.0.113.7"), 1)).toHaveLength(1);
  });

  it("groups IPv6 by prefix (and mapped IPv4 as IPv4) like the rules", () => {
    const recent = new RecentEvents({ bufferEvents: 100 });
    recent.observe([
      failedLogin(DAY0 + 1, "2001:db8:1:2::10", "a"),
      failedLogin(DAY0 + 2, "2001:db8:1:2:ffff::1", "b"),
      failedLogin(DAY0 + 3, "2001:db8:1:3::1", "c"),
      failedLogin(DAY0 + 4, "::ffff:192.0.2.9", "d"),
    ]);
    expect(defaultAddressGroup("2001:db8:1:2::10")).toBe("2001:db8:1:2::/64");
    expect(recent.eventsFor(byAddress("2001:db8:1:2::/64"))).toHaveLength(2);
    expect(recent.eventsFor(byAddress("192.0.2.9"))).toHaveLength(1);
  });

  it("holds the newest bufferEvents events (whole batches), and none by default", () => {
    const recent = new RecentEvents({ bufferEvents: 4 });
    for (let t = 0; t < 10; t += 2) {
      recent.observe([
        failedLogin(DAY0 + t, "203.0.113.7", "a"),
        failedLogin(DAY0 + t + 1, "203.0.113.7", "a"),
      ]);
    }
    expect(at(recent.eventsFor(byAddress("203.0.113.7")))).toEqual([9, 8, 7, 6]);
    const none = new RecentEvents();
    none.observe([failedLogin(DAY0, "203.0.113.7", "a")]);
    expect(none.eventsFor(byAddress("203.0.113.7"))).toEqual([]);
  });
});

describe("RecentEvents: watched (alerted) groups", () => {
  it("keeps a watched group's events from the watch on, the newest perGroup, whatever else arrives", () => {
    const recent = new RecentEvents({ perGroup: 3 });
    recent.observe([failedLogin(DAY0, "203.0.113.7", "a")]); // before the alert, no buffer
    recent.watch(byAddress("203.0.113.7"));
    for (let t = 1; t <= 5; t++) {
      recent.observe([failedLogin(DAY0 + t, "203.0.113.7", "a"), failedLogin(DAY0 + t, "198.51.100.1", "b")]);
    }
    expect(at(recent.eventsFor(byAddress("203.0.113.7")))).toEqual([5, 4, 3]);
    expect(recent.eventsFor(byAddress("198.51.100.1"))).toEqual([]);
    expect(recent.groupCount).toBe(1);
  });

  it("seeds a new watch from the buffer: the group's events from before its alert", () => {
    const recent = new RecentEvents({ perGroup: 3, bufferEvents: 100 });
    recent.observe([1, 2, 3, 4].map((t) => failedLogin(DAY0 + t, "203.0.113.7", "a")));
    recent.watch(byAddress("203.0.113.7"));
    recent.observe([failedLogin(DAY0 + 5, "203.0.113.7", "a")]);
    expect(at(recent.eventsFor(byAddress("203.0.113.7")))).toEqual([5, 4, 3]);
  });

  it("matches every attribute of the group, IPv6 by prefix, and groups without a tracked attribute", () => {
    const recent = new RecentEvents();
    const pair = { [ATTR.CLIENT_ADDRESS]: "2001:db8:1:2::/64", [ATTR.USER_HASH]: "a" };
    const surge = { [ATTR_EVENT_NAME]: EVENT.AUTH_LOGIN, [RESOURCE_ATTR.SERVICE_NAME]: "checkout" };
    const custom = { "tenant.id": "t1" };
    for (const g of [pair, surge, custom]) recent.watch(g);
    recent.observe([
      failedLogin(DAY0 + 1, "2001:db8:1:2::10", "a"),
      failedLogin(DAY0 + 2, "2001:db8:1:2::11", "b"),
      failedLogin(DAY0 + 3, "2001:db8:1:3::1", "a", "login"),
      ev(EVENT.API_REQUEST, DAY0 + 4, { [ATTR.CLIENT_ADDRESS]: "2001:db8:1:2::12", "tenant.id": "t1" }),
    ]);
    expect(at(recent.eventsFor(pair))).toEqual([1]);
    // the same group, its attributes in another order
    expect(
      at(recent.eventsFor({ [ATTR.USER_HASH]: "a", [ATTR.CLIENT_ADDRESS]: "2001:db8:1:2::/64" })),
    ).toEqual([1]);
    expect(at(recent.eventsFor(surge))).toEqual([2, 1]);
    expect(at(recent.eventsFor(custom))).toEqual([4]);
  });

  it("watches at most maxGroups groups, the least recently alerted dropped first", () => {
    const recent = new RecentEvents({ perGroup: 5, maxGroups: 2 });
    const a = byAddress("192.0.2.1");
    const b = byAddress("192.0.2.2");
    const c = byAddress("192.0.2.3");
    recent.watch(a);
    recent.watch(b);
    recent.watch(a); // a alerted again: b is now the least recent
    recent.watch(c);
    expect(recent.groupCount).toBe(2);
    recent.observe(["192.0.2.1", "192.0.2.2", "192.0.2.3"].map((x, i) => failedLogin(DAY0 + i, x, "h")));
    expect(at(recent.eventsFor(a))).toEqual([0]);
    expect(recent.eventsFor(b)).toEqual([]);
    expect(at(recent.eventsFor(c))).toEqual([2]);
    // a dropped group can be watched again and starts empty
    recent.watch(b);
    expect(recent.eventsFor(b)).toEqual([]);
    expect(recent.eventsFor(a)).toEqual([]);
  });

  it("eventsForAlert: the group's events, then the alert's samples from before them", () => {
    const recent = new RecentEvents();
    const group = byAddress("203.0.113.7");
    const sample = (t: number): SampleEvent => ({
      time: new Date(DAY0 + t).toISOString(),
      event_name: EVENT.AUTH_LOGIN,
      service: "checkout",
      attributes: {},
    });
    recent.watch(group);
    recent.observe([5, 6].map((t) => failedLogin(DAY0 + t, "203.0.113.7", "a")));
    const alert = { group, sample_events: [sample(1), sample(3), sample(5)] };
    expect(at(recent.eventsForAlert(alert))).toEqual([6, 5, 3, 1]);
    expect(at(recent.eventsForAlert(alert, 3))).toEqual([6, 5, 3]);
    expect(at(new RecentEvents().eventsForAlert(alert))).toEqual([5, 3, 1]);
  });
});
