import { ATTR } from "@secmon/semconv";
import Fastify from "fastify";
import { expect, it } from "vitest";
import { secmonFastify } from "../src/fastify.ts";
import { describeHttpFramework } from "./helpers/http-framework-suite.ts";
import type { FrameworkAppOptions } from "./helpers/http-framework-suite.ts";
import { byteStream } from "./helpers/http.ts";
import type { RunningApp } from "./helpers/http.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

async function start(logs: MemoryLogs, { trustProxy, getUserId }: FrameworkAppOptions): Promise<RunningApp> {
  const app = Fastify(trustProxy === true ? { trustProxy: "127.0.0.1" } : {});
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
  return { url, close: () => app.close() };
}

describeHttpFramework("Fastify plugin", start, (app) => {
  it("puts the prefixes of registered plugins into the route template", async () => {
    const { record } = await app.one("/api/v1/orders/1/items/2");
    expect(record.attributes[ATTR.HTTP_ROUTE]).toBe("/api/v1/orders/:order/items/:item");
  });
});
