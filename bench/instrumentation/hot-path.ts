/**
 * Cost of one emitted event on the hot path (the synchronous part, in the request), through the
 * real SDK: LoggerProvider → SimpleLogRecordProcessor or BatchLogRecordProcessor → an exporter
 * that does nothing. Emits in chunks of 256 and yields between chunks, so the batch processor
 * exports (off the hot path) and never drops.
 */
import { performance } from "node:perf_hooks";
import { context } from "@opentelemetry/api";
import { BatchLogRecordProcessor, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { createSecurityEvents } from "@secmon/instrumentation";
import type { SecurityEvents } from "@secmon/instrumentation";
import { median } from "../common.ts";

type ExportCallback = Parameters<LogRecordExporter["export"]>[1];
/** ExportResultCode.SUCCESS of @opentelemetry/core. */
const SUCCESS = 0;

class NoopExporter implements LogRecordExporter {
  exported = 0;
  export(records: ReadableLogRecord[], done: ExportCallback): void {
    this.exported += records.length;
    done({ code: SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

const request = {
  ip: "203.0.113.7",
  headers: {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
  },
};

type Logger = ReturnType<LoggerProvider["getLogger"]>;
type Scenario = (events: SecurityEvents, logger: Logger, i: number) => void;

/** The record the middleware's api.request becomes, built once: what the SDK alone costs. */
const PREBUILT_ATTRIBUTES = {
  "client.address": request.ip,
  "user_agent.original": request.headers["user-agent"],
  "user.id": "u-42",
  "http.request.method": "GET",
  "http.route": "/users/:id",
  "url.path": "/users/42",
  "http.response.status_code": 200,
  "http.server.request.duration": 0.000731,
  "http.response.body.size": 27,
  "http.request.body.size": 0,
};

/**
 * The same attributes, added key by key in the reverse order (so that this object's hidden class
 * is neither the literal's nor the instrumentation's), with V8's enum cache filled as the
 * instrumentation does before it hands attributes over: the SDK's `Object.entries` then takes
 * V8's fast path. (Nothing enumerates PREBUILT_ATTRIBUTES itself: Object.keys or for…in on it
 * would fill its cache too.)
 */
const PRIMED_ATTRIBUTES: Record<string, string | number> = {};
PRIMED_ATTRIBUTES["http.request.body.size"] = 0;
PRIMED_ATTRIBUTES["http.response.body.size"] = 27;
PRIMED_ATTRIBUTES["http.server.request.duration"] = 0.000731;
PRIMED_ATTRIBUTES["http.response.status_code"] = 200;
PRIMED_ATTRIBUTES["url.path"] = "/users/42";
PRIMED_ATTRIBUTES["http.route"] = "/users/:id";
PRIMED_ATTRIBUTES["http.request.method"] = "GET";
PRIMED_ATTRIBUTES["user.id"] = "u-42";
PRIMED_ATTRIBUTES["user_agent.original"] = request.headers["user-agent"];
PRIMED_ATTRIBUTES["client.address"] = request.ip;
for (const _key in PRIMED_ATTRIBUTES) break;

const hrNow = (): [number, number] => {
  const ms = Date.now();
  const seconds = Math.trunc(ms / 1000);
  return [seconds, (ms - seconds * 1000) * 1e6];
};

/** The events measured: what the middleware emits per request, and a sign-in failure (hashes). */
const SCENARIOS: Record<string, Scenario> = {
  "SDK alone: logger.emit of the same api.request, prebuilt": (_events, logger) =>
    logger.emit({
      eventName: "api.request",
      severityNumber: 9,
      severityText: "INFO",
      body: "GET /users/:id answered 200",
      attributes: PREBUILT_ATTRIBUTES,
      timestamp: Date.now(),
    }),
  "SDK alone: the same, attributes with an enum cache, HrTime timestamps, context passed": (
    _events,
    logger,
  ) => {
    const now = hrNow();
    logger.emit({
      eventName: "api.request",
      severityNumber: 9,
      severityText: "INFO",
      body: "GET /users/:id answered 200",
      attributes: PRIMED_ATTRIBUTES,
      timestamp: [now[0], now[1]],
      observedTimestamp: now,
      context: context.active(),
    });
  },
  "api.request (middleware event, no identifier)": (events, _logger, i) =>
    events.apiRequest({
      request,
      userId: "u-42",
      method: "GET",
      route: "/users/:id",
      path: "/users/42",
      statusCode: 200,
      durationSeconds: 0.000731 + i * 1e-9,
      responseBodySize: 27,
      requestBodySize: 0,
    }),
  "auth.login failure (identifier hashed)": (events) =>
    events.loginFailure({ request, identifier: "alice@example.com", reason: "invalid_credentials" }),
  "data.access with 3 metadata keys": (events) =>
    events.dataAccess({
      request,
      userId: "u-42",
      resource: "report",
      operation: "export",
      recordCount: 1,
      bytes: 4096,
      metadata: { tenant: "acme", format: "csv", rows: 120 },
    }),
};

export interface HotPathResult {
  readonly processor: string;
  readonly scenario: string;
  /** Median over rounds of the CPU time of the synchronous part, ns per event. */
  readonly nsPerEvent: number;
  /** The same in wall-clock time (inflated when the machine is busy). */
  readonly wallNsPerEvent: number;
  readonly exported: number;
}

const CHUNK = 256;

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** A LoggerProvider whose loggers drop every record: isolates the instrumentation's own cost. */
const NOOP_PROVIDER = {
  getLogger: () => ({ emit: () => undefined, enabled: () => true }),
};

async function measure(
  makeProcessor: ((exporter: LogRecordExporter) => LogRecordProcessor) | undefined,
  scenario: Scenario,
  iterations: number,
  rounds: number,
): Promise<{ nsPerEvent: number; wallNsPerEvent: number; exported: number }> {
  const exporter = new NoopExporter();
  const provider =
    makeProcessor === undefined ? undefined : new LoggerProvider({ processors: [makeProcessor(exporter)] });
  const events = createSecurityEvents({
    hashSecret: "bench-secret-0123456789abcdef",
    environment: "production",
    loggerProvider: provider ?? (NOOP_PROVIDER as never),
  });
  // CPU time of the synchronous part (process.cpuUsage: user + system, all threads, so garbage
  // collection counts) and wall time; on a shared machine the CPU time is the stable figure.
  const logger: Logger = provider?.getLogger("bench") ?? (NOOP_PROVIDER.getLogger() as unknown as Logger);
  const run = async (count: number): Promise<{ cpuUs: number; wallMs: number }> => {
    let cpuUs = 0;
    let wallMs = 0;
    for (let done = 0; done < count; done += CHUNK) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (let i = 0; i < CHUNK; i++) scenario(events, logger, i);
      wallMs += performance.now() - start;
      const used = process.cpuUsage(cpu);
      cpuUs += used.user + used.system;
      await yieldToLoop();
    }
    return { cpuUs, wallMs };
  };
  await run(Math.min(iterations, 50_000)); // warm-up
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { cpuUs, wallMs } = await run(iterations);
    cpu.push((cpuUs * 1e3) / iterations);
    wall.push((wallMs * 1e6) / iterations);
  }
  await provider?.shutdown();
  return { nsPerEvent: median(cpu), wallNsPerEvent: median(wall), exported: exporter.exported };
}

export async function hotPath(iterations: number, rounds: number): Promise<HotPathResult[]> {
  const processors: Record<string, ((exporter: LogRecordExporter) => LogRecordProcessor) | undefined> = {
    "none (no-op Logger; ours only)": undefined,
    "Simple + no-op exporter": (exporter) => new SimpleLogRecordProcessor({ exporter }),
    "Batch + no-op exporter": (exporter) => new BatchLogRecordProcessor({ exporter }),
  };
  const results: HotPathResult[] = [];
  for (const [processor, make] of Object.entries(processors)) {
    for (const [scenario, fn] of Object.entries(SCENARIOS)) {
      if (make === undefined && scenario.startsWith("SDK alone")) continue;
      results.push({ processor, scenario, ...(await measure(make, fn, iterations, rounds)) });
    }
  }
  return results;
}
