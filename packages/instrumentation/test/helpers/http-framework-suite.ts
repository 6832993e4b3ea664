import { ATTR, EVENT, SEVERITY } from "@secmon/semconv";
import { afterAll, describe, expect, it } from "vitest";
import { abortAfter, httpRequest, until } from "./http.ts";
import type { RunningApp } from "./http.ts";
import { memoryLogs } from "./sdk.ts";
import type { MemoryLogs } from "./sdk.ts";
import { servePerSuite } from "./served.ts";
import type { ServedApp } from "./served.ts";

export interface FrameworkAppOptions {
  /** Trust the loopback proxy's X-Forwarded-For. */
  readonly trustProxy?: boolean;
  /** Handed to the instrumentation as its user id getter. */
  readonly getUserId?: (request: unknown) => string | undefined;
}

/**
 * Starts an app of the framework on 127.0.0.1, instrumented to send to `logs`, with at least these
 * routes: GET /users/:id (answers the id as JSON), POST /echo (answers the JSON body), GET
 * /stream/:size (streams that many bytes, chunked), GET /slow (streams without end), GET /boom
 * (the handler throws), GET /who (answers the client address); a request's header x-test-user
 * becomes its user ({ id }) after the instrumentation ran.
 */
export type StartFrameworkApp = (logs: MemoryLogs, options: FrameworkAppOptions) => Promise<RunningApp>;

const GiB = 1024 * 1024 * 1024;

/**
 * What the instrumentation of every web framework does, over real HTTP:
 * `describeHttpFramework("Express middleware", start, (app) => { …the framework's own tests… })`.
 * The framework's own tests run against the same app.
 */
export function describeHttpFramework(
  name: string,
  start: StartFrameworkApp,
  ownTests: (app: ServedApp) => void = () => undefined,
): void {
  describe(`${name} over real HTTP`, () => {
    const app = servePerSuite((logs) => start(logs, {}));

    it("sends the route template, the path without query, method, status, sizes, duration, client", async () => {
      const { response, record } = await app.one("/users/42?token=secret&password=nope", {
        headers: { "user-agent": "secmon-test/1.0", "x-test-user": "u-1" },
      });
      expect(response.status).toBe(200);
      const a = record.attributes;
      expect(a[ATTR.HTTP_ROUTE]).toBe("/users/:id");
      expect(a[ATTR.URL_PATH]).toBe("/users/42");
      expect(a[ATTR.HTTP_REQUEST_METHOD]).toBe("GET");
      expect(a[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(200);
      expect(a[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(response.body.length);
      expect(a[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
      expect(a[ATTR.USER_AGENT_ORIGINAL]).toBe("secmon-test/1.0");
      expect(a[ATTR.USER_ID]).toBe("u-1");
      const duration = a[ATTR.HTTP_SERVER_REQUEST_DURATION] as number;
      expect(duration).toBeGreaterThan(0);
      expect(duration).toBeLessThan(5);
      expect(record.severityNumber).toBe(SEVERITY.INFO.number);
      expect(JSON.stringify(record.attributes)).not.toContain("secret");
      expect(JSON.stringify(record.attributes)).not.toContain("nope");
    });

    it("reports the request body size", async () => {
      const body = JSON.stringify({ hello: "world" });
      const { record } = await app.one("/echo", {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      expect(record.attributes[ATTR.HTTP_REQUEST_BODY_SIZE]).toBe(body.length);
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/echo");
    });

    it("leaves http.route out when no route matched", async () => {
      const { response, record } = await app.one("/nowhere/at/all");
      expect(response.status).toBe(404);
      expect(record.attributes).not.toHaveProperty(ATTR.HTTP_ROUTE);
      expect(record.attributes[ATTR.URL_PATH]).toBe("/nowhere/at/all");
      expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(404);
      expect(record.severityNumber).toBe(SEVERITY.WARN.number);
    });

    it("counts the bytes of a streamed (chunked) response", async () => {
      const size = 300_000;
      const { response, record } = await app.one(`/stream/${size}`);
      expect(response.headers["content-length"]).toBeUndefined();
      expect(response.body.length).toBe(size);
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(size);
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/stream/:size");
    });

    it("reports a thrown error as 500", async () => {
      const { response, record } = await app.one("/boom");
      expect(response.status).toBe(500);
      expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(500);
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/boom");
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(response.body.length);
      expect(record.severityNumber).toBe(SEVERITY.WARN.number);
    });

    it("emits exactly one event when the client aborts mid-stream", async () => {
      const received = await abortAfter(`${app.url}/slow`, 64 * 1024);
      await until(() => app.logs.records(EVENT.API_REQUEST).length >= 1, "api.request for aborted request");
      // give a late duplicate every chance to show up
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      const records = app.logs.records(EVENT.API_REQUEST);
      expect(records).toHaveLength(1);
      const record = records[0]!;
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/slow");
      expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(200);
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] as number).toBeGreaterThanOrEqual(received);
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] as number).toBeLessThan(GiB);
      expect(record.severityNumber).toBe(SEVERITY.WARN.number);
      expect(record.body).toBe("GET /slow aborted by the client");
      expect(record.attributes[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
    });

    ownTests(app);
  });

  describe(`${name}: trusted proxy and user getter`, () => {
    const started: { app: RunningApp; logs: MemoryLogs }[] = [];
    afterAll(async () => {
      for (const { app, logs } of started) {
        await app.close();
        await logs.shutdown();
      }
    });

    /** The api.request attributes of one GET /who with these headers, from a fresh app. */
    async function attributesOf(options: FrameworkAppOptions, headers: Record<string, string>) {
      const logs = memoryLogs();
      const app = await start(logs, options);
      started.push({ app, logs });
      await httpRequest(`${app.url}/who`, { headers });
      await until(() => logs.records(EVENT.API_REQUEST).length === 1, "api.request");
      return logs.records(EVENT.API_REQUEST)[0]!.attributes;
    }

    it("honours X-Forwarded-For only when the proxy is trusted", async () => {
      const forwarded = { "x-forwarded-for": "198.51.100.9" };
      expect((await attributesOf({}, forwarded))[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
      expect((await attributesOf({ trustProxy: true }, forwarded))[ATTR.CLIENT_ADDRESS]).toBe("198.51.100.9");
    });

    it("reads the user id with a configurable getter", async () => {
      const getUserId = (request: unknown) =>
        (request as { headers: Record<string, string> }).headers["x-user"];
      const attributes = await attributesOf({ getUserId }, { "x-user": "custom-7" });
      expect(attributes[ATTR.USER_ID]).toBe("custom-7");
    });
  });
}
