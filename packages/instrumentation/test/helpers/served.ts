import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { EVENT } from "@secmon/semconv";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { httpRequest, until } from "./http.ts";
import type { HttpResult, RunningApp } from "./http.ts";
import { memoryLogs } from "./sdk.ts";
import type { MemoryLogs } from "./sdk.ts";

/** An app under test and the memory logs it sends its events to. */
export interface ServedApp {
  readonly logs: MemoryLogs;
  readonly url: string;
  /** Sends one request to `path` and waits for the one `eventName` record it makes. */
  one(
    path: string,
    options?: Parameters<typeof httpRequest>[1],
    eventName?: string,
  ): Promise<{ response: HttpResult; record: ReadableLogRecord }>;
}

/**
 * For the calling describe block: fresh memory logs and an app started on them before its tests,
 * both closed after them; the records are cleared after each test.
 */
export function servePerSuite(start: (logs: MemoryLogs) => Promise<RunningApp>): ServedApp {
  let running: { logs: MemoryLogs; app: RunningApp } | undefined;
  beforeAll(async () => {
    const logs = memoryLogs();
    running = { logs, app: await start(logs) };
  });
  afterAll(async () => {
    await running?.app.close();
    await running?.logs.shutdown();
  });
  afterEach(() => {
    running?.logs.exporter.reset();
  });
  const current = () => {
    if (running === undefined) throw new Error("the app is started in beforeAll");
    return running;
  };
  return {
    get logs() {
      return current().logs;
    },
    get url() {
      return current().app.url;
    },
    async one(path, options, eventName = EVENT.API_REQUEST) {
      const { logs, app } = current();
      const response = await httpRequest(app.url + path, options);
      await until(() => logs.records(eventName).length >= 1, `${eventName} for ${path}`);
      const records = logs.records(eventName);
      expect(records).toHaveLength(1);
      return { response, record: records[0]! };
    },
  };
}
