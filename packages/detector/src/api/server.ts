import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ALERT_SEVERITIES, ALERT_STATUSES } from "@secmon/semconv";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from "fastify";
import type { AlertManager } from "../alerts/manager.ts";
import { MAX_ASSIGNEE_LENGTH, MAX_NOTE_LENGTH } from "../alerts/build.ts";
import { MAX_PAGE_LIMIT, type AlertPatch, type AlertQuery, type OpenCounts } from "../alerts/store.ts";
import { resolveSecret } from "../config/secret.ts";
import { ERROR_CODES, SecmonError, asSecmonError, type ErrorCode } from "../errors.ts";
import { isLoopbackHost, listenError, splitEndpoint } from "../net.ts";
import type { RecentEvents } from "../report/recent-events.ts";
import { MAX_TOP, type SecurityReporter } from "../report/reporter.ts";
import type { SinkDispatcher } from "../sinks/dispatcher.ts";
import type { ApiConfig } from "./config.ts";

/** A component's health as `GET /api/status` shows it. */
export interface ComponentHealth {
  readonly healthy: boolean;
  readonly detail?: string;
}

/** What `/readyz` reports: ready when every check passes. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ComponentHealth>>;
}

export interface ApiServerOptions {
  readonly config: ApiConfig;
  readonly alerts: AlertManager;
  readonly recentEvents?: RecentEvents;
  readonly reporter?: SecurityReporter;
  readonly dispatcher?: SinkDispatcher;
  /** Receivers listening, store reachable… Default: ready. */
  readonly readiness?: () => Promise<Readiness> | Readiness;
  /** Health of components for /api/status. Default: the alert store's ping. */
  readonly components?: () => Promise<Record<string, ComponentHealth>> | Record<string, ComponentHealth>;
  /** Where `{ env }` secrets are read (the wiring passes process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: () => number;
  readonly logger?: FastifyBaseLogger;
}

const ALERT_ID = { type: "string", pattern: "^alt_[0-9A-Za-z]{1,64}$" } as const;
const DLQ_ID = { type: "string", pattern: "^dlv_[0-9A-Za-z]{1,64}$" } as const;
const LIST_PARAMS = ["severity", "status", "rule"] as const;
const MAX_EVENTS_LIMIT = 500;

interface AlertsQuerystring {
  severity?: AlertQuery["severity"];
  status?: AlertQuery["status"];
  rule?: string[];
  created_from?: string;
  created_to?: string;
  last_seen_from?: string;
  last_seen_to?: string;
  limit?: number;
  cursor?: string;
}

interface PatchBody {
  status?: AlertPatch["status"];
  assignee?: string | null;
  resolution?: { note: string; by?: string };
  expected_updated_at?: string;
}

/**
 * The detector's HTTP API (fastify): alerts and their lifecycle, recent events, status, the
 * security report, dead letters, health. Every route validates its input against a JSON
 * schema (400 naming the field); errors are `{ error: { code, message } }` from the error table.
 * Everything but `/healthz` and `/readyz` needs `Authorization: Bearer <token>` when a token is
 * configured, and a token is required whenever the endpoint is not loopback.
 */
export class ApiServer {
  readonly #o: ApiServerOptions;
  readonly #clock: () => number;
  #app: FastifyInstance | undefined;
  #tokenDigest: Buffer | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: ApiServerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** `http://host:port` once started. */
  get url(): string {
    const addr = this.#app?.server.address() as AddressInfo | null | undefined;
    if (!addr) throw new SecmonError("INTERNAL", "the API is not listening");
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** Builds the routes without listening (tests may use `inject`). CONFIG_INVALID / CONFIG_SECRET_MISSING. */
  build(): FastifyInstance {
    if (this.#app) return this.#app;
    const { config } = this.#o;
    const { host } = splitEndpoint(config.endpoint);
    if (config.token) {
      this.#tokenDigest = digest(resolveSecret(config.token, this.#o.env));
    } else if (!isLoopbackHost(host)) {
      throw new SecmonError(
        "CONFIG_INVALID",
        `api.token is required when api.endpoint (${config.endpoint}) is not a loopback address`,
      );
    }
    const app = Fastify({
      ...(this.#o.logger ? { loggerInstance: this.#o.logger } : { logger: false }),
      bodyLimit: 64 * 1024,
      ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    });
    this.#app = app;
    app.setErrorHandler((err: FastifyError, _req, reply) => this.#sendError(reply, err));
    app.setNotFoundHandler((req, reply) =>
      sendError(reply, new SecmonError("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`)),
    );
    // deny by default: only the probes are open (unknown paths need the token too)
    app.addHook("onRequest", async (req, reply) => {
      const route = req.routeOptions.url;
      if (route === "/healthz" || route === "/readyz") return;
      if (!this.#authorized(req.headers.authorization)) {
        reply.header("www-authenticate", 'Bearer realm="secmon"');
        throw new SecmonError("AUTH_REQUIRED");
      }
    });
    // `?severity=high,critical` as well as `?severity=high&severity=critical`
    app.addHook("preValidation", async (req) => {
      const q = req.query as Record<string, unknown> | undefined;
      if (!q) return;
      for (const key of LIST_PARAMS) {
        const v = q[key];
        const values = Array.isArray(v) ? v : typeof v === "string" ? [v] : undefined;
        if (values) q[key] = values.flatMap((s) => String(s).split(",")).filter((s) => s !== "");
      }
    });
    this.#routes(app);
    return app;
  }

  async start(): Promise<void> {
    if (!this.#o.config.enabled || this.#stopped) return;
    const app = this.build();
    if (app.server.listening) return;
    const { host, port } = splitEndpoint(this.#o.config.endpoint);
    try {
      await app.listen({ host, port });
    } catch (err) {
      throw listenError("api.endpoint", this.#o.config.endpoint, err);
    }
  }

  /** Closes the listener and waits for requests in flight. Idempotent, safe before start. */
  stop(): Promise<void> {
    this.#stopped ??= this.#app ? this.#app.close() : Promise.resolve();
    return this.#stopped;
  }

  #authorized(header: string | undefined): boolean {
    if (!this.#tokenDigest) return true;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) return false;
    return timingSafeEqual(digest(m[1] as string), this.#tokenDigest);
  }

  #sendError(reply: FastifyReply, err: FastifyError): FastifyReply {
    if (err.validation) {
      const first = err.validation[0];
      const field = fieldOf(err.validationContext, first);
      return sendError(reply, new SecmonError("BAD_REQUEST", `${field}: ${first?.message ?? "invalid"}`));
    }
    if (!(err instanceof SecmonError) && typeof err.statusCode === "number" && err.statusCode < 500) {
      // fastify's own client errors: malformed JSON, wrong content type, body too large…
      const e = new SecmonError(err.statusCode === 404 ? "NOT_FOUND" : "BAD_REQUEST", err.message);
      return sendError(reply, e, err.statusCode);
    }
    const e = asSecmonError(err);
    if (e.code === "INTERNAL") reply.log.error({ err }, "API request failed");
    return sendError(reply, e);
  }

  #routes(app: FastifyInstance): void {
    const { alerts } = this.#o;

    app.get("/healthz", async () => ({ status: "ok" }));

    app.get("/readyz", async (_req, reply) => {
      const r = this.#o.readiness ? await this.#o.readiness() : { ready: true, checks: {} };
      return reply.code(r.ready ? 200 : 503).send(r);
    });

    app.get<{ Querystring: AlertsQuerystring }>(
      "/api/alerts",
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              severity: { type: "array", items: { enum: [...ALERT_SEVERITIES] }, maxItems: 4 },
              status: { type: "array", items: { enum: [...ALERT_STATUSES] }, maxItems: 4 },
              rule: { type: "array", items: { type: "string", minLength: 1, maxLength: 200 }, maxItems: 100 },
              created_from: { type: "string", maxLength: 40 },
              created_to: { type: "string", maxLength: 40 },
              last_seen_from: { type: "string", maxLength: 40 },
              last_seen_to: { type: "string", maxLength: 40 },
              limit: { type: "integer", minimum: 1, maximum: MAX_PAGE_LIMIT },
              cursor: { type: "string", minLength: 1, maxLength: 200 },
            },
          },
        },
      },
      async (req) => {
        const q = req.query;
        const query: AlertQuery = {
          ...(q.severity?.length ? { severity: q.severity } : {}),
          ...(q.status?.length ? { status: q.status } : {}),
          ...(q.rule?.length ? { rule: q.rule } : {}),
          ...timeParam("created_from", q.created_from, "createdFrom"),
          ...timeParam("created_to", q.created_to, "createdTo"),
          ...timeParam("last_seen_from", q.last_seen_from, "lastSeenFrom"),
          ...timeParam("last_seen_to", q.last_seen_to, "lastSeenTo"),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        };
        const page = await alerts.store.list(query);
        return { alerts: page.alerts, ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) };
      },
    );

    const idParams = {
      type: "object",
      required: ["id"],
      additionalProperties: false,
      properties: { id: ALERT_ID },
    } as const;

    app.get<{ Params: { id: string } }>(
      "/api/alerts/:id",
      { schema: { params: idParams } },
      async (req, reply) => {
        const alert = await alerts.store.get(req.params.id);
        if (!alert) throw new SecmonError("NOT_FOUND", `alert ${req.params.id}`);
        reply.header("etag", `"${alert.updated_at}"`);
        return alert;
      },
    );

    app.patch<{ Params: { id: string }; Body: PatchBody }>(
      "/api/alerts/:id",
      {
        schema: {
          params: idParams,
          headers: {
            type: "object",
            properties: {
              "if-match": { type: "string", maxLength: 100 },
              "x-secmon-actor": { type: "string", minLength: 1, maxLength: MAX_ASSIGNEE_LENGTH },
            },
          },
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: {
              status: { enum: [...ALERT_STATUSES] },
              assignee: { anyOf: [{ type: "string", maxLength: MAX_ASSIGNEE_LENGTH }, { type: "null" }] },
              resolution: {
                type: "object",
                additionalProperties: false,
                required: ["note"],
                properties: {
                  note: { type: "string", maxLength: MAX_NOTE_LENGTH },
                  by: { type: "string", minLength: 1, maxLength: MAX_ASSIGNEE_LENGTH },
                },
              },
              expected_updated_at: { type: "string", maxLength: 40 },
            },
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const ifMatch = req.headers["if-match"];
        const expected =
          b.expected_updated_at ?? (typeof ifMatch === "string" ? unquote(ifMatch) : undefined);
        const patch: AlertPatch = {
          ...(b.status !== undefined ? { status: b.status } : {}),
          ...(b.assignee !== undefined ? { assignee: b.assignee === "" ? null : b.assignee } : {}),
          ...(b.resolution !== undefined ? { resolution: b.resolution } : {}),
          ...(expected !== undefined ? { expectedUpdatedAt: expected } : {}),
        };
        const actorHeader = req.headers["x-secmon-actor"];
        const actor = typeof actorHeader === "string" ? actorHeader : (b.resolution?.by ?? "api");
        const change = await alerts.update(req.params.id, patch, actor);
        reply.header("etag", `"${change.alert.updated_at}"`);
        return change.alert;
      },
    );

    app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
      "/api/alerts/:id/events",
      {
        schema: {
          params: idParams,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { limit: { type: "integer", minimum: 1, maximum: MAX_EVENTS_LIMIT } },
          },
        },
      },
      async (req) => {
        const alert = await alerts.store.get(req.params.id);
        if (!alert) throw new SecmonError("NOT_FOUND", `alert ${req.params.id}`);
        const events = this.#o.recentEvents?.eventsForAlert(alert, req.query.limit) ?? [];
        return { alert_id: alert.id, group: alert.group, events };
      },
    );

    app.get("/api/status", async () => {
      const [eventsToday, open, components] = await Promise.all([
        this.#o.reporter ? this.#o.reporter.eventsToday() : Promise.resolve(0),
        alerts.store.countOpen().catch(() => undefined as OpenCounts | undefined),
        this.#components(),
      ]);
      return {
        time: new Date(this.#clock()).toISOString(),
        events_today: eventsToday,
        open_alerts: open ?? null,
        components,
        healthy: Object.values(components).every((c) => c.healthy),
      };
    });

    app.get<{ Querystring: { period?: string; top?: number } }>(
      "/api/report",
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              period: { type: "string", pattern: "^[0-9]{1,4}[hd]$", default: "24h" },
              top: { type: "integer", minimum: 1, maximum: MAX_TOP, default: 10 },
            },
          },
        },
      },
      async (req) => {
        if (!this.#o.reporter) throw new SecmonError("NOT_FOUND", "the security report is not enabled");
        return this.#o.reporter.report(req.query.period ?? "24h", req.query.top);
      },
    );

    app.get<{ Querystring: { sink?: string; limit?: number; cursor?: string } }>(
      "/api/dead-letters",
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              sink: { type: "string", minLength: 1, maxLength: 64 },
              limit: { type: "integer", minimum: 1, maximum: MAX_PAGE_LIMIT, default: 50 },
              cursor: { type: "string", minLength: 1, maxLength: 100 },
            },
          },
        },
      },
      async (req) => {
        const q = req.query;
        return this.#dispatcher().deadLetters.list({
          limit: q.limit ?? 50,
          ...(q.sink !== undefined ? { sink: q.sink } : {}),
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        });
      },
    );

    const dlqParams = {
      type: "object",
      required: ["id"],
      additionalProperties: false,
      properties: { id: DLQ_ID },
    } as const;

    app.post<{ Params: { id: string } }>(
      "/api/dead-letters/:id/replay",
      { schema: { params: dlqParams } },
      async (req, reply) => {
        const d = await this.#dispatcher().replay(req.params.id);
        return reply.code(202).send({ delivery_id: d.id, sink: d.sink, status: "queued" });
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/api/dead-letters/:id",
      { schema: { params: dlqParams } },
      async (req, reply) => {
        const removed = await this.#dispatcher().deadLetters.remove(req.params.id);
        if (!removed) throw new SecmonError("NOT_FOUND", `dead letter ${req.params.id}`);
        return reply.code(204).send();
      },
    );
  }

  #dispatcher(): SinkDispatcher {
    if (!this.#o.dispatcher) throw new SecmonError("NOT_FOUND", "no sinks are configured");
    return this.#o.dispatcher;
  }

  async #components(): Promise<Record<string, ComponentHealth>> {
    if (this.#o.components) {
      try {
        return await this.#o.components();
      } catch (err) {
        return { detector: { healthy: false, detail: asSecmonError(err).message } };
      }
    }
    try {
      await this.#o.alerts.store.ping();
      return { alert_store: { healthy: true } };
    } catch (err) {
      return { alert_store: { healthy: false, detail: asSecmonError(err).message } };
    }
  }
}

function sendError(reply: FastifyReply, err: SecmonError, status?: number): FastifyReply {
  const code: ErrorCode = err.code;
  return reply
    .code(status ?? ERROR_CODES[code].http)
    .type("application/json")
    .send({ error: { code, message: err.message } });
}

function fieldOf(
  context: string | undefined,
  e: { instancePath: string; params: Record<string, unknown> } | undefined,
): string {
  if (!e) return context ?? "request";
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  const extra = e.params["additionalProperty"] ?? e.params["missingProperty"];
  const name = [path, typeof extra === "string" ? extra : ""].filter(Boolean).join(".");
  return name || (context ?? "request");
}

function timeParam<K extends keyof AlertQuery>(
  name: string,
  value: string | undefined,
  key: K,
): Partial<Record<K, number>> {
  if (value === undefined) return {};
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new SecmonError("BAD_REQUEST", `${name}: must be an ISO-8601 date-time`);
  return { [key]: t } as Partial<Record<K, number>>;
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
