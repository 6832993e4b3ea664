import { diag, DiagLogLevel } from "@opentelemetry/api";
import type { DiagLogger } from "@opentelemetry/api";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InstrumentationConfigError } from "../src/errors.ts";
import { createSecurityEvents } from "../src/events.ts";
import {
  DEVELOPMENT_HASH_KEY,
  HASH_SECRET_ENV,
  hashIdentifier,
  hashSessionId,
  resolveEnvironment,
  resolveHashKey,
} from "../src/hash.ts";
import { TEST_SECRET } from "./helpers/sdk.ts";

describe("user.hash and session.id", () => {
  // vectors computed independently: printf '<id>' | openssl dgst -sha256 -hmac '<secret>' | cut -c1-32
  it("matches the spec: HMAC-SHA256 of the trimmed, lower-cased identifier, 32 lowercase hex", () => {
    expect(hashIdentifier(TEST_SECRET, "alice@example.com")).toBe("7f419df85a9fedf2cad001ba92d3ad61");
    expect(hashIdentifier(TEST_SECRET, "  ALICE@Example.com\t")).toBe("7f419df85a9fedf2cad001ba92d3ad61");
    expect(hashIdentifier(TEST_SECRET, "ÄDMIN@EXÄMPLE.COM")).toBe("e0f65fca10533896af02c00c69e452fe");
    expect(hashIdentifier(Buffer.from(TEST_SECRET), "alice@example.com")).toBe(
      "7f419df85a9fedf2cad001ba92d3ad61",
    );
  });

  it("hashes session ids as given (case-sensitive, untrimmed)", () => {
    expect(hashSessionId(TEST_SECRET, "session-token-value")).toBe("bc46c100f3f716e813c864f52f6f307b");
    expect(hashSessionId(TEST_SECRET, "SESSION-token-value")).not.toBe("bc46c100f3f716e813c864f52f6f307b");
  });
});

describe("environment and secret resolution", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    diag.disable();
  });

  it("treats an unset environment as production", () => {
    expect(resolveEnvironment(undefined, {})).toBe("production");
    expect(resolveEnvironment(" Staging ", { NODE_ENV: "development" })).toBe("staging");
  });

  it("lets a non-development value win when NODE_ENV and deployment.environment.name disagree", () => {
    const env = {
      NODE_ENV: "development",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=x,deployment.environment.name=prod",
    };
    expect(resolveEnvironment(undefined, env)).toBe("prod");
    expect(
      resolveEnvironment(undefined, { OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test" }),
    ).toBe("test");
  });

  it("refuses to start without a secret outside development and test, saying what to set", () => {
    let error: unknown;
    try {
      resolveHashKey(undefined, "production", {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InstrumentationConfigError);
    expect((error as InstrumentationConfigError).code).toBe("HASH_SECRET_MISSING");
    expect((error as Error).message).toContain("`hashSecret`");
    expect((error as Error).message).toContain(HASH_SECRET_ENV);
    expect((error as Error).message).toContain('"production"');
    expect(() => createSecurityEvents({ environment: "staging" })).toThrow(InstrumentationConfigError);
  });

  it("reads the secret from SECMON_HASH_SECRET and rejects short secrets", () => {
    const fromEnv = resolveHashKey(undefined, "production", { [HASH_SECRET_ENV]: TEST_SECRET });
    expect(fromEnv.development).toBe(false);
    expect(fromEnv.key.toString()).toBe(TEST_SECRET);
    expect(() => resolveHashKey("short", "production", {})).toThrow(/at least 16/);
    vi.stubEnv(HASH_SECRET_ENV, TEST_SECRET);
    expect(() => createSecurityEvents({ environment: "production" })).not.toThrow();
  });

  it("uses the labelled development key with a diag warning in development and test", () => {
    const warnings: string[] = [];
    const logger: DiagLogger = {
      error: () => undefined,
      warn: (message) => warnings.push(message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    };
    diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    const resolved = resolveHashKey(undefined, "test", {});
    expect(resolved.development).toBe(true);
    expect(resolved.key.toString()).toBe(DEVELOPMENT_HASH_KEY);
    expect(DEVELOPMENT_HASH_KEY).toMatch(/INSECURE/);
    vi.stubEnv(HASH_SECRET_ENV, "");
    createSecurityEvents({ environment: "development" });
    expect(warnings.join("\n")).toMatch(/DEVELOPMENT key/);
    expect(warnings.join("\n")).toContain(HASH_SECRET_ENV);
  });
});
