import { METADATA_ATTR_PREFIX } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { cleanPath, flattenMetadata, isSecretKey, looksLikeSecret, SCRUB_LIMITS } from "../src/scrub.ts";

const flat = (metadata: unknown) => {
  const out: Record<string, unknown> = {};
  flattenMetadata(metadata, out as never, "");
  return out;
};

describe("isSecretKey", () => {
  it.each([
    "password",
    "Password",
    "user_password",
    "newPassword",
    "passwd",
    "pwd",
    "passphrase",
    "passcode",
    "PIN",
    "secret",
    "client_secret",
    "clientSecret",
    "token",
    "accessToken",
    "refresh-token",
    "X-CSRF-TOKEN",
    "authorization",
    "Authorization",
    "proxy-authorization",
    "cookie",
    "Set-Cookie",
    "apiKey",
    "api_key",
    "API_KEY",
    "x-api-key",
    "ApiKey",
    "otp",
    "OTP",
    "totp",
    "one_time_code",
    "oneTimeCode",
    "one-time-password",
    "privateKey",
    "AWS_ACCESS_KEY_ID",
    "sessionId",
    "session_id",
    "credentials",
    "jwt",
    "cvv",
  ])("drops %s", (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each([
    "username",
    "email",
    "statusCode",
    "author",
    "footprint",
    "passport",
    "keyboard",
    "userId",
    "route",
  ])("keeps %s", (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe("looksLikeSecret", () => {
  it.each([
    "Bearer abc.def.ghi-123",
    "bearer 0123456789abcdef",
    "Basic YWxpY2U6aHVudGVyMg==",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "password=hunter2",
    "user=a&Password=hunter2",
    '{"password":"hunter2"}',
    "api_key: abc",
    "x-api-key=abc",
    "otp=123456",
    "one_time_code=123456",
    "jsessionid=ABC",
    "https://alice:hunter2@example.com/",
    "postgres://app:s3cr3t@db:5432/app",
    "-----BEGIN RSA PRIVATE KEY-----",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AKIAABCDEFGHIJKLMNOP",
    "sk_live_abcdefghijklmnop",
    "reset?token%3Dabc",
  ])("flags %s", (value) => {
    expect(looksLikeSecret(value)).toBe(true);
  });

  it.each([
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "curl/8.5.0",
    "admin:read",
    "/users/:id",
    "report/42",
    "hello world",
    "alice@example.com",
    "2001:db8::1",
  ])("passes %s", (value) => {
    expect(looksLikeSecret(value)).toBe(false);
  });
});

describe("cleanPath", () => {
  it("drops the query string and fragment", () => {
    expect(cleanPath("/a/b?password=x#frag")).toBe("/a/b");
    expect(cleanPath("/a#x?y")).toBe("/a");
  });
  it("redacts segments that carry secrets, drops matrix parameters", () => {
    expect(cleanPath("/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln/confirm")).toBe(
      "/reset/[redacted]/confirm",
    );
    expect(cleanPath("/app;jsessionid=ABC123/page")).toBe("/app/page");
    expect(cleanPath("/files;v=2/x")).toBe("/files/x");
    expect(cleanPath("/users/1%3D1")).toBe("/users/[redacted]");
  });
  it("refuses what is not a path", () => {
    expect(cleanPath("hunter2")).toBeUndefined();
    expect(cleanPath("")).toBeUndefined();
    expect(cleanPath(42)).toBeUndefined();
  });
});

describe("flattenMetadata", () => {
  it("uses the documented prefix by default", () => {
    const out: Record<string, unknown> = {};
    flattenMetadata({ a: { b: 1 } }, out as never);
    expect(out).toEqual({ [`${METADATA_ATTR_PREFIX}a.b`]: 1 });
    expect(METADATA_ATTR_PREFIX).toBe("secmon.metadata.");
  });

  it("keeps primitives and homogeneous arrays, walks other arrays by index", () => {
    const when = new Date(Date.UTC(2026, 0, 2));
    expect(
      flat({
        s: "x",
        n: 1.5,
        i: 3,
        b: false,
        when,
        strings: ["a", "b"],
        numbers: [1, 2, Number.NaN],
        flags: [true, false],
        mixed: [1, "a", { k: "v" }],
        nothing: null,
        undef: undefined,
        big: 10n,
        fn: () => 1,
        sym: Symbol("s"),
        buffer: Buffer.from("secret bytes"),
        map: new Map([["a", 1]]),
        empty: [],
        "odd key!": "v",
      }),
    ).toEqual({
      s: "x",
      n: 1.5,
      i: 3,
      b: false,
      when: when.toISOString(),
      strings: ["a", "b"],
      numbers: [1, 2],
      flags: [true, false],
      "mixed.0": 1,
      "mixed.1": "a",
      "mixed.2.k": "v",
      odd_key_: "v",
    });
  });

  it("drops secret keys with everything below them, and secret values at any depth", () => {
    expect(
      flat({
        user: { name: "a", password: "x", profile: { apiKey: "k", note: "Bearer abcdefgh" } },
        items: [{ token: "t", id: 1 }, { id: 2 }],
        headers: { authorization: "Basic abc", cookie: "sid=1", accept: "json" },
        list: ["ok", "Bearer abcdefghij", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"],
      }),
    ).toEqual({
      "user.name": "a",
      "items.0.id": 1,
      "items.1.id": 2,
      "headers.accept": "json",
      list: ["ok"],
    });
  });

  it("is cycle-safe", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    const list: unknown[] = ["x"];
    list.push(list);
    a.list = list;
    expect(flat(a)).toEqual({ name: "a", "list.0": "x" });
  });

  it("bounds depth, attribute count, array length, string length and work", () => {
    let deep: Record<string, unknown> = { leaf: "bottom" };
    for (let i = 0; i < SCRUB_LIMITS.maxDepth + 3; i++) deep = { d: deep };
    expect(Object.keys(flat(deep))).toHaveLength(0);

    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(flat(wide))).toHaveLength(SCRUB_LIMITS.maxAttributes);

    const long = flat({ list: Array.from({ length: 1000 }, (_, i) => i), text: "x".repeat(10_000) });
    expect(long.list).toHaveLength(SCRUB_LIMITS.maxArrayLength);
    expect(long.text).toHaveLength(SCRUB_LIMITS.maxStringLength);

    const nestedArrays = {
      a: Array.from({ length: 1000 }, () => Array.from({ length: 1000 }, () => ({ x: 1 }))),
    };
    const started = performance.now();
    expect(Object.keys(flat(nestedArrays)).length).toBeLessThanOrEqual(SCRUB_LIMITS.maxAttributes);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("skips throwing getters and ignores non-objects", () => {
    const tricky = {
      ok: 1,
      get broken(): string {
        throw new Error("getter");
      },
    };
    expect(flat(tricky)).toEqual({ ok: 1 });
    expect(flat("password=x")).toEqual({});
    expect(flat([1, 2])).toEqual({});
    expect(flat(null)).toEqual({});
  });
});
