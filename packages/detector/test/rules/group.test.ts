import { describe, expect, it } from "vitest";
import type { Attributes, SecurityEvent } from "../../src/event.ts";
import { canonicalAddress, groupAddress, groupExtractor } from "../../src/rules/attributes.ts";

const ev = (attributes: Attributes, service = "checkout", name = "auth.login"): SecurityEvent => ({
  name,
  time: 0,
  service,
  attributes,
  resource: {},
});

describe("group addresses", () => {
  it("keeps IPv4 as is and groups IPv6 by the configured prefix, shown as the network", () => {
    expect(groupAddress("203.0.113.7", 64)).toBe("203.0.113.7");
    expect(groupAddress("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64)).toBe("2001:db8:1:2::/64");
    expect(groupAddress("2001:0DB8:0001:0002:0000:0000:0000:0001", 64)).toBe("2001:db8:1:2::/64");
    expect(groupAddress("2001:db8:1:2::1", 48)).toBe("2001:db8:1::/48");
    expect(groupAddress("2001:db8:1:2::1", 56)).toBe("2001:db8:1::/56");
    expect(groupAddress("2001:db8:1:2ff::1", 56)).toBe("2001:db8:1:200::/56");
    expect(groupAddress("2001:db8::1", 128)).toBe("2001:db8::1");
    expect(groupAddress("::1", 64)).toBe("::/64");
  });

  it("treats IPv4-mapped IPv6 addresses as IPv4", () => {
    expect(groupAddress("::ffff:203.0.113.7", 64)).toBe("203.0.113.7");
    expect(groupAddress("::FFFF:cb00:7107", 64)).toBe("203.0.113.7");
    expect(canonicalAddress("::ffff:10.0.0.1")).toEqual({ address: "10.0.0.1", family: 4 });
    expect(canonicalAddress("2001:DB8::0001")).toEqual({ address: "2001:db8::1", family: 6 });
    expect(canonicalAddress("localhost")).toBeUndefined();
  });

  it("leaves text that is not an address alone", () => {
    expect(groupAddress("unknown", 64)).toBe("unknown");
    expect(groupAddress("10.0.0.256", 64)).toBe("10.0.0.256");
  });
});

describe("group keys", () => {
  it("makes one key per group value, prefixed by the rule", () => {
    const g = groupExtractor("brute_force", ["client.address"], 64);
    expect(g.key(ev({ "client.address": "203.0.113.7" }))).toBe("brute_force|203.0.113.7");
    expect(g.key(ev({ "client.address": "2001:db8:1:2::9" }))).toBe("brute_force|2001:db8:1:2::/64");
    expect(g.key(ev({ "client.address": "2001:db8:1:2::a" }))).toBe(
      g.key(ev({ "client.address": "2001:db8:1:2::9" })),
    );
    expect(g.values(ev({ "client.address": "::ffff:203.0.113.7" }))).toEqual({
      "client.address": "203.0.113.7",
    });
  });

  it("never groups under a missing or empty value", () => {
    const g = groupExtractor("r", ["user.id"], 64);
    expect(g.key(ev({}))).toBeUndefined();
    expect(g.key(ev({ "user.id": "" }))).toBeUndefined();
    expect(g.key(ev({ "user.id": [] }))).toBeUndefined();
    expect(g.key(ev({ "user.id": 42 }))).toBe("r|42");
    const two = groupExtractor("r", ["event.name", "user.id"], 64);
    expect(two.key(ev({ "user.id": "" }))).toBeUndefined();
  });

  it("groups by several attributes and pseudo-attributes", () => {
    const g = groupExtractor("surge", ["event.name", "service.name"], 64);
    expect(g.key(ev({}, "billing", "auth.mfa"))).toBe("surge|auth.mfa|billing");
    expect(g.values(ev({}, "billing", "auth.mfa"))).toEqual({
      "event.name": "auth.mfa",
      "service.name": "billing",
    });
    expect(g.signature).toBe(groupExtractor("other", ["event.name", "service.name"], 64).signature);
    expect(g.signature).not.toBe(groupExtractor("other", ["event.name", "service.name"], 48).signature);
  });

  it("escapes separators, so that distinct groups never share a key", () => {
    const g = groupExtractor("r", ["a", "b"], 64);
    const k1 = g.key(ev({ a: "x|y", b: "z" }));
    const k2 = g.key(ev({ a: "x", b: "y|z" }));
    const k3 = g.key(ev({ a: "x\\", b: "|z" }));
    expect(new Set([k1, k2, k3]).size).toBe(3);
    expect(k1).toBe("r|x\\|y|z");
  });
});
