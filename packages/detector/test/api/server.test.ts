import { ATTR, EVENT } from "@secmon/semconv";
import { afterEach, describe, expect, it } from "vitest";
import { AlertManager } from "../../src/alerts/manager.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import type { Alert, AlertChange } from "../../src/alerts/types.ts";
import { apiBaseUrl, apiSectionSchema } from "../../src/api/config.ts";
import { ApiServer, type ApiServerOptions } from "../../src/api/server.ts";
import { MemoryReportStore } from "../../src/report/memory-store.ts";
import { RecentEvents } from "../../src/report/recent-events.ts";
import { SecurityReporter } from "../../src/report/reporter.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { webhookSinkSchema } from "../../src/sinks/config.ts";
import type { SinkDispatcher } from "../../src/sinks/dispatcher.ts";
import { T0, firing, manualClock } from "../alerts/fixtures.ts";
import { ev, failedLogin } from "../report/events.ts";
import { startReceiver } from "../sinks/receiver.ts";

const TOKEN = "test-token-0123456789";
const env = { API_TOKEN: TOKEN, HOOK_SECRET: "hook-secret" };
const auth = { authorization: `Bearer ${TOKEN}` };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, asserted field by field
type JsonBody = any;

interface Harness {
  base: string;
  manager: AlertManager;
  changes: AlertChange[];
  recent: RecentEvents;
  reporter: SecurityReporter;
  get: (
    path: string,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; body: JsonBody; headers: Headers }>;
  send: (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; body: JsonBody; headers: Headers }>;
}

async function start(
  extra: Partial<ApiServerOptions> & { dispatcher?: SinkDispatcher } = {},
  configOverrides: Record<string, unknown> = {},
): Promise<Harness> {
  const clock = manualClock(T0 + 200_000);
  const changes: AlertChange[] = [];
  const recent = new RecentEvents();
  const manager = new AlertManager({
    store: new MemoryAlertStore(),
    clock: clock.now,
    onChanges: (c) => {
      changes.push(...c);
      // as the detector wires it: alerted groups keep their events
      for (const x of c) if (x.firing) recent.watch(x.alert.group);
      extra.dispatcher?.dispatch(c);
    },
  });
  const reporter = new SecurityReporter({
    store: new MemoryReportStore({ clock: clock.now }),
    clock: clock.now,
  });
  const server = new ApiServer({
    config: apiSectionSchema.parse({
      endpoint: "127.0.0.1:0",
      token: { env: "API_TOKEN" },
      ...configOverrides,
    }),
    alerts: manager,
    recentEvents: recent,
    reporter,
    env,
    clock: clock.now,
    ...extra,
  });
  await server.start();
  cleanups.push(() => server.stop());
  const base = server.url;
  const send: Harness["send"] = async (method, path, body, headers = auth) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  return { base, manager, changes, recent, reporter, get: (p, h) => send("GET", p, undefined, h), send };
}

async function seed(h: Harness, n: number): Promise<Alert[]> {
  const out: Alert[] = [];
  const severities = ["critical", "high", "medium", "low"] as const;
  for (let i = 0; i < n; i++) {
    const [c] = await h.manager.handle([
      firing({
        rule: i % 2 ? "api_scanning" : "brute_force",
        severity: severities[i % 4]!,
        group: { [ATTR.CLIENT_ADDRESS]: `198.51.100.${i}` },
        lastSeen: T0 + i * 1000,
      }),
    ]);
    out.push(c!.alert);
  }
  return out;
}

describe("API: authentication", () => {
  it("requires the bearer token on /api/* and unknown paths, never on /healthz and /readyz", async () => {
    const h = await start({
      readiness: () => ({ ready: false, checks: { otlp_grpc: { healthy: false, detail: "not listening" } } }),
    });
    const missing = await h.get("/api/alerts", {});
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({
      error: { code: "AUTH_REQUIRED", message: "A valid bearer token is required" },
    });
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await h.get("/api/alerts", { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await h.get("/api/alerts", { authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await h.get("/api/alerts", { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await h.get("/nope", {})).status).toBe(401);
    expect((await h.get("/api/alerts")).status).toBe(200);
    expect(await h.get("/healthz", {})).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await h.get("/readyz", {})).toMatchObject({
      status: 503,
      body: { ready: false, checks: { otlp_grpc: { healthy: false } } },
    });
  });

  it("refuses to start beyond loopback without a token, naming the setting", async () => {
    // The schema rejects this config (see config.test.ts); the server checks again for configs
    // built in code.
    const config = { ...apiSectionSchema.parse({}), endpoint: "0.0.0.0:0" };
    const server = new ApiServer({ config, alerts: new AlertManager({ store: new MemoryAlertStore() }) });
    await expect(server.start()).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringMatching(/api\.token is required when api\.endpoint \(0\.0\.0\.0:0\)/),
    });
    await server.stop();
  });

  it("without a token on loopback the API is open; a missing token secret fails start", async () => {
    const h = await start({}, { token: undefined });
    expect((await h.get("/api/alerts", {})).status).toBe(200);
    const bad = new ApiServer({
      config: apiSectionSchema.parse({ endpoint: "127.0.0.1:0", token: { env: "MISSING_TOKEN" } }),
      alerts: h.manager,
      env: {},
    });
    await expect(bad.start()).rejects.toMatchObject({ code: "CONFIG_SECRET_MISSING" });
  });

  it("lifecycle: stop is idempotent and safe before start; disabled API does not listen", async () => {
    const server = new ApiServer({
      config: apiSectionSchema.parse({ enabled: false }),
      alerts: new AlertManager({ store: new MemoryAlertStore() }),
    });
    await server.stop();
    await server.start();
    await server.stop();
    expect(apiBaseUrl(apiSectionSchema.parse({ enabled: false }))).toBeUndefined();
    expect(apiBaseUrl(apiSectionSchema.parse({}))).toBe("http://127.0.0.1:8080");
    expect(apiBaseUrl(apiSectionSchema.parse({ public_url: "https://secmon.example.com/" }))).toBe(
      "https://secmon.example.com",
    );
  });
});

describe("API: alerts", () => {
  it("lists with filters and cursor pagination, newest first", async () => {
    const h = await start();
    const alerts = await seed(h, 12);
    const p1 = await h.get("/api/alerts?limit=5");
    expect(p1.status).toBe(200);
    expect(p1.body.alerts.map((a: Alert) => a.id)).toEqual(
      alerts
        .slice(7)
        .reverse()
        .map((a) => a.id),
    );
    const p2 = await h.get(`/api/alerts?limit=5&cursor=${p1.body.next_cursor}`);
    expect(p2.body.alerts.map((a: Alert) => a.id)).toEqual(
      alerts
        .slice(2, 7)
        .reverse()
        .map((a) => a.id),
    );
    const p3 = await h.get(`/api/alerts?limit=5&cursor=${p2.body.next_cursor}`);
    expect(p3.body.alerts).toHaveLength(2);
    expect(p3.body.next_cursor).toBeUndefined();

    const sev = await h.get("/api/alerts?severity=critical,low&rule=brute_force");
    expect(sev.body.alerts.map((a: Alert) => a.severity).sort()).toEqual([
      "critical",
      "critical",
      "critical",
    ]);
    const repeated = await h.get("/api/alerts?severity=critical&severity=high&status=new");
    expect(repeated.body.alerts).toHaveLength(6);
    const seen = await h.get(`/api/alerts?last_seen_from=${new Date(T0 + 10_000).toISOString()}`);
    expect(seen.body.alerts).toHaveLength(2);
    const created = await h.get(`/api/alerts?created_to=${new Date(T0 + 200_000).toISOString()}`);
    expect(created.body.alerts).toHaveLength(0);
  });

  it("answers bad input with 400 naming the field", async () => {
    const h = await start();
    const cases: [string, RegExp][] = [
      ["/api/alerts?limit=0", /limit/],
      ["/api/alerts?limit=501", /limit/],
      ["/api/alerts?limit=ten", /limit/],
      ["/api/alerts?severity=urgent", /severity/],
      ["/api/alerts?status=closed", /status/],
      ["/api/alerts?created_from=yesterday", /created_from/],
      ["/api/alerts?cursor=garbage", /cursor/],
      ["/api/alerts?colour=red", /colour/],
      ["/api/alerts/not-an-id", /id/],
      ["/api/report?period=1w", /period/],
      ["/api/report?period=31d", /period/],
      ["/api/report?top=0", /top/],
      ["/api/dead-letters?limit=1000", /limit/],
    ];
    for (const [path, field] of cases) {
      const r = await h.get(path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe("BAD_REQUEST");
      expect(r.body.error.message, path).toMatch(field);
    }
  });

  it("gets one alert with an ETag, 404 for an unknown one", async () => {
    const h = await start();
    const [a] = await seed(h, 1);
    const r = await h.get(`/api/alerts/${a!.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(a);
    expect(r.headers.get("etag")).toBe(`"${a!.updated_at}"`);
    const missing = await h.get("/api/alerts/alt_01JD3Q000000000000000000ZZ");
    expect(missing).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
  });

  it("PATCH moves the lifecycle, emits changes, and rejects invalid or conflicting changes", async () => {
    const h = await start();
    const [a] = await seed(h, 1);
    const id = a!.id;
    const inv = await h.send("PATCH", `/api/alerts/${id}`, { status: "investigating", assignee: "ana" });
    expect(inv.status).toBe(200);
    expect(inv.body).toMatchObject({ status: "investigating", assignee: "ana" });
    const resolved = await h.send(
      "PATCH",
      `/api/alerts/${id}`,
      { status: "resolved", resolution: { note: "blocked at the edge" } },
      { ...auth, "x-secmon-actor": "ana@soc", "if-match": inv.headers.get("etag")! },
    );
    expect(resolved.status).toBe(200);
    expect(resolved.body.resolution).toMatchObject({ by: "ana@soc", note: "blocked at the edge" });
    expect(h.changes.map((c) => c.type)).toEqual([
      "alert.created",
      "alert.status_changed",
      "alert.status_changed",
    ]);

    const stale = await h.send("PATCH", `/api/alerts/${id}`, {
      assignee: "bo",
      expected_updated_at: inv.body.updated_at,
    });
    expect(stale).toMatchObject({ status: 409, body: { error: { code: "CONFLICT" } } });
    const staleHeader = await h.send(
      "PATCH",
      `/api/alerts/${id}`,
      { assignee: "bo" },
      { ...auth, "if-match": inv.headers.get("etag")! },
    );
    expect(staleHeader.status).toBe(409);

    const bad: [unknown, RegExp][] = [
      [{}, /body/],
      [{ status: "closed" }, /status/],
      [{ status: "new" }, /cannot move from resolved to new/],
      [{ resolution: { by: "x" } }, /note/],
      [{ resolution: { note: "x", extra: 1 } }, /extra/],
      [{ assignee: "x".repeat(201) }, /assignee/],
      [{ owner: "x" }, /owner/],
    ];
    for (const [body, message] of bad) {
      const r = await h.send("PATCH", `/api/alerts/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    const notJson = await fetch(`${h.base}/api/alerts/${id}`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    const missing = await h.send("PATCH", "/api/alerts/alt_01JD3Q000000000000000000ZZ", {
      status: "resolved",
    });
    expect(missing.status).toBe(404);
  });

  it("GET /api/alerts/:id/events returns the recent events of the alert's group", async () => {
    const h = await start();
    const [a] = await seed(h, 1); // group client.address=198.51.100.0
    h.recent.observe([
      failedLogin(T0 + 1, "198.51.100.0", "aaaa"),
      failedLogin(T0 + 2, "198.51.100.0", "bbbb"),
      failedLogin(T0 + 3, "203.0.113.9", "aaaa"),
    ]);
    const r = await h.get(`/api/alerts/${a!.id}/events?limit=1`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ alert_id: a!.id, group: { [ATTR.CLIENT_ADDRESS]: "198.51.100.0" } });
    expect(r.body.events).toEqual([
      expect.objectContaining({ time: new Date(T0 + 2).toISOString(), event_name: EVENT.AUTH_LOGIN }),
    ]);
    // then the alert's own sample events from before them (what raised it)
    expect(
      (await h.get(`/api/alerts/${a!.id}/events`)).body.events.map((e: { time: string }) => e.time),
    ).toEqual([T0 + 2, T0 + 1, T0].map((t) => new Date(t).toISOString()));
    expect((await h.get("/api/alerts/alt_01JD3Q000000000000000000ZZ/events")).status).toBe(404);
  });
});

describe("API: status and report", () => {
  it("GET /api/status: events today, open alerts by severity, component health", async () => {
    const h = await start({
      components: () => ({ alert_store: { healthy: true }, otlp_http: { healthy: true } }),
    });
    await seed(h, 5);
    h.reporter.observe([
      failedLogin(T0, "192.0.2.1", "a"),
      ev(EVENT.API_REQUEST, T0 + 1),
      failedLogin(T0 - 86_400_000, "192.0.2.1", "a"), // yesterday: not today
    ]);
    const r = await h.get("/api/status");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      events_today: 2,
      open_alerts: { critical: 2, high: 1, medium: 1, low: 1 },
      components: { alert_store: { healthy: true }, otlp_http: { healthy: true } },
      healthy: true,
    });
  });

  it("GET /api/report gives the seed's report on event time", async () => {
    const h = await start();
    h.reporter.observe([
      failedLogin(T0, "192.0.2.1", "aaaa"),
      failedLogin(T0 + 1, "192.0.2.1", "aaaa"),
      failedLogin(T0 + 2, "192.0.2.2", "bbbb"),
    ]);
    const r = await h.get("/api/report?period=24h&top=1");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      period: "24h",
      summary: { sign_ins: 3, failed_sign_ins: 3, unique_client_addresses: 2 },
      top_failed_identifiers: [{ value: "aaaa", failures: 2 }],
      top_failed_addresses: [{ value: "192.0.2.1", failures: 2 }],
    });
    expect((await h.get("/api/report")).body.period).toBe("24h");
  });
});

describe("API: dead letters", () => {
  it("lists a webhook's dead letters, replays one (delivered, same id) and drops another", async () => {
    let accept = false;
    const receiver = await startReceiver((_n, _r, res) => res.writeHead(accept ? 200 : 400).end());
    cleanups.push(() => receiver.close());
    const dispatcher = createSinkDispatcher(
      [
        webhookSinkSchema.parse({
          type: "webhook",
          name: "soc",
          url: receiver.url,
          secret: { env: "HOOK_SECRET" },
        }),
      ],
      { env },
    );
    cleanups.push(() => dispatcher.stop());
    const h = await start({ dispatcher });
    await seed(h, 2);
    await dispatcher.whenIdle();
    const list = await h.get("/api/dead-letters?sink=soc");
    expect(list.status).toBe(200);
    expect(list.body.dead_letters).toHaveLength(2);
    const [first, second] = list.body.dead_letters;
    expect(first).toMatchObject({ sink: "soc", reason: "final_status", status: 400, type: "alert.created" });

    accept = true;
    const replay = await h.send("POST", `/api/dead-letters/${first.id}/replay`);
    expect(replay).toMatchObject({
      status: 202,
      body: { delivery_id: first.id, sink: "soc", status: "queued" },
    });
    await dispatcher.whenIdle();
    expect(receiver.received.at(-1)?.headers["x-secmon-delivery"]).toBe(first.id);
    expect(JSON.parse(receiver.received.at(-1)!.body).alert.id).toBe(first.alert.id);

    expect((await h.send("DELETE", `/api/dead-letters/${second.id}`)).status).toBe(204);
    expect((await h.get("/api/dead-letters")).body.dead_letters).toEqual([]);
    expect((await h.send("DELETE", `/api/dead-letters/${second.id}`)).status).toBe(404);
    expect((await h.send("POST", `/api/dead-letters/${second.id}/replay`)).status).toBe(404);
    expect((await h.send("POST", "/api/dead-letters/bad/replay")).status).toBe(400);
  });

  it("answers 404 for dead letters when no sinks are wired", async () => {
    const h = await start();
    expect(await h.get("/api/dead-letters")).toMatchObject({
      status: 404,
      body: { error: { code: "NOT_FOUND" } },
    });
  });
});
