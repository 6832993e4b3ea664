import { ATTR } from "@secmon/semconv";
import express from "express";
import { expect, it } from "vitest";
import { createExpressMiddleware } from "../src/express.ts";
import { describeHttpFramework } from "./helpers/http-framework-suite.ts";
import type { FrameworkAppOptions } from "./helpers/http-framework-suite.ts";
import { byteStream, serveLoopback } from "./helpers/http.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

function buildApp(logs: MemoryLogs, { trustProxy, getUserId }: FrameworkAppOptions) {
  const app = express();
  if (trustProxy === true) app.set("trust proxy", "loopback");
  app.use(createExpressMiddleware({ events: logs.events, getUserId }));
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
  app.get("/who", (req, res) => {
    res.send(req.ip);
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

describeHttpFramework(
  "Express middleware",
  async (logs, options) => serveLoopback(buildApp(logs, options)),
  (app) => {
    it("counts multi-byte text in bytes", async () => {
      const { response, record } = await app.one("/text");
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(Buffer.byteLength("héllo wörld"));
      expect(response.body.length).toBe(Buffer.byteLength("héllo wörld"));
    });

    it("composes nested routers' mount paths with the route path", async () => {
      const { record } = await app.one("/orgs/acme/projects/7");
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/orgs/:org/projects/:id");
      expect(record.attributes[ATTR.URL_PATH]).toBe("/orgs/acme/projects/7");
      app.logs.exporter.reset();
      expect((await app.one("/orgs/acme")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/orgs/:org");
    });

    it("follows the mount that matched when a router is mounted twice, and sub-applications", async () => {
      expect((await app.one("/a/items/1")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/a/items/:item");
      app.logs.exporter.reset();
      expect((await app.one("/b/items/1")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/b/items/:item");
      app.logs.exporter.reset();
      expect((await app.one("/shop/carts/9")).record.attributes[ATTR.HTTP_ROUTE]).toBe("/shop/carts/:cart");
    });

    it("reports rejected promises as 500", async () => {
      const { record } = await app.one("/reject");
      expect(record.attributes[ATTR.HTTP_RESPONSE_STATUS_CODE]).toBe(500);
      expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/reject");
    });

    it("HEAD responses have no body bytes", async () => {
      const { record } = await app.one("/users/1", { method: "HEAD" });
      expect(record.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(0);
    });
  },
);
