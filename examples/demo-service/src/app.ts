/**
 * The demo service: an Express 5 app with sign-in, sign-out, MFA, password change and reset,
 * account lock-out, an admin area behind a role check, a streaming download, user profiles and
 * input validation, instrumented with @secmon/instrumentation. Built for tests, the attack
 * simulator and the detector demo, which start it in-process on an ephemeral port.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { LoggerProvider } from "@opentelemetry/api-logs";
import { createExpressMiddleware, createSecurityEvents } from "@secmon/instrumentation";
import type { SecurityEvents } from "@secmon/instrumentation";
import { INPUT_RULE } from "@secmon/semconv";
import type { InputRule } from "@secmon/semconv";
import express from "express";
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from "express";
import { verifyTotp } from "./totp.ts";
import { DEMO_USERS, UserStore } from "./users.ts";
import type { DemoUser, DemoUserSeed } from "./users.ts";
import { attackRule, ID_FORMAT } from "./validation.ts";

export interface DemoAppOptions {
  /** Security events to emit through. Default: created from the options below. */
  readonly events?: SecurityEvents | undefined;
  /** Used when `events` is not given. */
  readonly hashSecret?: string | undefined;
  /** Used when `events` is not given. Default: NODE_ENV, else `development`. */
  readonly environment?: string | undefined;
  /** Used when `events` is not given. Default: the global LoggerProvider. */
  readonly loggerProvider?: LoggerProvider | undefined;
  /** Failed sign-ins in a row that lock an account. Default 5. */
  readonly lockThreshold?: number | undefined;
  /** Bytes `/download/:id` streams. Default 1 MiB; `?bytes=` may ask for up to `maxDownloadBytes`. */
  readonly downloadBytes?: number | undefined;
  /** Default 64 MiB. */
  readonly maxDownloadBytes?: number | undefined;
  /** Express `trust proxy` setting. Default false (X-Forwarded-For ignored). */
  readonly trustProxy?: boolean | number | string | readonly string[] | undefined;
  /** Accounts. Default {@link DEMO_USERS}. */
  readonly users?: readonly DemoUserSeed[] | undefined;
  /** scrypt cost parameter N (power of two). Default 2^14; tests use less. */
  readonly scryptCost?: number | undefined;
  /** Milliseconds since the epoch; drives TOTP and expiries. Default `Date.now`. */
  readonly clock?: (() => number) | undefined;
  /** Session lifetime. Default 3600 s. */
  readonly sessionTtlSeconds?: number | undefined;
  /** Answer password-reset requests with the reset token (a real service e-mails it). Default true. */
  readonly exposeResetTokens?: boolean | undefined;
}

export interface DemoServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export interface DemoApp {
  readonly app: Express;
  readonly events: SecurityEvents;
  readonly users: UserStore;
  /** Listens on `host:port` (default 127.0.0.1, ephemeral port). */
  listen(port?: number, host?: string): Promise<DemoServer>;
}

interface Session {
  readonly userId: string;
  readonly expiresAt: number;
}

interface PendingMfa {
  readonly userId: string;
  readonly expiresAt: number;
  attempts: number;
}

interface ResetTicket {
  readonly userId: string;
  readonly expiresAt: number;
}

/** What the session middleware puts on the request. */
interface Authenticated {
  user?: { id: string };
  session?: { id: string; user: DemoUser };
}

const SESSION_COOKIE = "sid";
const MFA_TTL_MS = 5 * 60 * 1000;
const RESET_TTL_MS = 15 * 60 * 1000;
const MAX_MFA_ATTEMPTS = 5;
const DOWNLOAD_CHUNK = 64 * 1024;

const token = () => randomBytes(24).toString("base64url");

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bodyString(body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  return typeof value === "string" ? value : undefined;
}

/** A Readable of `total` bytes of filler, in 64 KiB chunks. */
function filler(total: number): Readable {
  let left = total;
  const chunk = Buffer.alloc(DOWNLOAD_CHUNK, 0x2e);
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, DOWNLOAD_CHUNK);
      left -= size;
      this.push(size === DOWNLOAD_CHUNK ? chunk : chunk.subarray(0, size));
    },
  });
}

export async function createDemoApp(options: DemoAppOptions = {}): Promise<DemoApp> {
  const events =
    options.events ??
    createSecurityEvents({
      hashSecret: options.hashSecret,
      environment: options.environment ?? process.env["NODE_ENV"] ?? "development",
      loggerProvider: options.loggerProvider,
    });
  const clock = options.clock ?? Date.now;
  const lockThreshold = options.lockThreshold ?? 5;
  const downloadBytes = options.downloadBytes ?? 1024 * 1024;
  const maxDownloadBytes = options.maxDownloadBytes ?? 64 * 1024 * 1024;
  const sessionTtlMs = (options.sessionTtlSeconds ?? 3600) * 1000;
  const exposeResetTokens = options.exposeResetTokens ?? true;

  const users = new UserStore(options.scryptCost ?? 2 ** 14);
  await Promise.all((options.users ?? DEMO_USERS).map((seed) => users.add(seed)));

  const sessions = new Map<string, Session>();
  const pendingMfa = new Map<string, PendingMfa>();
  const resetTickets = new Map<string, ResetTicket>();

  const app = express();
  app.disable("x-powered-by");
  if (options.trustProxy !== undefined) app.set("trust proxy", options.trustProxy);

  // first, so that every request is seen and counted
  app.use(createExpressMiddleware({ events }));
  app.use(express.json({ limit: "16kb" }));

  /** Loads the session from the `sid` cookie or a Bearer token. */
  const loadSession: RequestHandler = (req, _res, next) => {
    const header = req.headers.authorization;
    const id = header?.startsWith("Bearer ")
      ? header.slice(7)
      : cookieValue(req.headers.cookie, SESSION_COOKIE);
    const session = id === undefined ? undefined : sessions.get(id);
    if (id !== undefined && session !== undefined) {
      const user = users.byId(session.userId);
      if (session.expiresAt > clock() && user !== undefined) {
        const auth = req as Authenticated;
        auth.user = { id: user.id };
        auth.session = { id, user };
      } else {
        sessions.delete(id);
        events.logout({ request: req, userId: session.userId, sessionId: id, reason: "timeout" });
      }
    }
    next();
  };
  app.use(loadSession);

  const requireSession: RequestHandler = (req, res, next) => {
    if ((req as Authenticated).session === undefined) {
      res.status(401).json({ error: "sign in first" });
      return;
    }
    next();
  };

  const requireAdmin =
    (permission: string): RequestHandler =>
    (req, res, next) => {
      const session = (req as Authenticated).session!;
      const allowed = session.user.role === "admin";
      events.authzDecision({
        request: req,
        userId: session.user.id,
        sessionId: session.id,
        decision: allowed ? "allow" : "deny",
        permission,
        missingPermissions: allowed ? [] : ["admin"],
        resource: req.baseUrl + req.path,
      });
      if (!allowed) {
        res.status(403).json({ error: "forbidden" });
        return;
      }
      next();
    };

  /** Rejects and reports input that breaks a rule; returns true when the request was answered. */
  function rejectInput(req: Request, res: Response, field: string, rule: InputRule, status = 400): true {
    events.inputValidationFailure({
      request: req,
      userId: (req as Authenticated).user?.id,
      field,
      rule,
      route:
        req.route === undefined ? undefined : req.baseUrl + String((req.route as { path: unknown }).path),
      path: req.originalUrl,
    });
    res.status(status).json({ error: `invalid ${field}` });
    return true;
  }

  /** Checks a free-text field; answers the request and returns false when it is rejected. */
  function acceptText(
    req: Request,
    res: Response,
    field: string,
    value: unknown,
    maxLength: number,
  ): boolean {
    if (typeof value !== "string") return !rejectInput(req, res, field, INPUT_RULE.TYPE);
    if (value.length === 0 || value.length > maxLength)
      return !rejectInput(req, res, field, INPUT_RULE.LENGTH);
    const rule = attackRule(value);
    if (rule !== undefined) return !rejectInput(req, res, field, rule);
    return true;
  }

  function startSession(res: Response, user: DemoUser): string {
    const id = token();
    sessions.set(id, { userId: user.id, expiresAt: clock() + sessionTtlMs });
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: "lax", path: "/" });
    return id;
  }

  app.get("/health", (_req, res) => {
    res.json({ ok: true });
  });

  app.post("/signup", async (req, res) => {
    const username = bodyString(req.body, "username");
    const password = bodyString(req.body, "password");
    if (!acceptText(req, res, "username", username, 64)) return;
    if (typeof password !== "string") return void rejectInput(req, res, "password", INPUT_RULE.TYPE);
    if (password.length < 12 || password.length > 1024) {
      return void rejectInput(req, res, "password", INPUT_RULE.LENGTH);
    }
    if (!/^[a-z0-9._-]+$/i.test(username!)) return void rejectInput(req, res, "username", INPUT_RULE.FORMAT);
    if (users.byName(username!) !== undefined) {
      res.status(409).json({ error: "username taken" });
      return;
    }
    const user = await users.add({
      id: `u-${token().slice(0, 12)}`,
      username: username!,
      password,
      role: "user",
    });
    events.accountChange({ request: req, userId: user.id, identifier: username, changeType: "created" });
    res.status(201).json({ userId: user.id });
  });

  app.post("/login", async (req, res) => {
    const username = bodyString(req.body, "username");
    const password = bodyString(req.body, "password");
    if (!acceptText(req, res, "username", username, 128)) return;
    if (typeof password !== "string") return void rejectInput(req, res, "password", INPUT_RULE.TYPE);
    if (password.length === 0 || password.length > 1024) {
      return void rejectInput(req, res, "password", INPUT_RULE.LENGTH);
    }
    const user = users.byName(username!);
    const context = { request: req, identifier: username, userId: user?.id };
    if (user?.locked === true) {
      await users.verify(undefined, password); // same cost, no oracle
      events.loginFailure({ ...context, reason: "account_locked" });
      res.status(423).json({ error: "account locked" });
      return;
    }
    const ok = await users.verify(user, password);
    if (user === undefined) {
      events.loginFailure({ ...context, reason: "unknown_user" });
      res.status(401).json({ error: "invalid credentials" });
      return;
    }
    if (!ok) {
      user.failures++;
      events.loginFailure({ ...context, reason: "invalid_credentials" });
      if (user.failures >= lockThreshold) {
        user.locked = true;
        events.accountLocked({ ...context, reason: "too_many_failures" });
      }
      res.status(401).json({ error: "invalid credentials" });
      return;
    }
    user.failures = 0;
    if (user.totpSecret !== undefined) {
      const ticket = token();
      pendingMfa.set(ticket, { userId: user.id, expiresAt: clock() + MFA_TTL_MS, attempts: 0 });
      res.json({ mfaRequired: true, mfaTicket: ticket });
      return;
    }
    const sessionId = startSession(res, user);
    events.loginSuccess({ ...context, sessionId });
    res.json({ userId: user.id, token: sessionId });
  });

  app.post("/login/mfa", (req, res) => {
    const ticketId = bodyString(req.body, "ticket");
    const code = bodyString(req.body, "code");
    const ticket = ticketId === undefined ? undefined : pendingMfa.get(ticketId);
    const user = ticket === undefined ? undefined : users.byId(ticket.userId);
    if (ticketId === undefined || ticket === undefined || user === undefined || ticket.expiresAt <= clock()) {
      if (ticketId !== undefined) pendingMfa.delete(ticketId);
      res.status(401).json({ error: "sign in again" });
      return;
    }
    const context = { request: req, identifier: user.username, userId: user.id };
    if (code === undefined || !verifyTotp(user.totpSecret!, code, clock())) {
      ticket.attempts++;
      if (ticket.attempts >= MAX_MFA_ATTEMPTS) pendingMfa.delete(ticketId);
      events.mfa({ ...context, outcome: "failure", method: "totp" });
      events.loginFailure({ ...context, reason: "mfa_failed" });
      res.status(401).json({ error: "invalid code" });
      return;
    }
    pendingMfa.delete(ticketId);
    const sessionId = startSession(res, user);
    events.mfa({ ...context, sessionId, outcome: "success", method: "totp" });
    events.loginSuccess({ ...context, sessionId });
    res.json({ userId: user.id, token: sessionId });
  });

  app.post("/logout", requireSession, (req, res) => {
    const session = (req as Authenticated).session!;
    sessions.delete(session.id);
    events.logout({ request: req, userId: session.user.id, sessionId: session.id, reason: "user" });
    res.clearCookie(SESSION_COOKIE, { path: "/" });
    res.status(204).end();
  });

  app.get("/me", requireSession, (req, res) => {
    const { user } = (req as Authenticated).session!;
    res.json({ id: user.id, username: user.username, role: user.role });
  });

  app.post("/password/change", requireSession, async (req, res) => {
    const { user, id } = (req as Authenticated).session!;
    const current = bodyString(req.body, "currentPassword");
    const next = bodyString(req.body, "newPassword");
    const valid = current !== undefined && (await users.verify(user, current));
    if (!valid || next === undefined || next.length < 12 || next.length > 1024) {
      events.passwordChange({ request: req, userId: user.id, sessionId: id, outcome: "failure" });
      res.status(400).json({ error: "password not changed" });
      return;
    }
    await users.setPassword(user, next);
    events.passwordChange({ request: req, userId: user.id, sessionId: id, outcome: "success" });
    res.status(204).end();
  });

  app.post("/password/reset/request", (req, res) => {
    const username = bodyString(req.body, "username");
    if (!acceptText(req, res, "username", username, 128)) return;
    const user = users.byName(username!);
    let resetToken: string | undefined;
    if (user !== undefined) {
      resetToken = token();
      resetTickets.set(resetToken, { userId: user.id, expiresAt: clock() + RESET_TTL_MS });
    }
    events.passwordReset({ request: req, identifier: username, userId: user?.id, stage: "requested" });
    // the same answer whether or not the user exists; the token only in demo mode
    res
      .status(202)
      .json(exposeResetTokens && resetToken !== undefined ? { ok: true, resetToken } : { ok: true });
  });

  app.post("/password/reset/complete", async (req, res) => {
    const ticketId = bodyString(req.body, "token");
    const next = bodyString(req.body, "newPassword");
    const ticket = ticketId === undefined ? undefined : resetTickets.get(ticketId);
    const user = ticket === undefined ? undefined : users.byId(ticket.userId);
    if (ticket === undefined || user === undefined || ticket.expiresAt <= clock()) {
      events.passwordReset({ request: req, stage: "completed", outcome: "failure" });
      res.status(400).json({ error: "invalid or expired token" });
      return;
    }
    if (next === undefined || next.length < 12 || next.length > 1024) {
      events.passwordReset({ request: req, userId: user.id, stage: "completed", outcome: "failure" });
      res.status(400).json({ error: "password too short" });
      return;
    }
    resetTickets.delete(ticketId!);
    await users.setPassword(user, next);
    user.failures = 0;
    user.locked = false;
    events.passwordReset({ request: req, userId: user.id, stage: "completed", outcome: "success" });
    res.status(204).end();
  });

  const profiles = express.Router();
  profiles.get("/:id", requireSession, (req, res) => {
    const id = req.params["id"] as string;
    if (!ID_FORMAT.test(id)) return void rejectInput(req, res, "id", attackRule(id) ?? INPUT_RULE.FORMAT);
    const session = (req as Authenticated).session!;
    const target = users.byId(id);
    if (target === undefined) {
      res.status(404).json({ error: "no such user" });
      return;
    }
    if (target.id !== session.user.id) {
      const allowed = session.user.role === "admin";
      events.authzDecision({
        request: req,
        userId: session.user.id,
        sessionId: session.id,
        decision: allowed ? "allow" : "deny",
        permission: "users:read",
        missingPermissions: allowed ? [] : ["users:read"],
        resource: `user/${target.id}`,
      });
      if (!allowed) {
        res.status(403).json({ error: "forbidden" });
        return;
      }
    }
    events.dataAccess({
      request: req,
      userId: session.user.id,
      sessionId: session.id,
      resource: "user_profile",
      operation: "read",
      recordCount: 1,
    });
    res.json({ id: target.id, username: target.username, role: target.role });
  });
  app.use("/users", profiles);

  app.get("/search", (req, res) => {
    const q = req.query["q"];
    if (!acceptText(req, res, "q", q, 256)) return;
    res.json({ results: [] });
  });

  app.get("/download/:id", requireSession, (req, res) => {
    const id = req.params["id"] as string;
    if (!ID_FORMAT.test(id)) return void rejectInput(req, res, "id", attackRule(id) ?? INPUT_RULE.FORMAT);
    const asked = req.query["bytes"];
    const size = typeof asked === "string" && /^\d{1,12}$/.test(asked) ? Number(asked) : downloadBytes;
    if (size > maxDownloadBytes) return void rejectInput(req, res, "bytes", INPUT_RULE.LENGTH);
    const session = (req as Authenticated).session!;
    let sent = 0;
    const stream = filler(size);
    stream.on("data", (chunk: Buffer) => {
      sent += chunk.length;
    });
    res.once("close", () => {
      stream.destroy();
      events.dataAccess({
        request: req,
        userId: session.user.id,
        sessionId: session.id,
        resource: `report/${id}`,
        operation: "export",
        recordCount: 1,
        bytes: sent,
      });
    });
    res.setHeader("content-type", "application/octet-stream");
    res.setHeader("content-disposition", `attachment; filename="report-${id}.bin"`);
    stream.pipe(res);
  });

  const admin = express.Router();
  admin.use(requireSession);
  admin.get("/", requireAdmin("admin:read"), (_req, res) => {
    res.json({ users: users.all().map((u) => ({ id: u.id, username: u.username, locked: u.locked })) });
  });
  admin.post("/users/:id/unlock", requireAdmin("users:unlock"), (req, res) => {
    const session = (req as Authenticated).session!;
    const target = users.byId(req.params["id"] as string);
    if (target === undefined) {
      res.status(404).json({ error: "no such user" });
      return;
    }
    target.locked = false;
    target.failures = 0;
    events.accountChange({
      request: req,
      userId: session.user.id,
      sessionId: session.id,
      changeType: "enabled",
      targetUserId: target.id,
    });
    res.status(204).end();
  });
  app.use("/admin", admin);

  // malformed JSON bodies are rejected input too
  const onError: ErrorRequestHandler = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if ((error as { type?: unknown }).type === "entity.parse.failed") {
      rejectInput(req, res, "body", INPUT_RULE.FORMAT);
      return;
    }
    if ((error as { type?: unknown }).type === "entity.too.large") {
      rejectInput(req, res, "body", INPUT_RULE.LENGTH, 413);
      return;
    }
    next(error);
  };
  app.use(onError);

  return {
    app,
    events,
    users,
    listen(port = 0, host = "127.0.0.1") {
      return new Promise<DemoServer>((resolve, reject) => {
        const server = app.listen(port, host, (error?: Error) => {
          if (error !== undefined) {
            reject(error);
            return;
          }
          const address = server.address() as AddressInfo;
          const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
          resolve({
            url,
            port: address.port,
            server,
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done());
                server.closeAllConnections();
              }),
          });
        });
      });
    },
  };
}
