/**
 * What the OTLP/gRPC and OTLP/HTTP receiver tests share: per-test cleanups, starting a receiver
 * on a free port with the test doubles, the security events the real exporters send and what the
 * receiver must make of them, and the startup and stop() tests every receiver passes.
 */
import type { LogRecord } from "@opentelemetry/api-logs";
import { ExportResultCode } from "@opentelemetry/core";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import { ATTR, AUTH_OUTCOME, AUTHZ_DECISION, EVENT } from "@secmon/semconv";
import { afterEach, expect, it } from "vitest";
import type { ReceiverOptions } from "../../src/receiver/export.ts";
import { SPAN_ID, TRACE_ID } from "./fixtures.ts";
import { RecordingIngestor, TestMetrics } from "./harness.ts";
import { exportThrough, tracedContext } from "./sdk.ts";

export type Cleanups = (() => Promise<void> | void)[];

/** A list of cleanups run after each test of the calling file, last registered first. */
export function cleanupAfterEach(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  return cleanups;
}

export interface Receiver {
  readonly port: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds (does not start) a receiver from raw config, which its section schema parses. */
export type BuildReceiver<R extends Receiver> = (
  config: Record<string, unknown>,
  deps: Omit<ReceiverOptions<unknown>, "config">,
) => R;

/** The arrival time the started receivers stamp on every batch. */
export const RECEIVED_AT = 1_900_000_000_000;

/** Three security events (one traced, one with an int over 32 bits, one with an array) and a plain log. */
export const securityEvents: LogRecord[] = [
  {
    eventName: EVENT.AUTH_LOGIN,
    severityNumber: 13,
    severityText: "WARN",
    body: "login failed: invalid credentials",
    attributes: { [ATTR.CLIENT_ADDRESS]: "203.0.113.7", [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE },
    context: tracedContext,
  },
  {
    eventName: EVENT.API_REQUEST,
    attributes: {
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.125,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 123_456_789_012,
    },
  },
  {
    eventName: EVENT.AUTHZ_DECISION,
    attributes: {
      [ATTR.AUTHZ_DECISION]: AUTHZ_DECISION.DENY,
      [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin", "ops"],
    },
  },
  { body: "not a security event" },
];

/**
 * Sends `securityEvents` (as service "checkout") through a real exporter, which must succeed, and
 * checks the one batch the receiver made of them and its metrics.
 */
export async function expectSecurityEventsReceived(
  exporter: LogRecordExporter,
  { ingestor, metrics }: { ingestor: RecordingIngestor; metrics: TestMetrics },
  transport: "grpc" | "http",
): Promise<void> {
  const result = await exportThrough(exporter, securityEvents);
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(ingestor.accepted).toHaveLength(1);
  const { batch, ctx } = ingestor.accepted[0]!;
  expect(ctx).toMatchObject({ transport, receivedAt: RECEIVED_AT });
  expect(ctx.batchId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(batch.ignored).toBe(1);
  expect(batch.events.map((e) => e.name)).toEqual([
    EVENT.AUTH_LOGIN,
    EVENT.API_REQUEST,
    EVENT.AUTHZ_DECISION,
  ]);
  const [login, api, authz] = batch.events;
  expect(login).toMatchObject({
    service: "checkout",
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    severityNumber: 13,
  });
  expect(api?.attributes).toEqual({
    [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
    [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.125,
    [ATTR.HTTP_RESPONSE_BODY_SIZE]: 123_456_789_012,
  });
  expect(authz?.attributes[ATTR.AUTHZ_MISSING_PERMISSIONS]).toEqual(["admin", "ops"]);
  expect(await metrics.sum("secmon_receiver_requests", { transport, outcome: "ok" })).toBe(1);
  expect(await metrics.points("secmon_events_received")).toEqual({
    "event_name=auth.login,service=checkout": 1,
    "event_name=api.request,service=checkout": 1,
    "event_name=authz.decision,service=checkout": 1,
  });
  expect(await metrics.sum("secmon_events_ignored")).toBe(1);
}

/**
 * One receiver kind under test, for the calling test file: `start` starts one on a free port with
 * a recording ingestor and test metrics (all stopped after the test; the bearer token resolves to
 * `token`), `startupTests` adds the tests every receiver passes at startup, and `expectStopDrains`
 * checks the stop() contract.
 */
export function receiverHarness<R extends Receiver>(build: BuildReceiver<R>, token: string) {
  const cleanups = cleanupAfterEach();

  async function start(config: Record<string, unknown> = {}) {
    const ingestor = new RecordingIngestor();
    const metrics = new TestMetrics();
    const receiver = build(config, {
      ingestor,
      metrics: metrics.metrics,
      now: () => RECEIVED_AT,
      resolveSecret: () => token,
    });
    await receiver.start();
    cleanups.push(() => metrics.stop());
    cleanups.push(() => receiver.stop());
    return { receiver, ingestor, metrics };
  }

  /** A taken endpoint fails startup with CONFIG_INVALID; `enabled: false` does not listen. */
  function startupTests(): void {
    it("fails to start with CONFIG_INVALID when the endpoint is taken", async () => {
      const { receiver } = await start();
      const second = build(
        { endpoint: `127.0.0.1:${receiver.port}` },
        { ingestor: new RecordingIngestor(), metrics: new TestMetrics().metrics },
      );
      await expect(second.start()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
      await second.stop();
    });

    it("does not listen when disabled", async () => {
      const { receiver } = await start({ enabled: false });
      expect(receiver.port).toBeUndefined();
    });
  }

  /**
   * stop() is safe before start() and twice in a row; on a started receiver it waits for the
   * batch `send` sent, held in the ingestor: after `whileStopping` it has not completed; once the
   * batch is released it is accepted, stop() completes and a second stop() is safe. Returns what
   * `send` returned.
   */
  async function expectStopDrains<T>(
    send: () => Promise<T>,
    whileStopping: () => Promise<unknown>,
    { receiver, ingestor }: { receiver: R; ingestor: RecordingIngestor },
  ): Promise<T> {
    const unstarted = build({}, { ingestor: new RecordingIngestor(), metrics: new TestMetrics().metrics });
    await unstarted.stop();
    await unstarted.stop();

    const gate = ingestor.hold();
    const pending = send();
    await gate.arrived;
    const stopped = receiver.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await whileStopping();
    expect(stopDone).toBe(false);
    gate.release();
    const result = await pending;
    await stopped;
    await receiver.stop();
    expect(ingestor.accepted).toHaveLength(1);
    return result;
  }

  return { cleanups, start, startupTests, expectStopDrains };
}
