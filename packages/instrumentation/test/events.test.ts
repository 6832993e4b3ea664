import { createHmac } from "node:crypto";
import { context, logs as stableLogs, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { ATTR, EVENT, METADATA_ATTR_PREFIX, SEVERITY } from "@secmon/semconv";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSecurityEvents } from "../src/events.ts";
import { INSTRUMENTATION_SCOPE } from "../src/logger.ts";
import { memoryLogs, TEST_SECRET } from "./helpers/sdk.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const expectedHash = (identifier: string) =>
  createHmac("sha256", TEST_SECRET).update(identifier.trim().toLowerCase()).digest("hex").slice(0, 32);

const request = { ip: "203.0.113.7", headers: { "user-agent": "Mozilla/5.0 (test)" } };

let logs: MemoryLogs;
afterEach(async () => {
  await logs?.shutdown();
});

function only(eventName: string): ReadableLogRecord {
  const records = logs.records(eventName);
  expect(records).toHaveLength(1);
  return records[0]!;
}

/** Asserts severity, body and attributes exactly (plus the shared attributes of `request`). */
function expectRecord(
  record: ReadableLogRecord,
  severity: (typeof SEVERITY)[keyof typeof SEVERITY],
  body: string,
  attributes: Record<string, unknown>,
) {
  expect(record.severityNumber).toBe(severity.number);
  expect(record.severityText).toBe(severity.text);
  expect(record.body).toBe(body);
  expect(record.attributes).toEqual({
    [ATTR.CLIENT_ADDRESS]: "203.0.113.7",
    [ATTR.USER_AGENT_ORIGINAL]: "Mozilla/5.0 (test)",
    ...attributes,
  });
  expect(record.hrTime[0]).toBe(T0 / 1000);
  expect(record.instrumentationScope.name).toBe(INSTRUMENTATION_SCOPE.name);
  expect(record.instrumentationScope.version).toBe(INSTRUMENTATION_SCOPE.version);
}

describe("every method produces its spec record (real SDK)", () => {
  beforeEach(() => {
    logs = memoryLogs({ clock: () => T0 });
  });

  it("auth.login success", () => {
    logs.events.loginSuccess({
      request,
      identifier: "  Alice@Example.COM ",
      userId: 42,
      sessionId: "sess-RAW",
    });
    expectRecord(only(EVENT.AUTH_LOGIN), SEVERITY.INFO, "login succeeded", {
      [ATTR.USER_HASH]: expectedHash("alice@example.com"),
      [ATTR.USER_ID]: "42",
      [ATTR.SESSION_ID]: createHmac("sha256", TEST_SECRET).update("sess-RAW").digest("hex").slice(0, 32),
      [ATTR.AUTH_OUTCOME]: "success",
      [ATTR.AUTH_METHOD]: "password",
    });
  });

  it("auth.login failure, for an unknown user too", () => {
    logs.events.loginFailure({ request, identifier: "nobody", reason: "unknown_user", method: "oidc" });
    expectRecord(only(EVENT.AUTH_LOGIN), SEVERITY.WARN, "login failed: unknown user", {
      [ATTR.USER_HASH]: expectedHash("nobody"),
      [ATTR.AUTH_OUTCOME]: "failure",
      [ATTR.AUTH_FAILURE_REASON]: "unknown_user",
      [ATTR.AUTH_METHOD]: "oidc",
    });
  });

  it("auth.logout", () => {
    logs.events.logout({ request, userId: "u1", reason: "timeout" });
    expectRecord(only(EVENT.AUTH_LOGOUT), SEVERITY.INFO, "session timed out", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTH_LOGOUT_REASON]: "timeout",
    });
  });

  it("auth.mfa success and failure", () => {
    logs.events.mfa({ request, userId: "u1", outcome: "success", method: "totp" });
    logs.events.mfa({ request, userId: "u1", outcome: "failure", method: "sms" });
    const [ok, failed] = logs.records(EVENT.AUTH_MFA);
    expectRecord(ok!, SEVERITY.INFO, "second factor accepted (totp)", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTH_OUTCOME]: "success",
      [ATTR.AUTH_MFA_METHOD]: "totp",
    });
    expectRecord(failed!, SEVERITY.WARN, "second factor rejected (sms)", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTH_OUTCOME]: "failure",
      [ATTR.AUTH_MFA_METHOD]: "sms",
    });
  });

  it("auth.password_change", () => {
    logs.events.passwordChange({ request, userId: "u1", outcome: "failure" });
    expectRecord(only(EVENT.AUTH_PASSWORD_CHANGE), SEVERITY.WARN, "password change failed", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTH_OUTCOME]: "failure",
    });
  });

  it("auth.password_reset, both stages", () => {
    logs.events.passwordReset({ request, identifier: "bob", stage: "requested" });
    logs.events.passwordReset({ request, identifier: "bob", stage: "completed", outcome: "failure" });
    const [requested, completed] = logs.records(EVENT.AUTH_PASSWORD_RESET);
    expectRecord(requested!, SEVERITY.INFO, "password reset requested", {
      [ATTR.USER_HASH]: expectedHash("bob"),
      [ATTR.AUTH_RESET_STAGE]: "requested",
      [ATTR.AUTH_OUTCOME]: "success",
    });
    expectRecord(completed!, SEVERITY.WARN, "password reset completion failed", {
      [ATTR.USER_HASH]: expectedHash("bob"),
      [ATTR.AUTH_RESET_STAGE]: "completed",
      [ATTR.AUTH_OUTCOME]: "failure",
    });
  });

  it("auth.account_locked", () => {
    logs.events.accountLocked({ request, identifier: "bob", userId: "u2", reason: "too_many_failures" });
    expectRecord(only(EVENT.AUTH_ACCOUNT_LOCKED), SEVERITY.WARN, "account locked: too many failures", {
      [ATTR.USER_HASH]: expectedHash("bob"),
      [ATTR.USER_ID]: "u2",
      [ATTR.AUTH_LOCK_REASON]: "too_many_failures",
    });
  });

  it("account.change", () => {
    logs.events.accountChange({ request, userId: "admin-1", changeType: "role_granted", targetUserId: 7 });
    expectRecord(only(EVENT.ACCOUNT_CHANGE), SEVERITY.INFO, "account changed: role granted", {
      [ATTR.USER_ID]: "admin-1",
      [ATTR.ACCOUNT_CHANGE_TYPE]: "role_granted",
      [ATTR.ACCOUNT_TARGET_USER_ID]: "7",
    });
  });

  it("authz.decision allow and deny, missing permissions as a string array", () => {
    logs.events.authzDecision({ request, userId: "u1", decision: "allow", permission: "reports:read" });
    logs.events.authzDecision({
      request,
      userId: "u1",
      decision: "deny",
      permission: "admin:read",
      missingPermissions: ["admin", "audit"],
      resource: "/admin",
    });
    const [allow, deny] = logs.records(EVENT.AUTHZ_DECISION);
    expectRecord(allow!, SEVERITY.INFO, "access allowed", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTHZ_DECISION]: "allow",
      [ATTR.AUTHZ_PERMISSION]: "reports:read",
    });
    expectRecord(deny!, SEVERITY.WARN, "access denied", {
      [ATTR.USER_ID]: "u1",
      [ATTR.AUTHZ_DECISION]: "deny",
      [ATTR.AUTHZ_PERMISSION]: "admin:read",
      [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin", "audit"],
      [ATTR.AUTHZ_RESOURCE]: "/admin",
    });
    expect(Array.isArray(deny!.attributes[ATTR.AUTHZ_MISSING_PERMISSIONS])).toBe(true);
  });

  it("input.validation_failure, query string never sent", () => {
    logs.events.inputValidationFailure({
      request,
      field: "id",
      rule: "sqli",
      route: "/users/:id",
      path: "/users/1'%20OR%201=1?debug=true",
    });
    expectRecord(only(EVENT.INPUT_VALIDATION_FAILURE), SEVERITY.WARN, "input rejected: sqli", {
      [ATTR.INPUT_FIELD]: "id",
      [ATTR.INPUT_RULE]: "sqli",
      [ATTR.HTTP_ROUTE]: "/users/:id",
      [ATTR.URL_PATH]: "/users/[redacted]",
    });
  });

  it("data.access with integer counts", () => {
    logs.events.dataAccess({
      request,
      userId: "u1",
      resource: "report",
      operation: "export",
      recordCount: 12,
      bytes: 4096,
    });
    const record = only(EVENT.DATA_ACCESS);
    expectRecord(record, SEVERITY.INFO, "data export", {
      [ATTR.USER_ID]: "u1",
      [ATTR.DATA_RESOURCE]: "report",
      [ATTR.DATA_OPERATION]: "export",
      [ATTR.DATA_RECORD_COUNT]: 12,
      [ATTR.DATA_BYTES]: 4096,
    });
    expect(Number.isInteger(record.attributes[ATTR.DATA_BYTES])).toBe(true);
  });

  it("api.request: ints are ints, the duration a double, the route a template", () => {
    logs.events.apiRequest({
      request,
      userId: "u1",
      method: "get",
      route: "/users/:id",
      path: "/users/7?token=abc",
      statusCode: 404,
      durationSeconds: 0.012345,
      responseBodySize: 18,
      requestBodySize: 0,
    });
    const record = only(EVENT.API_REQUEST);
    expectRecord(record, SEVERITY.WARN, "GET /users/:id answered 404", {
      [ATTR.USER_ID]: "u1",
      [ATTR.HTTP_REQUEST_METHOD]: "GET",
      [ATTR.HTTP_ROUTE]: "/users/:id",
      [ATTR.URL_PATH]: "/users/7",
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.012345,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 18,
      [ATTR.HTTP_REQUEST_BODY_SIZE]: 0,
    });
    expect(Number.isInteger(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE])).toBe(true);
    expect(Number.isInteger(record.attributes[ATTR.HTTP_SERVER_REQUEST_DURATION])).toBe(false);
  });

  it("api.request: INFO below 400, unknown methods as _OTHER, no route when none matched", () => {
    logs.events.apiRequest({ method: "BREW", path: "/pot", statusCode: 200, durationSeconds: 0.5 });
    const record = only(EVENT.API_REQUEST);
    expect(record.severityNumber).toBe(SEVERITY.INFO.number);
    expect(record.body).toBe("_OTHER (no route) answered 200");
    expect(record.attributes[ATTR.HTTP_REQUEST_METHOD]).toBe("_OTHER");
    expect(record.attributes).not.toHaveProperty(ATTR.HTTP_ROUTE);
  });
});

describe("shared behaviour", () => {
  it("unknown enum values become `other`, never the caller's string", () => {
    logs = memoryLogs();
    logs.events.loginFailure({ reason: "hunter2" as never, method: "carrier-pigeon" as never });
    const record = only(EVENT.AUTH_LOGIN);
    expect(record.attributes[ATTR.AUTH_FAILURE_REASON]).toBe("other");
    expect(record.attributes[ATTR.AUTH_METHOD]).toBe("other");
    expect(record.body).toBe("login failed: other");
  });

  it("user.name only on opt-in; user.hash always when an identifier is supplied", () => {
    logs = memoryLogs();
    logs.events.loginFailure({ identifier: "Carol", reason: "invalid_credentials" });
    expect(only(EVENT.AUTH_LOGIN).attributes).not.toHaveProperty(ATTR.USER_NAME);
    void logs.shutdown();
    logs = memoryLogs({ includeUserName: true });
    logs.events.loginFailure({ identifier: " Carol ", reason: "invalid_credentials" });
    const record = only(EVENT.AUTH_LOGIN);
    expect(record.attributes[ATTR.USER_NAME]).toBe("Carol");
    expect(record.attributes[ATTR.USER_HASH]).toBe(expectedHash("carol"));
    expect(record.body).not.toContain("Carol");
  });

  it("no identifier, no user.hash; an invalid client address is dropped", () => {
    logs = memoryLogs();
    logs.events.loginSuccess({ identifier: "   ", clientAddress: "not-an-ip" });
    const record = only(EVENT.AUTH_LOGIN);
    expect(record.attributes).not.toHaveProperty(ATTR.USER_HASH);
    expect(record.attributes).not.toHaveProperty(ATTR.CLIENT_ADDRESS);
  });

  it.each([
    ["203.0.113.7", true],
    ["0.0.0.0", true],
    ["255.255.255.255", true],
    ["::ffff:192.0.2.1", true],
    ["2001:db8::1", true],
    ["256.1.1.1", false],
    ["01.2.3.4", false],
    ["1.2.3", false],
    ["1.2.3.4.5", false],
    ["1..3.4", false],
    ["1.2.3.4 ", false],
    ["hunter2", false],
    ["2001:db8::zz", false],
  ])("client.address %s accepted: %s", (address, accepted) => {
    logs = memoryLogs();
    logs.events.logout({ clientAddress: address });
    expect(only(EVENT.AUTH_LOGOUT).attributes[ATTR.CLIENT_ADDRESS]).toBe(accepted ? address : undefined);
  });

  it("falls back to the clock for an unusable time", () => {
    logs = memoryLogs({ clock: () => T0 });
    logs.events.logout({ time: new Date(Number.NaN) });
    logs.events.logout({ time: "yesterday" as never });
    expect(logs.records(EVENT.AUTH_LOGOUT).map((r) => r.hrTime[0])).toEqual([T0 / 1000, T0 / 1000]);
  });

  it("accepts IPv6 addresses and an explicit time", () => {
    logs = memoryLogs();
    logs.events.logout({ clientAddress: "2001:db8::1", time: new Date(T0) });
    const record = only(EVENT.AUTH_LOGOUT);
    expect(record.attributes[ATTR.CLIENT_ADDRESS]).toBe("2001:db8::1");
    expect(record.hrTime[0]).toBe(T0 / 1000);
  });

  it("flattens metadata under the documented prefix", () => {
    logs = memoryLogs();
    logs.events.dataAccess({
      resource: "orders",
      operation: "read",
      metadata: { tenant: "acme", page: { size: 50, cursor: "abc" }, tags: ["a", "b"], password: "x" },
    });
    const attributes = only(EVENT.DATA_ACCESS).attributes;
    expect(attributes[`${METADATA_ATTR_PREFIX}tenant`]).toBe("acme");
    expect(attributes[`${METADATA_ATTR_PREFIX}page.size`]).toBe(50);
    expect(attributes[`${METADATA_ATTR_PREFIX}page.cursor`]).toBe("abc");
    expect(attributes[`${METADATA_ATTR_PREFIX}tags`]).toEqual(["a", "b"]);
    expect(Object.keys(attributes).some((k) => k.includes("password"))).toBe(false);
  });
});

describe("trace context", () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it("records emitted inside an active span carry its trace and span ids", () => {
    logs = memoryLogs();
    const tracer = new BasicTracerProvider().getTracer("test");
    const span = tracer.startSpan("POST /login");
    context.with(trace.setSpan(context.active(), span), () => {
      logs.events.loginFailure({ identifier: "dave", reason: "invalid_credentials" });
    });
    span.end();
    logs.events.loginFailure({ identifier: "dave", reason: "invalid_credentials" });
    const [inside, outside] = logs.records(EVENT.AUTH_LOGIN);
    expect(inside!.spanContext?.traceId).toBe(span.spanContext().traceId);
    expect(inside!.spanContext?.spanId).toBe(span.spanContext().spanId);
    expect(outside!.spanContext).toBeUndefined();
  });
});

describe("global LoggerProvider", () => {
  afterEach(() => {
    stableLogs.disable();
  });

  it("uses the provider registered with @opentelemetry/api (as NodeSDK does), even when registered later", () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    const events = createSecurityEvents({ hashSecret: TEST_SECRET, environment: "production" });
    events.logout({ userId: "before-registration" });
    stableLogs.setGlobalLoggerProvider(provider);
    events.logout({ userId: "after-registration" });
    const records = exporter.getFinishedLogRecords();
    expect(records.map((r) => r.attributes[ATTR.USER_ID])).toEqual(["after-registration"]);
  });

  it("uses the provider registered with @opentelemetry/api-logs", async () => {
    const { logs: bridgeLogs } = await import("@opentelemetry/api-logs");
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    bridgeLogs.setGlobalLoggerProvider(provider);
    try {
      const events = createSecurityEvents({ hashSecret: TEST_SECRET, environment: "production" });
      events.logout({ userId: "via-api-logs" });
      expect(exporter.getFinishedLogRecords()).toHaveLength(1);
    } finally {
      bridgeLogs.disable();
    }
  });
});
