/** Configuration mistakes fail at start-up with an InstrumentationConfigError that says what to fix. */
import { diag } from "@opentelemetry/api";
import { afterEach, describe, expect, it, vi } from "vitest";
import { INSTRUMENTATION_ERROR_CODES, InstrumentationConfigError } from "../src/errors.ts";
import type { InstrumentationErrorCode } from "../src/errors.ts";
import { createSecurityEvents } from "../src/events.ts";
import { createExpressMiddleware } from "../src/express.ts";
import { DEVELOPMENT_HASH_KEY, HASH_SECRET_ENV, resolveHashKey } from "../src/hash.ts";
import { readmeTable, unquote } from "./helpers/readme.ts";
import { memoryLogs, TEST_SECRET } from "./helpers/sdk.ts";

/** The error `run` throws, asserted to be an InstrumentationConfigError with `code`. */
function configError(run: () => unknown, code: InstrumentationErrorCode): InstrumentationConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InstrumentationConfigError);
  expect((caught as InstrumentationConfigError).code).toBe(code);
  return caught as InstrumentationConfigError;
}

afterEach(() => {
  vi.unstubAllEnvs();
  diag.disable();
});

describe("hashSecret", () => {
  it("empty counts as not set, as an empty SECMON_HASH_SECRET does", () => {
    for (const empty of ["", new Uint8Array(0)]) {
      // development: the development key, as with nothing set
      const development = resolveHashKey(empty, "development", {});
      expect(development.development).toBe(true);
      expect(development.key.toString()).toBe(DEVELOPMENT_HASH_KEY);
      expect(resolveHashKey(empty, "development", { [HASH_SECRET_ENV]: "" }).development).toBe(true);
      // the environment variable is used, as with the option left out
      const fromEnv = resolveHashKey(empty, "production", { [HASH_SECRET_ENV]: TEST_SECRET });
      expect(fromEnv.development).toBe(false);
      expect(fromEnv.key.toString()).toBe(TEST_SECRET);
      // production without either: missing, not too short
      configError(() => resolveHashKey(empty, "production", {}), "HASH_SECRET_MISSING");
    }
    expect(() => createSecurityEvents({ hashSecret: "", environment: "development" })).not.toThrow();
  });

  it("neither a string nor a Uint8Array: a configuration error naming the option, not a TypeError", () => {
    for (const [value, kind] of [
      [12345, "a number"],
      [null, "null"],
      [{ secret: TEST_SECRET }, "an object"],
      [[1, 2, 3], "an array"],
      [true, "a boolean"],
    ] as const) {
      const error = configError(
        () => createSecurityEvents({ hashSecret: value as never, environment: "production" }),
        "HASH_SECRET_INVALID",
      );
      expect(error.message).toContain("`hashSecret`");
      expect(error.message).toContain(`is ${kind};`);
      expect(error.message).toContain(HASH_SECRET_ENV);
    }
  });

  it("a short non-empty secret is still refused", () => {
    configError(() => resolveHashKey("short", "development", {}), "HASH_SECRET_TOO_SHORT");
  });
});

describe("createExpressMiddleware", () => {
  it("without options or without events: a configuration error at construction naming `events`", () => {
    const none = configError(
      () => (createExpressMiddleware as (options?: unknown) => unknown)(),
      "EVENTS_MISSING",
    );
    expect(none.message).toContain("`events`");
    expect(none.message).toContain("createSecurityEvents()");
    expect(none.message).toContain("no options");
    const empty = configError(() => createExpressMiddleware({} as never), "EVENTS_MISSING");
    expect(empty.message).toContain("no `events`");
    configError(() => createExpressMiddleware({ events: {} as never }), "EVENTS_MISSING");
  });

  it("with events: no error", async () => {
    const logs = memoryLogs();
    expect(typeof createExpressMiddleware({ events: logs.events })).toBe("function");
    await logs.shutdown();
  });
});

describe("README", () => {
  it("lists every error code, and nothing else", () => {
    const listed = readmeTable("errors:codes").map(([code]) => unquote(code!));
    expect(listed.sort()).toEqual(Object.values(INSTRUMENTATION_ERROR_CODES).sort());
  });
});
