import { ATTR, ATTR_EVENT_NAME, EVENT, RESOURCE_ATTR } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { RecentEvents, defaultAddressGroup } from "../../src/report/recent-events.ts";
import { DAY0, ev, failedLogin, okLogin } from "./events.ts";

describe("RecentEvents", () => {
  it("returns the recent events of an alert's group, newest first, filtered by every group attribute", () => {
    const recent = new RecentEvents();
    recent.observe([
      failedLogin(DAY0 + 1, "203.0.113.7", "aaaa"),
      failedLogin(DAY0 + 2, "203.0.113.7", "bbbb", "login"),
      okLogin(DAY0 + 3, "198.51.100.1", "aaaa"),
      ev(EVENT.API_REQUEST, DAY0 + 4, { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.USER_ID]: "u1" }),
    ]);
    const byAddress = recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7" });
    expect(byAddress.map((e) => e.time)).toEqual(
      [DAY0 + 4, DAY0 + 2, DAY0 + 1].map((t) => new Date(t).toISOString()),
    );
    expect(byAddress[0]).toMatchObject({ event_name: EVENT.API_REQUEST, service: "checkout" });
    expect(recent.eventsFor({ [ATTR.USER_HASH]: "aaaa" })).toHaveLength(2);
    expect(recent.eventsFor({ [ATTR.USER_ID]: "u1" })).toHaveLength(1);
    const both = recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.USER_HASH]: "bbbb" });
    expect(both.map((e) => e.service)).toEqual(["login"]);
    const byService = recent.eventsFor({
      [ATTR_EVENT_NAME]: EVENT.AUTH_LOGIN,
      [RESOURCE_ATTR.SERVICE_NAME]: "checkout",
    });
    expect(byService).toHaveLength(2);
    expect(recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "192.0.2.200" })).toEqual([]);
    expect(recent.eventsFor({ "custom.thing": "x" })).toEqual([]);
    expect(recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7" }, 1)).toHaveLength(1);
  });

  it("groups IPv6 by prefix (and mapped IPv4 as IPv4) like the rules", () => {
    const recent = new RecentEvents();
    recent.observe([
      failedLogin(DAY0 + 1, "2001:db8:1:2::10", "a"),
      failedLogin(DAY0 + 2, "2001:db8:1:2:ffff::1", "b"),
      failedLogin(DAY0 + 3, "2001:db8:1:3::1", "c"),
      failedLogin(DAY0 + 4, "::ffff:192.0.2.9", "d"),
    ]);
    expect(defaultAddressGroup("2001:db8:1:2::10")).toBe("2001:db8:1:2::/64");
    expect(recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "2001:db8:1:2::/64" })).toHaveLength(2);
    expect(recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "192.0.2.9" })).toHaveLength(1);
  });

  it("keeps at most perGroup events per value and maxGroups values", () => {
    const recent = new RecentEvents({ perGroup: 3, maxGroups: 100 });
    recent.observe(Array.from({ length: 10 }, (_, i) => failedLogin(DAY0 + i, "203.0.113.7", "a")));
    const kept = recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7" });
    expect(kept.map((e) => Date.parse(e.time) - DAY0)).toEqual([9, 8, 7]);
    recent.observe(
      Array.from({ length: 500 }, (_, i) => failedLogin(DAY0, `10.1.${i >> 8}.${i & 255}`, `h${i}`)),
    );
    expect(recent.groupCount).toBeLessThanOrEqual(4 * 100);
    expect(recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: "203.0.113.7" })).toEqual([]);
  });
});
