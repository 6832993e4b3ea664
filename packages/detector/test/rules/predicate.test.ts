import { describe, expect, it } from "vitest";
import type { AttrValue, SecurityEvent } from "../../src/event.ts";
import type { PredicateOps, Where } from "../../src/rules/language.ts";
import { compileValueTest, compileWhere, whereText } from "../../src/rules/predicate.ts";

const test = (p: string | number | boolean | PredicateOps) => {
  const f = compileValueTest(p);
  return (v: AttrValue | undefined) => f(v);
};

const ev = (attributes: Record<string, AttrValue>, extra: Partial<SecurityEvent> = {}): SecurityEvent => ({
  name: "auth.login",
  time: 0,
  service: "checkout",
  attributes,
  resource: { "deployment.environment.name": "prod" },
  ...extra,
});

describe("predicates", () => {
  it("equals: strings exactly; numbers also from numeric strings; booleans also from their text", () => {
    const s = test("failure");
    expect([s("failure"), s("Failure"), s(undefined), s(["failure"])]).toEqual([true, false, false, false]);
    const n = test({ equals: 404 });
    expect([n(404), n("404"), n(" 404 "), n("404.0"), n(403), n("abc"), n("")]).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    const b = test(true);
    expect([b(true), b("true"), b(false), b(1)]).toEqual([true, true, false, false]);
    // a string literal matches a number sent as a number too
    expect(test("404")(404)).toBe(true);
  });

  it("in: one of the values, with the same coercions", () => {
    const t = test({ in: ["sqli", "xss", 500] });
    expect([t("sqli"), t("xss"), t("csrf"), t(500), t("500"), t(undefined), t(["sqli"])]).toEqual([
      true,
      true,
      false,
      true,
      true,
      false,
      false,
    ]);
  });

  it("contains: an element of an array attribute (a scalar counts as one element)", () => {
    const t = test({ contains: "admin" });
    expect([t(["billing", "admin"]), t(["billing"]), t([]), t("admin"), t(undefined)]).toEqual([
      true,
      false,
      false,
      true,
      false,
    ]);
    expect(test({ contains: 3 })([1, "3"])).toBe(true);
  });

  it("gt / gte / lt / lte compare numbers and numeric strings; anything else fails", () => {
    expect([
      test({ gt: 10 })(11),
      test({ gt: 10 })(10),
      test({ gte: 10 })(10),
      test({ gte: 10 })("10"),
    ]).toEqual([true, false, true, true]);
    expect([test({ lt: 1 })(0.5), test({ lt: 1 })(1), test({ lte: 1 })(1), test({ lte: 1 })("2")]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    const range = test({ gte: 200, lt: 300 });
    expect([
      range(200),
      range(299),
      range(300),
      range("abc"),
      range(true),
      range(undefined),
      range([250]),
    ]).toEqual([true, true, false, false, false, false, false]);
  });

  it("exists: present and not empty", () => {
    const yes = test({ exists: true });
    const no = test({ exists: false });
    expect([yes("x"), yes(""), yes(undefined), yes(0), yes([])]).toEqual([true, false, false, true, true]);
    expect([no("x"), no(""), no(undefined)]).toEqual([false, true, true]);
  });

  it("cidr: IPv4 and IPv6 networks and single addresses; IPv4-mapped IPv6 counts as IPv4", () => {
    const t = test({ cidr: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"] });
    expect([
      t("10.1.2.3"),
      t("11.0.0.1"),
      t("::ffff:10.9.9.9"),
      t("2001:db8:ffff::1"),
      t("2001:db9::1"),
      t("192.0.2.1"),
      t("192.0.2.2"),
      t("not an ip"),
      t(undefined),
      t(167772161),
    ]).toEqual([true, false, true, true, false, true, false, false, false, false]);
    const mapped = test({ cidr: "::ffff:203.0.113.0/120" });
    expect([mapped("203.0.113.9"), mapped("::ffff:203.0.113.10"), mapped("203.0.114.1")]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("not: none of the nested operators holds (a missing attribute passes)", () => {
    const t = test({ not: { cidr: "10.0.0.0/8" } });
    expect([t("10.0.0.1"), t("8.8.8.8"), t(undefined)]).toEqual([false, true, true]);
    const both = test({ exists: true, not: { in: ["a", "b"] } });
    expect([both("a"), both("c"), both(undefined)]).toEqual([false, true, false]);
  });

  it("where: every clause holds; pseudo-attributes and resource attributes are readable", () => {
    const where: Where = {
      "auth.outcome": "failure",
      "service.name": "checkout",
      "event.name": { in: ["auth.login"] },
      "deployment.environment.name": "prod",
    };
    const p = compileWhere(where);
    expect(p(ev({ "auth.outcome": "failure" }))).toBe(true);
    expect(p(ev({ "auth.outcome": "success" }))).toBe(false);
    expect(p(ev({ "auth.outcome": "failure" }, { service: "billing" }))).toBe(false);
    expect(p(ev({ "auth.outcome": "failure" }, { name: "auth.mfa" }))).toBe(false);
    // the record's attribute wins over the resource's
    expect(p(ev({ "auth.outcome": "failure", "deployment.environment.name": "dev" }))).toBe(false);
    expect(compileWhere(undefined)(ev({}))).toBe(true);
    expect(compileWhere({})(ev({}))).toBe(true);
    expect(compileWhere({ a: 1, b: 2 })(ev({ a: 1, b: "2" }))).toBe(true);
  });

  it("reads as text for people", () => {
    expect(
      whereText({
        "auth.outcome": "failure",
        "input.rule": { in: ["sqli", "xss"] },
        "client.address": { not: { cidr: ["10.0.0.0/8"] } },
        "http.response.status_code": { gte: 500, lt: 600 },
        "user.id": { exists: false },
        "authz.missing_permissions": { contains: "admin" },
      }),
    ).toBe(
      'auth.outcome = "failure" and input.rule in ["sqli", "xss"] and client.address not (in cidr 10.0.0.0/8) and http.response.status_code >= 500 and < 600 and user.id is missing and authz.missing_permissions contains "admin"',
    );
  });
});
