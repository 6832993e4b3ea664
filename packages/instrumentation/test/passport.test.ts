import { createHmac } from "node:crypto";
import { ATTR, EVENT, SEVERITY } from "@secmon/semconv";
import express from "express";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { describe, expect, it } from "vitest";
import { defaultFailureReason, instrumentStrategy } from "../src/passport.ts";
import { serveLoopback } from "./helpers/http.ts";
import { serializeRecord, TEST_SECRET } from "./helpers/sdk.ts";
import { servePerSuite } from "./helpers/served.ts";

const PASSWORD = "Tr0ub4dor&3-canary";
const USERS = new Map([["alice@example.com", { id: "u-alice", password: PASSWORD }]]);

const hashOf = (identifier: string) =>
  createHmac("sha256", TEST_SECRET).update(identifier.trim().toLowerCase()).digest("hex").slice(0, 32);

describe("Passport local strategy", () => {
  const served = servePerSuite(async (logs) => {
    const authenticator = new passport.Passport();
    const strategy = new LocalStrategy({ usernameField: "email" }, (email, password, done) => {
      const user = USERS.get(email.toLowerCase());
      if (user === undefined) return done(null, false, { message: "Unknown user" });
      if (user.password !== password) return done(null, false, { message: "Incorrect password." });
      return done(null, { id: user.id });
    });
    authenticator.use(instrumentStrategy(strategy, { events: logs.events }));
    const app = express();
    app.use(express.json());
    app.use(authenticator.initialize());
    app.post("/login", authenticator.authenticate("local", { session: false }), (_req, res) => {
      res.json({ ok: true });
    });
    return serveLoopback(app);
  });

  const login = (body: Record<string, string>) =>
    served.one(
      "/login",
      {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json", "user-agent": "passport-test" },
      },
      EVENT.AUTH_LOGIN,
    );

  it("success: one auth.login with outcome success, user id and the identifier's hash", async () => {
    const { response, record } = await login({ email: "Alice@Example.com", password: PASSWORD });
    expect(response.status).toBe(200);
    expect(record.severityNumber).toBe(SEVERITY.INFO.number);
    expect(record.attributes).toMatchObject({
      [ATTR.AUTH_OUTCOME]: "success",
      [ATTR.AUTH_METHOD]: "password",
      [ATTR.USER_ID]: "u-alice",
      [ATTR.USER_HASH]: hashOf("alice@example.com"),
      [ATTR.CLIENT_ADDRESS]: "127.0.0.1",
      [ATTR.USER_AGENT_ORIGINAL]: "passport-test",
    });
    expect(serializeRecord(record)).not.toContain(PASSWORD);
    expect(serializeRecord(record)).not.toContain("Alice@Example.com");
  });

  it("wrong password: one failure with reason invalid_credentials and no password", async () => {
    const { response, record } = await login({ email: "alice@example.com", password: `${PASSWORD}-wrong` });
    expect(response.status).toBe(401);
    expect(record.severityNumber).toBe(SEVERITY.WARN.number);
    expect(record.attributes).toMatchObject({
      [ATTR.AUTH_OUTCOME]: "failure",
      [ATTR.AUTH_FAILURE_REASON]: "invalid_credentials",
      [ATTR.USER_HASH]: hashOf("alice@example.com"),
    });
    expect(record.attributes).not.toHaveProperty(ATTR.USER_ID);
    expect(serializeRecord(record)).not.toContain(PASSWORD);
  });

  it("unknown user: reason unknown_user, still hashed", async () => {
    const { record } = await login({ email: "mallory@example.com", password: PASSWORD });
    expect(record.attributes[ATTR.AUTH_FAILURE_REASON]).toBe("unknown_user");
    expect(record.attributes[ATTR.USER_HASH]).toBe(hashOf("mallory@example.com"));
    expect(serializeRecord(record)).not.toContain(PASSWORD);
  });

  it("missing credentials: reason other, no user.hash", async () => {
    const { response, record } = await login({ password: PASSWORD });
    expect(response.status).toBe(400);
    expect(record.attributes[ATTR.AUTH_FAILURE_REASON]).toBe("other");
    expect(record.attributes).not.toHaveProperty(ATTR.USER_HASH);
  });
});

describe("failure reason mapping", () => {
  it.each([
    [{ reason: "account_locked" }, "account_locked"],
    [{ code: "mfa_required" }, "mfa_required"],
    [{ message: "Missing credentials" }, "other"],
    [{ message: "User not found" }, "unknown_user"],
    ["Account is locked", "account_locked"],
    [{ message: "account disabled" }, "account_disabled"],
    [{ message: "Password expired" }, "password_expired"],
    [{ message: "Incorrect password." }, "invalid_credentials"],
    [undefined, "invalid_credentials"],
  ])("%j -> %s", (info, reason) => {
    expect(defaultFailureReason(info)).toBe(reason);
  });
});
