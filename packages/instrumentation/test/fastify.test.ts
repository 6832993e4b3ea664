import { Readable } from "node:stream";
import { ATTR, EVENT, SEVERITY } from "@secmon/semconv";
import Fastify from "fastify";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { secmonFastify } from "../src/fastify.ts";
import { abortAfter, httpRequest, until } from "./helpers/http.ts";
import { memoryLogs } from "./helpers/sdk.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

function byteStream(total: number, chunk = 16 * 1024): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk, total - sent);
      sent += size;
      setImmediate(() => this.push(Buffer.alloc(size, 0x62)));
    },
  });
}

async function build(
  logs: MemoryLogs,
  options: FastifyServerOptions = {},
  getUserId?: (request: unknown) => string | undefined,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify(options);
  await app.register(secmonFastify, { events: logs.events, getUserId });
  app.addHook("preHandler", async (request) => {
    const user = request.headers["x-test-user"];
    if (typeof user === "string") (request as { user?: unknown }).user = { id: user };
  });
  app.get("/users/:id", async (request) => ({ id: (request.params as { id: string }).id }));
  app.post("/echo", async (request) => request.body);
  await app.register(
    async (api) => {
      api.get("/orders/:order/items/:item", async () => "item");
    },
    { prefix: "/api/v1" },
  );
  app.get("/stream/:size", (request, reply) => {
    reply.type("application/octet-stream");
    return reply.send(byteStream(Number((request.params as { size: string }).size)));
  });
  app.get("/slow", (_request, reply) => {
    reply.type("application/octet-stream");
    return reply.send(byteStream(1024 * 1024 * 1024));
  });
  app.get("/boom", async () => {
    throw new Error("handler failure");
  });
  app.get("/who", async (request) => request.ip);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url };
}

describe("Fastify plugin over real HTTP", () => {
  let logs: MemoryLogs;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    logs = memoryLogs();
    ({ app, url } = await build(logs));
  });
  afterAll(async () => {
    await app.close();
    await logs.shutdown();
  });
  afterEach(() => {
    logs.exporter.reset();
  });

  async function one(path: string, options?: Parameters<typeof httpRequest>[1]) {
    const response = await httpRequest(url + path, options);
    await until(() => logs.records(EVENT.API_REQUEST).length >= 1, `api.request for ${path}`);
    const records = logs.records(EVENT.API_REQUEST);
    expect(records).toHaveLength(1);
    return { response, record: records[0]! };
  }

  it("sends the route template (with prefixes), path without query, status, sizes, client", async () => {
    const { response, record } = await one("/users/42?password=nope", {
      headers: { "user-agent": "secmon-test/1.0", "x-test-user": "u-9" },
    });
    const a = record.attributes;
    expect(a[ATTR.HTTP_ROUTE]).toBe("/users/:id");
    expect(a[ATTR.URL_PATH]).toBe("/users/42");
    expect(a[ATTR.HTTP_REQUEST_METHOD]).toBe("GET");
    expect(a[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(200);
    expect(a[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(response.body.length);
    expect(a[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
    expect(a[ATTR.USER_AGENT_ORIGINAL]).toBe("secmon-test/1.0");
    expect(a[ATTR.USER_ID]).toBe("u-9");
    expect(a[ATTR.HTTP_SERVER_REQUEST_DURATION] as number).toBeGreaterThan(0);
    logs.exporter.reset();
    const nested = await one("/api/v1/orders/1/items/2");
    expect(nested.record.attributes[ATTR.HTTP_ROUTE]).toBe("/api/v1/orders/:order/items/:item");
  });

  it("reports the request body size", async () => {
    const body = JSON.stringify({ a: 1 });
    const { record } = await one("/echo", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(record.attributes[ATTR.HTTP_REQUEST_BODY_SIZE]).toBe(body.length);
  });

  it("leaves http.route out for the not-found handler", async () => {
    const { response, record } = await one("/missing/thing");
    expect(response.status).toBe(404);
    expect(record.attributes).not.toHaveProperty(ATTR.HTTP_ROUTE);
    expect(record.attributes[ATTR.URL_PATH]).toBe("/missing/thing");
  });

  it("counts the bytes of a streamed response", async () => {
    const size = 250_000;
    const { response, record } = await one(`/stream/${size}`);
    expect(response.headers["content-length"]).toBeUndefined();
    expect(response.body.length).toBe(size);
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(size);
  });

  it("reports a thrown error as 500", async () => {
    const { response, record } = await one("/boom");
    expect(response.status).toBe(500);
    expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(500);
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/boom");
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(response.body.length);
    expect(record.severityNumber).toBe(SEVERITY.WARN.number);
  });

  it("emits exactly one event when the client aborts mid-stream", async () => {
    const received = await abortAfter(`${url}/slow`, 64 * 1024);
    await until(() => logs.records(EVENT.API_REQUEST).length >= 1, "api.request for aborted request");
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    const records = logs.records(EVENT.API_REQUEST);
    expect(records).toHaveLength(1);
    expect(records[0]!.attributes[ATTR.HTTP_ROUTE]).toBe("/slow");
    expect(records[0]!.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] as number).toBeGreaterThanOrEqual(received);
    expect(records[0]!.body).toBe("GET /slow aborted by the client");
    expect(records[0]!.attributes[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
  });
});

describe("Fastify trustProxy and user getter", () => {
  const apps: { app: FastifyInstance; logs: MemoryLogs }[] = [];
  afterAll(async () => {
    for (const { app, logs } of apps) {
      await app.close();
      await logs.shutdown();
    }
  });

  async function addressWith(options: FastifyServerOptions) {
    const logs = memoryLogs();
    const { app, url } = await build(logs, options);
    apps.push({ app, logs });
    await httpRequest(`${url}/who`, { headers: { "x-forwarded-for": "198.51.100.9" } });
    await until(() => logs.records(EVENT.API_REQUEST).length === 1, "api.request");
    return logs.records(EVENT.API_REQUEST)[0]!.attributes[ATTR.CLIENT_ADDRESS];
  }

  it("honours X-Forwarded-For only when the proxy is trusted", async () => {
    expect(await addressWith({})).toBe("127.0.0.1");
    expect(await addressWith({ trustProxy: "127.0.0.1" })).toBe("198.51.100.9");
  });

  it("reads the user id with a configurable getter", async () => {
    const logs = memoryLogs();
    const { app, url } = await build(
      logs,
      {},
      (request) => (request as { headers: Record<string, string> }).headers["x-user"],
    );
    apps.push({ app, logs });
    await httpRequest(`${url}/who`, { headers: { "x-user": "getter-1" } });
    await until(() => logs.records(EVENT.API_REQUEST).length === 1, "api.request");
    expect(logs.records(EVENT.API_REQUEST)[0]!.attributes[ATTR.USER_ID]).toBe("getter-1");
  });
});
