/**
 * The wire shape, end to end: the real OTLP/gRPC logs exporter sends to an in-test collector
 * that decodes the protobuf.
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { ATTR, EVENT, SEVERITY } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecurityEvents } from "../src/events.ts";
import { INSTRUMENTATION_SCOPE } from "../src/logger.ts";
import { startTestCollector } from "./helpers/otlp-grpc-server.ts";
import type { TestCollector, WireLogRecord } from "./helpers/otlp-grpc-server.ts";
import { TEST_SECRET } from "./helpers/sdk.ts";

const PASSWORD = "wire-canary-Pa55!";

describe("OTLP/gRPC wire shape", () => {
  let collector: TestCollector;
  let provider: LoggerProvider;
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    collector = await startTestCollector();
    provider = new LoggerProvider({
      resource: resourceFromAttributes({
        "service.name": "checkout",
        "service.version": "1.2.3",
        "deployment.environment.name": "production",
      }),
      processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: collector.url }) })],
    });
    const events = createSecurityEvents({
      hashSecret: TEST_SECRET,
      environment: "production",
      loggerProvider: provider,
    });
    const span = trace.wrapSpanContext({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    });
    context.with(trace.setSpan(context.active(), span), () => {
      events.loginFailure({
        request: { ip: "203.0.113.7", headers: { "user-agent": "curl/8" } },
        identifier: "alice",
        reason: "invalid_credentials",
        metadata: { password: PASSWORD, attempt: 3, ratio: 0.5, remembered: true, tags: ["a", "b"] },
      });
    });
    events.apiRequest({
      method: "GET",
      route: "/download/:id",
      path: "/download/7",
      statusCode: 200,
      durationSeconds: 0.0421,
      responseBodySize: 1048576,
      requestBodySize: 0,
      clientAddress: "2001:db8::7",
    });
    events.authzDecision({
      decision: "deny",
      permission: "admin:read",
      missingPermissions: ["admin", "audit"],
    });
    await provider.forceFlush();
  });

  afterAll(async () => {
    await provider.shutdown();
    await collector.close();
    context.disable();
  });

  const record = (name: string): WireLogRecord => {
    const found = collector.records.filter((r) => r.eventName === name);
    expect(found, name).toHaveLength(1);
    return found[0]!;
  };

  it("sets event_name (field 12), severity, body, trace context and resource", () => {
    expect(collector.records.map((r) => r.eventName).sort()).toEqual(
      [EVENT.API_REQUEST, EVENT.AUTH_LOGIN, EVENT.AUTHZ_DECISION].sort(),
    );
    const login = record(EVENT.AUTH_LOGIN);
    expect(login.severityNumber).toBe(SEVERITY.WARN.number);
    expect(login.severityText).toBe("WARN");
    expect(login.body).toEqual({ type: "string_value", value: "login failed: invalid credentials" });
    expect(login.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(login.spanId).toBe("00f067aa0ba902b7");
    expect(login.timeUnixNano).toBeGreaterThan(0n);
    expect(login.scope).toBe(INSTRUMENTATION_SCOPE.name);
    expect(login.resource["service.name"]).toEqual({ type: "string_value", value: "checkout" });
    expect(login.resource["deployment.environment.name"]).toEqual({
      type: "string_value",
      value: "production",
    });
    expect(record(EVENT.API_REQUEST).severityNumber).toBe(SEVERITY.INFO.number);
  });

  it("sends attribute values with the right OTLP types", () => {
    const api = record(EVENT.API_REQUEST).attributes;
    expect(api[ATTR.HTTP_RESPONSE_STATUS_CODE]).toEqual({ type: "int_value", value: 200 });
    expect(api[ATTR.HTTP_SERVER_REQUEST_DURATION]).toEqual({ type: "double_value", value: 0.0421 });
    expect(api[ATTR.HTTP_RESPONSE_BODY_SIZE]).toEqual({ type: "int_value", value: 1048576 });
    expect(api[ATTR.HTTP_REQUEST_BODY_SIZE]).toEqual({ type: "int_value", value: 0 });
    expect(api[ATTR.HTTP_ROUTE]).toEqual({ type: "string_value", value: "/download/:id" });
    expect(api[ATTR.URL_PATH]).toEqual({ type: "string_value", value: "/download/7" });
    expect(api[ATTR.HTTP_REQUEST_METHOD]).toEqual({ type: "string_value", value: "GET" });
    expect(api[ATTR.CLIENT_ADDRESS]).toEqual({ type: "string_value", value: "2001:db8::7" });

    const authz = record(EVENT.AUTHZ_DECISION).attributes;
    expect(authz[ATTR.AUTHZ_MISSING_PERMISSIONS]).toEqual({
      type: "array_value",
      value: [
        { type: "string_value", value: "admin" },
        { type: "string_value", value: "audit" },
      ],
    });
    expect(authz[ATTR.AUTHZ_DECISION]).toEqual({ type: "string_value", value: "deny" });

    const login = record(EVENT.AUTH_LOGIN).attributes;
    expect(login[ATTR.USER_HASH]?.type).toBe("string_value");
    expect(login[ATTR.AUTH_OUTCOME]).toEqual({ type: "string_value", value: "failure" });
    expect(login["secmon.metadata.attempt"]).toEqual({ type: "int_value", value: 3 });
    expect(login["secmon.metadata.ratio"]).toEqual({ type: "double_value", value: 0.5 });
    expect(login["secmon.metadata.remembered"]).toEqual({ type: "bool_value", value: true });
    expect(login["secmon.metadata.tags"]?.type).toBe("array_value");
  });

  it("never puts the password on the wire", () => {
    const bytes = Buffer.concat(collector.rawRequests);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    expect(bytes.includes(Buffer.from("alice"))).toBe(false);
  });
});
