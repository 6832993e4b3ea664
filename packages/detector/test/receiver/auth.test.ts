import { describe, expect, it } from "vitest";
import { BearerAuth } from "../../src/receiver/auth.ts";

describe("BearerAuth", () => {
  const auth = new BearerAuth("t0ken-value");

  it("accepts exactly `Bearer <token>` (scheme case-insensitive)", () => {
    expect(auth.check("Bearer t0ken-value")).toBe(true);
    expect(auth.check("bearer t0ken-value")).toBe(true);
    expect(auth.check("BEARER   t0ken-value ")).toBe(true);
  });

  it("refuses anything else", () => {
    for (const header of [
      undefined,
      "",
      "t0ken-value",
      "Basic t0ken-value",
      "Bearer",
      "Bearer t0ken-valu",
      "Bearer t0ken-value2",
      "Bearer T0KEN-VALUE",
      "Bearer t0ken-value extra",
    ]) {
      expect(auth.check(header), String(header)).toBe(false);
    }
  });

  it("refuses an empty Bearer value even for a token that hashes like the empty string", () => {
    expect(new BearerAuth("").check("Bearer ")).toBe(false);
    expect(new BearerAuth("").check(undefined)).toBe(false);
  });
});
