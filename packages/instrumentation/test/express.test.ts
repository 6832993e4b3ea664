import type { Server } from "node:http";
import { Readable } from "node:stream";
import { ATTR, EVENT, SEVERITY } from "@secmon/semconv";
import express from "express";
import type { Express } from "express";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createExpressMiddleware } from "../src/express.ts";
import { abortAfter, baseUrl, httpRequest, until } from "./helpers/http.ts";
import { memoryLogs } from "./helpers/sdk.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

/** A readable that produces `total` bytes in `chunk`-sized pieces, yielding between chunks. */
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
      setImmediate(() => this.push(Buffer.alloc(size, 0x61)));
    },
  });
}

function listen(app: Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function buildApp(logs: MemoryLogs, configure?: (app: Express) => void): Express {
  const app = express();
  configure?.(app);
  app.use(createExpressMiddleware({ events: logs.events }));
  app.use((req, _res, next) => {
    const user = req.header("x-test-user");
    if (user !== undefined) (req as { user?: unknown }).user = { id: user };
    next();
  });
  app.use(express.json());

  app.get("/users/:id", (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post("/echo", (req, res) => {
    res.json(req.body);
  });

  const projects = express.Router({ mergeParams: true });
  projects.get("/:id", (_req, res) => {
    res.send("project");
  });
  const orgs = express.Router({ mergeParams: true });
  orgs.use("/projects", projects);
  orgs.get("/", (_req, res) => {
    res.send("org");
  });
  app.use("/orgs/:org", orgs);

  // the same router mounted twice: the template must follow the path that matched
  const shared = express.Router();
  shared.get("/items/:item", (_req, res) => {
    res.send("item");
  });
  app.use("/a", shared);
  app.use("/b", shared);

  const shop = express();
  shop.get("/carts/:cart", (_req, res) => {
    res.send("cart");
  });
  app.use("/shop", shop);

  app.get("/stream/:size", (req, res) => {
    res.setHeader("content-type", "application/octet-stream");
    byteStream(Number(req.params.size)).pipe(res);
  });
  app.get("/slow", (_req, res) => {
    // a stream that never ends on its own: the client aborts it
    res.setHeader("content-type", "application/octet-stream");
    byteStream(1024 * 1024 * 1024).pipe(res);
  });
  app.get("/boom", () => {
    throw new Error("synchronous failure");
  });
  app.get("/reject", async () => {
    throw new Error("asynchronous failure");
  });
  app.get("/text", (_req, res) => {
    res.send("héllo wörld");
  });
  return app;
}

describe("Express middleware over real HTTP", () => {
  let logs: MemoryLogs;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    logs = memoryLogs();
    server = await listen(buildApp(logs));
    url = baseUrl(server);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
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

  it("sends the route template, the path without query, method, status, sizes, duration, client", async () => {
    const { response, record } = await one("/users/42?token=secret", {
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
  });

  it("counts multi-byte text in bytes and reports the request body size", async () => {
    const { response, record } = await one("/text");
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(Buffer.byteLength("héllo wörld"));
    expect(response.body.length).toBe(Buffer.byteLength("héllo wörld"));
    logs.exporter.reset();
    const body = JSON.stringify({ hello: "world" });
    const posted = await one("/echo", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(posted.record.attributes[ATTR.HTTP_REQUEST_BODY_SIZE]).toBe(body.length);
    expect(posted.record.attributes[ATTR.HTTP_ROUTE]).toBe("/echo");
  });

  it("composes nested routers' mount paths with the route path", async () => {
    const { record } = await one("/orgs/acme/projects/7");
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/orgs/:org/projects/:id");
    expect(record.attributes[ATTR.URL_PATH]).toBe("/orgs/acme/projects/7");
    logs.exporter.reset();
    expect((await one("/orgs/acme")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/orgs/:org");
  });

  it("follows the mount that matched when a router is mounted twice, and sub-applications", async () => {
    expect((await one("/a/items/1")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/a/items/:item");
    logs.exporter.reset();
    expect((await one("/b/items/1")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/b/items/:item");
    logs.exporter.reset();
    expect((await one("/shop/carts/9")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/shop/carts/:cart");
  });

  it("leaves http.route out when no route matched", async () => {
    const { response, record } = await one("/nowhere/at/all");
    expect(response.status).toBe(404);
    expect(record.attributes).not.toHaveProperty(ATTR.HTTP_ROUTE);
    expect(record.attributes[ATTR.URL_PATH]).toBe("/nowhere/at/all");
    expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(404);
    expect(record.severityNumber).toBe(SEVERITY.WARN.number);
  });

  it("counts the bytes of a streamed (chunked) response", async () => {
    const size = 300_000;
    const { response, record } = await one(`/stream/${size}`);
    expect(response.headers["content-length"]).toBeUndefined();
    expect(response.body.length).toBe(size);
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(size);
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/stream/:size");
  });

  it("reports thrown errors and rejected promises as 500", async () => {
    const sync = await one("/boom");
    expect(sync.response.status).toBe(500);
    expect(sync.record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(500);
    expect(sync.record.attributes[ATTR.HTTP_ROUTE]).toBe("/boom");
    logs.exporter.reset();
    const async_ = await one("/reject");
    expect(async_.record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(500);
    expect(async_.record.attributes[ATTR.HTTP_ROUTE]).toBe("/reject");
  });

  it("HEAD responses have no body bytes", async () => {
    const { record } = await one("/users/1", { method: "HEAD" });
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(0);
  });

  it("emits exactly one event when the client aborts mid-stream", async () => {
    const received = await abortAfter(`${url}/slow`, 64 * 1024);
    await until(() => logs.records(EVENT.API_REQUEST).length >= 1, "api.request for aborted request");
    // give a late duplicate every chance to show up
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    const records = logs.records(EVENT.API_REQUEST);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/slow");
    expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(200);
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] as number).toBeGreaterThanOrEqual(received);
    expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE] as number).toBeLessThan(1024 * 1024 * 1024);
    expect(record.severityNumber).toBe(SEVERITY.WARN.number);
    expect(record.body).toBe("GET /slow aborted by the client");
    expect(record.attributes[ATTR.CLIENT_ADDRESS]).toBe("127.0.0.1");
  });
});

describe("Express trusted-proxy handling and user getter", () => {
  const started: { server: Server; logs: MemoryLogs }[] = [];
  afterAll(async () => {
    for (const { server, logs } of started) {
      await new Promise((resolve) => server.close(resolve));
      await logs.shutdown();
    }
  });

  async function start(configure: (app: Express) => void, getUserId?: (req: unknown) => string | undefined) {
    const logs = memoryLogs();
    const app = express();
    configure(app);
    app.use(createExpressMiddleware({ events: logs.events, getUserId }));
    app.get("/who", (req, res) => {
      res.send(req.ip);
    });
    const server = await listen(app);
    started.push({ server, logs });
    return { logs, url: baseUrl(server) };
  }

  async function addressFor(logs: MemoryLogs, url: string) {
    await httpRequest(`${url}/who`, { headers: { "x-forwarded-for": "198.51.100.9" } });
    await until(() => logs.records(EVENT.API_REQUEST).length === 1, "api.request");
    return logs.records(EVENT.API_REQUEST)[0]!.attributes[ATTR.CLIENT_ADDRESS];
  }

  it("ignores X-Forwarded-For unless the proxy is trusted", async () => {
    const untrusted = await start(() => undefined);
    expect(await addressFor(untrusted.logs, untrusted.url)).toBe("127.0.0.1");
    const trusted = await start((app) => app.set("trust proxy", "loopback"));
    expect(await addressFor(trusted.logs, trusted.url)).toBe("198.51.100.9");
  });

  it("reads the user id with a configurable getter", async () => {
    const custom = await start(
      () => undefined,
      (req) => (req as { headers: Record<string, string> }).headers["x-user"],
    );
    await httpRequest(`${custom.url}/who`, { headers: { "x-user": "custom-7" } });
    await until(() => custom.logs.records(EVENT.API_REQUEST).length === 1, "api.request");
    expect(custom.logs.records(EVENT.API_REQUEST)[0]!.attributes[ATTR.USER_ID]).toBe("custom-7");
  });
});
