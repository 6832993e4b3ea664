/**
 * The instrumentation never throws into the host application: faults go to OpenTelemetry diag
 * and the request goes on.
 */
import type { Server } from "node:http";
import type { LoggerProvider } from "@opentelemetry/api-logs";
import { ATTR, EVENT } from "@secmon/semconv";
import express from "express";
import Fastify from "fastify";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { describe, expect, it } from "vitest";
import { createSecurityEvents } from "../src/events.ts";
import { createExpressMiddleware } from "../src/express.ts";
import { secmonFastify } from "../src/fastify.ts";
import { instrumentStrategy } from "../src/passport.ts";
import type { SecurityEvents } from "../src/types.ts";
import { baseUrl, httpRequest, until } from "./helpers/http.ts";
import { captureDiagErrors } from "./helpers/diag.ts";
import { memoryLogs, TEST_SECRET } from "./helpers/sdk.ts";

const errors = captureDiagErrors();

/** A LoggerProvider whose loggers throw on every emit. */
const throwingProvider = {
  getLogger: () => ({
    emit: () => {
      throw new Error("exporter exploded");
    },
    enabled: () => true,
  }),
} as unknown as LoggerProvider;

function brokenEvents(): SecurityEvents {
  return createSecurityEvents({
    hashSecret: TEST_SECRET,
    environment: "production",
    loggerProvider: throwingProvider,
  });
}

describe("faults never reach the application", () => {
  it("every method survives a LoggerProvider whose emit throws, and reports through diag", () => {
    const events = brokenEvents();
    const calls: [keyof SecurityEvents, unknown][] = [
      ["loginSuccess", { identifier: "a" }],
      ["loginFailure", { identifier: "a", reason: "invalid_credentials" }],
      ["logout", {}],
      ["mfa", { outcome: "success", method: "totp" }],
      ["passwordChange", { outcome: "success" }],
      ["passwordReset", { stage: "requested" }],
      ["accountLocked", { reason: "admin" }],
      ["accountChange", { changeType: "created" }],
      ["authzDecision", { decision: "deny" }],
      ["inputValidationFailure", { rule: "xss" }],
      ["dataAccess", { resource: "r", operation: "read" }],
      ["apiRequest", { method: "GET", path: "/", statusCode: 200, durationSeconds: 0.1 }],
    ];
    for (const [method, input] of calls) {
      expect(() => (events[method] as (input: unknown) => void)(input)).not.toThrow();
    }
    expect(errors).toHaveLength(calls.length);
    expect(errors[0]).toMatch(/security event loginSuccess failed/);
  });

  it("survives garbage input and metadata whose keys cannot be read", () => {
    const logs = memoryLogs();
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("no keys for you");
        },
      },
    );
    expect(() => logs.events.loginFailure(undefined as never)).not.toThrow();
    expect(() => logs.events.logout({ metadata: hostile })).not.toThrow();
    expect(() =>
      logs.events.apiRequest({ method: 42, path: {}, durationSeconds: "x" } as never),
    ).not.toThrow();
    // the event still goes out, without the unreadable metadata
    expect(logs.records(EVENT.AUTH_LOGOUT)).toHaveLength(1);
    expect(errors.some((e) => e.includes("metadata scrub"))).toBe(true);
    void logs.shutdown();
  });

  it("Express: the request goes on when emit throws or the user getter throws", async () => {
    const app = express();
    app.use(createExpressMiddleware({ events: brokenEvents() }));
    const logs = memoryLogs();
    const second = express.Router();
    second.use(
      createExpressMiddleware({
        events: logs.events,
        getUserId: () => {
          throw new Error("getter exploded");
        },
      }),
    );
    second.get("/ok", (_req, res) => {
      res.send("fine");
    });
    app.use("/inner", second);
    app.get("/ok", (_req, res) => {
      res.send("fine");
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const response = await httpRequest(`${baseUrl(server)}/ok`);
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe("fine");
      await until(() => errors.length > 0, "diag error");
      expect(errors.join("\n")).toMatch(/apiRequest failed/);

      // a fresh server whose getter throws: the event is still emitted, without user.id
      const app2 = express();
      app2.use(second);
      const server2 = await new Promise<Server>((resolve) => {
        const s = app2.listen(0, "127.0.0.1", () => resolve(s));
      });
      try {
        const ok = await httpRequest(`${baseUrl(server2)}/ok`);
        expect(ok.status).toBe(200);
        await until(() => logs.records(EVENT.API_REQUEST).length === 1, "api.request");
        expect(logs.records(EVENT.API_REQUEST)[0]!.attributes).not.toHaveProperty(ATTR.USER_ID);
        expect(errors.join("\n")).toMatch(/express getUserId failed/);
      } finally {
        await new Promise((resolve) => server2.close(resolve));
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await logs.shutdown();
    }
  });

  it("Fastify: the request goes on when emit throws or the user getter throws", async () => {
    const app = Fastify();
    await app.register(secmonFastify, {
      events: brokenEvents(),
      getUserId: () => {
        throw new Error("getter exploded");
      },
    });
    app.get("/ok", async () => "fine");
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const response = await httpRequest(`${url}/ok`);
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe("fine");
      await until(() => errors.length >= 2, "diag errors");
      expect(errors.join("\n")).toMatch(/fastify getUserId failed/);
      expect(errors.join("\n")).toMatch(/apiRequest failed/);
    } finally {
      await app.close();
    }
  });

  it("Passport: sign-in still works when emit throws", async () => {
    const authenticator = new passport.Passport();
    authenticator.use(
      instrumentStrategy(new LocalStrategy((_u, _p, done) => done(null, { id: "u" })), {
        events: brokenEvents(),
      }),
    );
    const app = express();
    app.use(express.json());
    app.post("/login", authenticator.authenticate("local", { session: false }), (_req, res) => {
      res.send("in");
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const response = await httpRequest(`${baseUrl(server)}/login`, {
        method: "POST",
        body: JSON.stringify({ username: "u", password: "p" }),
        headers: { "content-type": "application/json" },
      });
      expect(response.status).toBe(200);
      expect(errors.join("\n")).toMatch(/loginSuccess failed/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("repeated faults thin out instead of flooding the log", () => {
    const events = brokenEvents();
    for (let i = 0; i < 50; i++) events.logout({});
    expect(errors).toHaveLength(10);
  });
});
