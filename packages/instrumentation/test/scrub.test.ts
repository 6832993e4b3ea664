import { METADATA_ATTR_PREFIX } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import {
  cleanPath,
  flattenMetadata,
  isSecretKey,
  looksLikeSecret,
  SCRUB_LIMITS,
  SCRUB_WORDS,
} from "../src/scrub.ts";
import { README } from "./helpers/readme.ts";

const flat = (metadata: unknown) => {
  const out: Record<string, unknown> = {};
  flattenMetadata(metadata, out as never, "");
  return out;
};

/** Keys that name a credential; as the name in a pair they name one too (see flattenMetadata). */
const CREDENTIAL_NAMES = [
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
  "pw",
  "newPw",
  "PWD",
  "passwords",
  "session",
  "_csrf",
  "_xsrf",
  "signingKey",
  "SAMLResponse",
  "Ocp-Apim-Subscription-Key",
  "licenseKey",
  // one-time codes: a `code` next to an authentication word
  "mfaCode",
  "mfa_code",
  "verificationCode",
  "otpCode",
  "otp-code",
  "smsCode",
  "resetCode",
  "recovery_codes",
  "backupCodes",
  "mfacode",
  "codeVerifier",
  // credential words with measure words: secret, but keep number values (see flattenMetadata)
  "token_count",
  "max_tokens",
];

/** Keys shaped like secrets. */
const SECRET_SHAPED_KEYS = [
  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
  "Bearer abcdefghijkl",
  "q8Zr3LmN0pXv7Tk2WcYb5HdJ9sFgA1eRuIoK4nMx",
  "https://tok3n@example.com",
  "theme=dark; session=abc",
];

describe("isSecretKey", () => {
  it.each([...CREDENTIAL_NAMES, ...SECRET_SHAPED_KEYS])("drops %s", (key) => {
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
    // `…code` keys without an authentication word, and a bare `code` (decided by where it is and
    // what it holds: see flattenMetadata)
    "countryCode",
    "errorCode",
    "zipCode",
    "promoCode",
    "keyCode",
    "httpStatusCode",
    "mfaErrorCode",
    "code",
    "codec",
    "barcode",
    // words that contain a credential word's letters
    "mfa",
    "mfaMethod",
    "verificationStatus",
    "sidebar",
    "spinner",
    "compass",
    "bypass",
    // ids and identifiers used as keys
    "550e8400-e29b-41d4-a716-446655440000",
    "getUserProfileByEmailAddressV2ForAdminPanel",
    "alice@example.com",
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
    // cookie and Set-Cookie header values, whatever the cookie names
    "session=abc123; theme=dark",
    "theme=dark;lang=en",
    "id=a3fWa; Path=/; HttpOnly; Secure",
    "id=a3fWa; HttpOnly",
    "laravel_session=abc",
    // user info in URLs, with or without a password
    "https://ghp_token@github.com/org/repo.git",
    "https://tok3n@example.com/",
    "git+ssh://deploy@example.com/repo",
    "//user@example.com/x",
    // query strings and pairs with short or compound names
    "https://app.example.com/callback?state=xyz&code=SplxlOBeZQ",
    "https://files.example.com/a.pdf?sv=2024&sig=abc%2Fdef",
    "/ws?auth=abc",
    "pw=hunter2",
    "pin=1234",
    "mfa_code=123456",
    "verificationCode: 123456",
    // JSON, also escaped or URL-encoded
    '{"pw":"hunter2"}',
    '{"code":"123456"}',
    '{"code": 123456}',
    String.raw`{\"password\":\"hunter2\"}`,
    "%7B%22password%22%3A%22hunter2%22%7D",
    // Authorization values of other schemes
    'Digest username="alice", realm="x", response="6629fae49393a05397450978507c4ef1"',
    "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAF1YAAAADw==",
    // XML elements and connection strings
    "<Login><Password>hunter2</Password></Login>",
    '<wsse:Password Type="PasswordText">hunter2</wsse:Password>',
    "<ns:AccessToken>abc</ns:AccessToken>",
    "Server=db;Database=app;User Id=sa;Password=hunter2;",
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc==",
    // token formats and long random tokens (base64, base64url)
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "glpat-abcdefghij0123456789",
    "sk-proj-abcdefghij0123456789ABCD",
    "q8Zr3LmN0pXv7Tk2WcYb5HdJ9sFgA1eRuIoK4nMx",
    "Zm9vYmFyYmF6/qux+Q2xhc3NpY1Rva2VuMTIzNDU2Nzg5MA==",
    "reset link token q8Zr3LmN0pXv7Tk2WcYb5HdJ9sFgA1eRuIoK4nMx sent",
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
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "statusCode=200",
    "barcode=123",
    "country_code: US",
    "error code: 1045",
    '{"code":"ECONNRESET"}',
    "text/html; charset=utf-8",
    "en-US,en;q=0.9",
    "max-age=31536000",
    "sort=asc",
    "mailto:alice@example.com",
    "git@github.com:org/repo.git",
    "https://example.com/list?page=2&sort=asc",
    "The session expired",
    "bypass cache",
    "token expired -> refresh",
    "<p>Your password was changed</p>",
    // ids and hashes: hex is never taken for a token (hashes and ids are as common as hex tokens)
    "550e8400-e29b-41d4-a716-446655440000",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
    "dQw4w9WgXcQdQw4w9WgXcQabcd12",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "auth0|5f7c8ec7c33c6c004bbafe82",
    // long identifiers are words, not random data
    "getUserProfileByEmailAddressV2ForAdminPanel",
    "ThisIsATestOfTheEmergencyBroadcastSystem123",
  ])("passes %s", (value) => {
    expect(looksLikeSecret(value)).toBe(false);
  });

  it("flags long random tokens, base64 and base64url, 27 bytes and more", () => {
    // deterministic pseudo-random bytes (mulberry32), so the test always sees the same tokens
    let seed = 0x5ec0;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) % 256;
    };
    const token = (bytes: number, encoding: "base64" | "base64url") =>
      Buffer.from(Array.from({ length: bytes }, next)).toString(encoding);
    for (const [bytes, encoding] of [
      [27, "base64url"],
      [32, "base64url"],
      [32, "base64"],
      [48, "base64"],
    ] as const) {
      const tokens = Array.from({ length: 1000 }, () => token(bytes, encoding));
      const missed = tokens.filter((t) => !looksLikeSecret(t));
      expect(
        missed.length,
        `${bytes} bytes ${encoding}: ${missed.slice(0, 3).join(" ")}`,
      ).toBeLessThanOrEqual(10);
    }
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

  it("drops the element after a secret-named one in arrays (rawHeaders, [name, value] pairs)", () => {
    expect(
      flat({
        rawHeaders: [
          "Host",
          "example.com",
          "Cookie",
          "session=abc",
          "X-Api-Key",
          "k-123",
          "Authorization",
          "Basic YWxpY2U6aHVudGVyMg==",
          "Set-Cookie",
          "id=1",
          "Accept",
          "*/*",
        ],
        pairs: [
          ["password", "hunter2"],
          ["accept", "json"],
        ],
        entries: Object.entries({ cookie: "a", "x-auth-token": "b", host: "h" }),
        mixed: ["otp", 123456, "ok"],
        nameOnly: ["password"],
      }),
    ).toEqual({
      rawHeaders: ["Host", "example.com", "Accept", "*/*"],
      "pairs.1": ["accept", "json"],
      "entries.2": ["host", "h"],
      "mixed.2": "ok",
    });
  });

  it("drops the pair of every name isSecretKey drops, in arrays and name/value objects", () => {
    for (const name of CREDENTIAL_NAMES) {
      expect(flat({ pairs: [name, "v-1", "Accept", "json"], field: { name, value: "v-2" } }), name).toEqual({
        pairs: ["Accept", "json"],
      });
    }
  });

  it("keeps array strings with spaces: they are text, not names", () => {
    expect(flat({ messages: ["Reset your password", "then sign in"] })).toEqual({
      messages: ["Reset your password", "then sign in"],
    });
  });

  it("drops name/value objects whose name names a credential, in any case", () => {
    expect(
      flat({
        fields: [
          { name: "password", value: "hunter2" },
          { key: "api_key", value: "k" },
          { Name: "Authorization", Value: "Bearer abcdefgh" },
          { NAME: "mfaCode", VALUE: "123456" },
          { header: "Cookie", values: ["a=1"] },
          { fieldName: "pin", input: "1234" },
          { type: "password", value: "hunter2" },
          { name: "email", value: "a@example.com" },
          { type: "password_change", count: 1 },
          { name: "Secret Santa", size: 3 },
        ],
      }),
    ).toEqual({
      "fields.7.name": "email",
      "fields.7.value": "a@example.com",
      // a `type` or `label` alone names a kind of thing: dropped only next to a `value`
      "fields.8.type": "password_change",
      "fields.8.count": 1,
      // names have no spaces
      "fields.9.name": "Secret Santa",
      "fields.9.size": 3,
    });
  });

  it("drops cookie, authorization, URL and JSON values under innocent keys", () => {
    expect(
      flat({
        h1: "session=abc123; theme=dark",
        h2: ["id=abc; Path=/; HttpOnly", "lang=en; Max-Age=60"],
        a1: "Basic YWxpY2U6aHVudGVyMg==",
        a2: "Bearer abcdefgh",
        a3: 'Digest username="alice", response="6629fae4"',
        u1: "https://TOKEN123@git.example.com/org/repo.git",
        u2: "https://app.example.com/callback?code=SplxlOBeZQ&state=xyz",
        u3: "https://app.example.com/reset?token=abc&password=x",
        j1: '{"password":"hunter2"}',
        j2: '{"pw":"hunter2"}',
        ok: "https://example.com/list?page=2",
      }),
    ).toEqual({ ok: "https://example.com/list?page=2" });
  });

  it("drops one-time codes: *code keys with an authentication word, bare code by place and value", () => {
    expect(
      flat({
        mfaCode: "123456",
        verificationCode: "A1B2C3",
        otpCode: 123456,
        sms_code: "x",
        recoveryCodes: ["abcd-efgh"],
        mfa: { code: "A1B2", method: "totp", attempt: 2, value: "654321", codes: [123456, 654321] },
        verification: { code: "ABC", sent: "123 456" },
        login: { code: "E_LOCKED" },
        oauth: { code: "x" },
        top: { code: "123456" },
        top2: { code: 12345678 },
        top3: { code: "SplxlOBeZQQYbYS6WxSbIA4" },
        twoFactor: "123456",
        second_factor: { sent: 654321, channel: "sms" },
        // kept: error and status codes
        statusCode: 401,
        countryCode: "FR",
        errorCode: "E_LOCKED",
        mfaErrorCode: "E1",
        error: { code: "ECONNRESET" },
        http: { code: 404 },
        firebase: { code: "auth/invalid-email" },
        code: "ERR_INVALID_ARG",
      }),
    ).toEqual({
      "mfa.method": "totp",
      "mfa.attempt": 2,
      "second_factor.channel": "sms",
      statusCode: 401,
      countryCode: "FR",
      errorCode: "E_LOCKED",
      mfaErrorCode: "E1",
      "error.code": "ECONNRESET",
      "http.code": 404,
      "firebase.code": "auth/invalid-email",
      code: "ERR_INVALID_ARG",
    });
  });

  it("drops every spelling of a password", () => {
    expect(
      flat({ pw: "a", passwd: "b", pwd: "c", passphrase: "d", newPw: "e", user_pass: "f", PIN: 1234, ok: 1 }),
    ).toEqual({ ok: 1 });
  });

  it("keeps numbers under credential words with measure words only (token_count), nothing else", () => {
    expect(
      flat({
        usage: { token_count: 12, max_tokens: 256, total_tokens: 300, tokens_used: "12" },
        policy: { password_min_length: 8, password_max_age: "90d" },
        session_ttl: 3600,
        password: 123456,
        pin_number: 1234,
      }),
    ).toEqual({
      "usage.token_count": 12,
      "usage.max_tokens": 256,
      "usage.total_tokens": 300,
      "policy.password_min_length": 8,
      session_ttl: 3600,
    });
  });

  it("drops keys that look like secrets, with their values", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    expect(
      flat({
        [jwt]: 1,
        "Bearer abcdefghij": 2,
        q8Zr3LmN0pXv7Tk2WcYb5HdJ9sFgA1eRuIoK4nMx: { user: "u-1" },
        "https://tok3n@example.com": 3,
        "session=abc; theme=dark": 4,
        "password=hunter2": 5,
        "550e8400-e29b-41d4-a716-446655440000": 6,
        "alice@example.com": 7,
      }),
    ).toEqual({ "550e8400-e29b-41d4-a716-446655440000": 6, alice_example_com: 7 });
  });

  it("drops binary data, maps, sets, boxed strings and objects without own fields", () => {
    expect(
      flat({
        buffer: Buffer.from("password=hunter2"),
        bytes: new Uint8Array([1, 2]),
        arrayBuffer: new ArrayBuffer(4),
        map: new Map([["password", "hunter2"]]),
        set: new Set(["hunter2"]),
        boxed: new String("hunter2"),
        params: new URLSearchParams("token=abc"),
        headers: new Headers({ authorization: "Bearer abcdefgh" }),
        url: new URL("https://u:p@example.com/?token=abc"),
        ok: 1,
      }),
    ).toEqual({ ok: 1 });
  });

  it("reads own enumerable fields only, never a secret key's getter, and dates through Date.prototype", () => {
    class Account {
      id = "a-1";
      readonly #password = "hunter2";
      get password(): string {
        return this.#password;
      }
    }
    let reads = 0;
    const withGetters: Record<string, unknown> = { id: 1 };
    Object.defineProperty(withGetters, "password", {
      enumerable: true,
      get: () => {
        reads++;
        return "hunter2";
      },
    });
    Object.defineProperty(withGetters, "note", { enumerable: true, get: () => "Bearer abcdefghijkl" });
    class LyingDate extends Date {
      override toISOString(): string {
        return "password=hunter2";
      }
    }
    const notADate: unknown = Object.create(Date.prototype);
    const throwingElement = ["a", "b"];
    Object.defineProperty(throwingElement, 1, {
      get: () => {
        throw new Error("element");
      },
    });
    expect(
      flat({ account: new Account(), withGetters, when: new LyingDate(0), notADate, throwingElement }),
    ).toEqual({
      "account.id": "a-1",
      "withGetters.id": 1,
      when: "1970-01-01T00:00:00.000Z",
      "throwingElement.0": "a",
    });
    expect(reads).toBe(0);
  });

  it("is cycle-safe through pairs and name/value objects", () => {
    const pair: unknown[] = ["note", "x"];
    pair.push(pair);
    const object: Record<string, unknown> = { name: "region", value: "eu" };
    object.self = object;
    expect(flat({ pair, object })).toEqual({
      "pair.0": "note",
      "pair.1": "x",
      "object.name": "region",
      "object.value": "eu",
    });
  });

  it("stays bounded on huge keys, values and pair arrays", () => {
    const hugeKey = "a=b,".repeat(250_000) + ";";
    const result = flat({
      [hugeKey]: 1,
      value: hugeKey,
      pairs: Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]),
    });
    expect(Object.keys(result).length).toBeLessThanOrEqual(SCRUB_LIMITS.maxAttributes);
    for (const key of Object.keys(result)) {
      for (const segment of key.split("."))
        expect(segment.length).toBeLessThanOrEqual(SCRUB_LIMITS.maxKeyLength);
    }
    const indices = Object.keys(result)
      .filter((k) => k.startsWith("pairs."))
      .map((k) => Number(k.split(".")[1]));
    expect(indices.length).toBeGreaterThan(0);
    expect(Math.max(...indices)).toBeLessThan(SCRUB_LIMITS.maxArrayLength);
  });
});

describe("README parity", () => {
  const readme = README.replace(/\s+/g, " ");
  /** The comma-separated words between `before` and `after` in the README ("a, b or c" too). */
  const listBetween = (before: string, after: string) => {
    const start = readme.indexOf(before);
    expect(start, before).toBeGreaterThanOrEqual(0);
    const end = readme.indexOf(after, start + before.length);
    return readme
      .slice(start + before.length, end)
      .split(/, | or /)
      .map((word) => word.trim())
      .sort();
  };
  const sorted = (words: ReadonlySet<string>) => [...words].sort();

  it("lists the authentication, ordinary-code, second-factor and measure words as the code has them", () => {
    expect(listBetween("one of the authentication words (", ")")).toEqual(sorted(SCRUB_WORDS.authCode));
    expect(listBetween("Not when the key also holds one of ", " (")).toEqual(
      sorted(SCRUB_WORDS.ordinaryCode),
    );
    expect(listBetween("Below a key holding ", ", or two")).toEqual(sorted(SCRUB_WORDS.otpContext));
    expect(listBetween("verification, or ", " factor in several words")).toEqual(
      SCRUB_WORDS.otpContextFragments.map((fragment) => fragment.replace(/factor$/, "")).sort(),
    );
    expect(listBetween("only measures it (", ")")).toEqual(sorted(SCRUB_WORDS.measure));
  });
});
