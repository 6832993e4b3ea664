import { ATTR } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { RecentEvents } from "../../src/report/recent-events.ts";
import { DAY0, failedLogin } from "./events.ts";

const address = (i: number) => `10.2.${i >> 8}.${i & 255}`;
const times = (recent: RecentEvents, a: string) =>
  recent.eventsFor({ [ATTR.CLIENT_ADDRESS]: a }).map((e) => Date.parse(e.time) - DAY0);

describe("RecentEvents eviction order", () => {
  it("drops the least recently seen value first; seeing a value again keeps it", () => {
    const recent = new RecentEvents({ perGroup: 5, maxGroups: 3 });
    recent.observe([failedLogin(DAY0 + 1, address(1), "h"), failedLogin(DAY0 + 2, address(2), "h")]);
    recent.observe([failedLogin(DAY0 + 3, address(3), "h"), failedLogin(DAY0 + 4, address(1), "h")]);
    // 2 is now the least recently seen: a fourth value evicts it, not 1
    recent.observe([failedLogin(DAY0 + 5, address(4), "h")]);
    expect(times(recent, address(2))).toEqual([]);
    expect(times(recent, address(1))).toEqual([4, 1]);
    expect(times(recent, address(3))).toEqual([3]);
    expect(times(recent, address(4))).toEqual([5]);
  });

  it("a value seen again after eviction starts an empty ring (no events of the value it replaced)", () => {
    const recent = new RecentEvents({ perGroup: 3, maxGroups: 2 });
    recent.observe([1, 2, 3, 4].map((t) => failedLogin(DAY0 + t, address(1), "h")));
    recent.observe([failedLogin(DAY0 + 5, address(2), "h"), failedLogin(DAY0 + 6, address(3), "h")]);
    expect(times(recent, address(1))).toEqual([]);
    expect(times(recent, address(3))).toEqual([6]);
    recent.observe([failedLogin(DAY0 + 7, address(1), "h")]);
    expect(times(recent, address(1))).toEqual([7]);
    expect(times(recent, address(2))).toEqual([]);
  });

  it("runs of one value and interleaved values keep every ring's newest events in order", () => {
    const recent = new RecentEvents({ perGroup: 4, maxGroups: 10 });
    const batch = [];
    for (let t = 0; t < 20; t++) batch.push(failedLogin(DAY0 + t, address(t % 3 === 0 ? 0 : 1), `h${t}`));
    recent.observe(batch);
    expect(times(recent, address(0))).toEqual([18, 15, 12, 9]);
    expect(times(recent, address(1))).toEqual([19, 17, 16, 14]);
    expect(recent.eventsFor({ [ATTR.USER_HASH]: "h15" }).map((e) => Date.parse(e.time) - DAY0)).toEqual([15]);
    expect(recent.eventsFor({ [ATTR.USER_HASH]: "h7" })).toEqual([]);
    expect(recent.groupCount).toBe(2 + 10 + 1);
  });
});
