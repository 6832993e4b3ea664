/**
 * The example service (examples/demo-service) in-process on an ephemeral port, with the real SDK:
 * each flow emits the spec's events, and no demo password ever reaches the exporter.
 */
import { ATTR, EVENT } from "@secmon/semconv";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDemoApp, DEMO_USERS, totp } from "../../../../examples/demo-service/src/index.ts";
import type { DemoServer } from "../../../../examples/demo-service/src/index.ts";
import { httpRequest, until } from "../helpers/http.ts";
import type { HttpResult } from "../helpers/http.ts";
import { memoryLogs, serializeRecord } from "../helpers/sdk.ts";
import type { MemoryLogs } from "../helpers/sdk.ts";

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const password = (username: string) => DEMO_USERS.find((u) => u.username === username)!.password;
const CAROL_SECRET = DEMO_USERS.find((u) => u.username === "carol")!.totpSecret!;

describe("demo service", () => {
  let logs: MemoryLogs;
  let server: DemoServer;

  beforeAll(async () => {
    logs = memoryLogs();
    const demo = await createDemoApp({
      events: logs.events,
      scryptCost: 2 ** 10,
      lockThreshold: 3,
      downloadBytes: 200_000,
      clock: () => T0,
    });
    server = await demo.listen(0);
  });
  afterAll(async () => {
    await server.close();
    // no password of any demo account, in any record the service produced
    const everything = logs.exporter.getFinishedLogRecords().map(serializeRecord).join("\n");
    for (const user of DEMO_USERS) expect(everything).not.toContain(user.password);
    await logs.shutdown();
  });
  beforeEach(() => {
    logs.exporter.reset();
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    sessionToken?: string,
  ): Promise<HttpResult> {
    const headers: Record<string, string> = { "user-agent": "demo-test" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (sessionToken !== undefined) headers["authorization"] = `Bearer ${sessionToken}`;
    const before = logs.records(EVENT.API_REQUEST).length;
    const response = await httpRequest(server.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    await until(() => logs.records(EVENT.API_REQUEST).length > before, `api.request for ${path}`);
    return response;
  }

  async function signIn(username: string): Promise<string> {
    const response = await call("POST", "/login", { username, password: password(username) });
    expect(response.status).toBe(200);
    return (JSON.parse(response.body.toString()) as { token: string }).token;
  }

  it("sign-in success and sign-out", async () => {
    const token = await signIn("alice");
    const [login] = logs.records(EVENT.AUTH_LOGIN);
    expect(login!.attributes).toMatchObject({
      [ATTR.AUTH_OUTCOME]: "success",
      [ATTR.USER_ID]: "u-alice",
      [ATTR.CLIENT_ADDRESS]: "127.0.0.1",
    });
    expect(login!.attributes[ATTR.USER_HASH]).toMatch(/^[0-9a-f]{32}$/);
    expect(login!.attributes[ATTR.SESSION_ID]).toMatch(/^[0-9a-f]{32}$/);
    expect(serializeRecord(login!)).not.toContain(token);
    expect((await call("GET", "/me", undefined, token)).status).toBe(200);
    expect((await call("POST", "/logout", undefined, token)).status).toBe(204);
    const [logout] = logs.records(EVENT.AUTH_LOGOUT);
    expect(logout!.attributes[ATTR.AUTH_LOGOUT_REASON]).toBe("user");
    expect(logout!.attributes[ATTR.SESSION_ID]).toBe(login!.attributes[ATTR.SESSION_ID]);
    expect((await call("GET", "/me", undefined, token)).status).toBe(401);
    const api = logs.records(EVENT.API_REQUEST).find((r) => r.attributes[ATTR.HTTP_ROUTE] === "/login");
    expect(api!.attributes[ATTR.HTTP_REQUEST_METHOD]).toBe("POST");
  });

  it("failures lock the account after the threshold", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await call("POST", "/login", { username: "bob", password: "wrong-guess" })).status).toBe(401);
    }
    expect((await call("POST", "/login", { username: "bob", password: password("bob") })).status).toBe(423);
    expect((await call("POST", "/login", { username: "nobody", password: "x" })).status).toBe(401);
    const reasons = logs.records(EVENT.AUTH_LOGIN).map((r) => r.attributes[ATTR.AUTH_FAILURE_REASON]);
    expect(reasons).toEqual([
      "invalid_credentials",
      "invalid_credentials",
      "invalid_credentials",
      "account_locked",
      "unknown_user",
    ]);
    const [locked] = logs.records(EVENT.AUTH_ACCOUNT_LOCKED);
    expect(locked!.attributes).toMatchObject({
      [ATTR.USER_ID]: "u-bob",
      [ATTR.AUTH_LOCK_REASON]: "too_many_failures",
    });
    // the admin unlocks bob: account.change with the target user
    const admin = await signIn("admin");
    expect((await call("POST", "/admin/users/u-bob/unlock", undefined, admin)).status).toBe(204);
    const [change] = logs.records(EVENT.ACCOUNT_CHANGE);
    expect(change!.attributes).toMatchObject({
      [ATTR.ACCOUNT_CHANGE_TYPE]: "enabled",
      [ATTR.ACCOUNT_TARGET_USER_ID]: "u-bob",
      [ATTR.USER_ID]: "u-admin",
    });
    const unlock = logs
      .records(EVENT.API_REQUEST)
      .find((r) => r.attributes[ATTR.URL_PATH] === "/admin/users/u-bob/unlock");
    expect(unlock!.attributes[ATTR.HTTP_ROUTE]).toBe("/admin/users/:id/unlock");
    await signIn("bob");
  });

  it("the admin route checks the role and emits authz.decision", async () => {
    const alice = await signIn("alice");
    expect((await call("GET", "/admin", undefined, alice)).status).toBe(403);
    const admin = await signIn("admin");
    expect((await call("GET", "/admin", undefined, admin)).status).toBe(200);
    const decisions = logs.records(EVENT.AUTHZ_DECISION);
    expect(decisions.map((d) => d.attributes[ATTR.AUTHZ_DECISION])).toEqual(["deny", "allow"]);
    expect(decisions[0]!.attributes).toMatchObject({
      [ATTR.USER_ID]: "u-alice",
      [ATTR.AUTHZ_PERMISSION]: "admin:read",
      [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin"],
    });
  });

  it("/users/:id rejects SQL injection and reports other users' profiles as authz decisions", async () => {
    const alice = await signIn("alice");
    const injected = await call("GET", `/users/${encodeURIComponent("1' OR 1=1--")}`, undefined, alice);
    expect(injected.status).toBe(400);
    const [failure] = logs.records(EVENT.INPUT_VALIDATION_FAILURE);
    expect(failure!.attributes).toMatchObject({
      [ATTR.INPUT_FIELD]: "id",
      [ATTR.INPUT_RULE]: "sqli",
      [ATTR.HTTP_ROUTE]: "/users/:id",
      [ATTR.USER_ID]: "u-alice",
    });
    expect((await call("GET", "/users/u-alice", undefined, alice)).status).toBe(200);
    expect(logs.records(EVENT.DATA_ACCESS)[0]!.attributes[ATTR.DATA_RESOURCE]).toBe("user_profile");
    expect((await call("GET", "/users/u-bob", undefined, alice)).status).toBe(403);
    expect(logs.records(EVENT.AUTHZ_DECISION).at(-1)!.attributes[ATTR.AUTHZ_DECISION]).toBe("deny");
    expect((await call("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")).status).toBe(400);
    expect(logs.records(EVENT.INPUT_VALIDATION_FAILURE).at(-1)!.attributes[ATTR.INPUT_RULE]).toBe("xss");
    expect((await call("POST", "/login", "{not json")).status).toBe(400);
    expect(logs.records(EVENT.INPUT_VALIDATION_FAILURE).at(-1)!.attributes[ATTR.INPUT_RULE]).toBe("format");
  });

  it("a download streams the configured bytes and emits data.access", async () => {
    const alice = await signIn("alice");
    const response = await call("GET", "/download/q3-report", undefined, alice);
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(200_000);
    await until(() => logs.records(EVENT.DATA_ACCESS).length === 1, "data.access");
    expect(logs.records(EVENT.DATA_ACCESS)[0]!.attributes).toMatchObject({
      [ATTR.DATA_OPERATION]: "export",
      [ATTR.DATA_BYTES]: 200_000,
      [ATTR.DATA_RESOURCE]: "report/q3-report",
    });
    const api = logs
      .records(EVENT.API_REQUEST)
      .find((r) => r.attributes[ATTR.HTTP_ROUTE] === "/download/:id");
    expect(api!.attributes[ATTR.HTTP_RESPONSE_BODY_SIZE]).toBe(200_000);
    expect((await call("GET", "/download/x?bytes=5000", undefined, alice)).body.length).toBe(5000);
  });

  it("second factor: a wrong code fails, the right one signs in", async () => {
    const first = await call("POST", "/login", { username: "carol", password: password("carol") });
    const { mfaTicket } = JSON.parse(first.body.toString()) as { mfaTicket: string };
    expect(mfaTicket).toBeTruthy();
    expect(logs.records(EVENT.AUTH_LOGIN)).toHaveLength(0);
    const wrong = totp(CAROL_SECRET, T0) === "000000" ? "111111" : "000000";
    expect((await call("POST", "/login/mfa", { ticket: mfaTicket, code: wrong })).status).toBe(401);
    expect(
      (await call("POST", "/login/mfa", { ticket: mfaTicket, code: totp(CAROL_SECRET, T0) })).status,
    ).toBe(200);
    expect(logs.records(EVENT.AUTH_MFA).map((r) => r.attributes[ATTR.AUTH_OUTCOME])).toEqual([
      "failure",
      "success",
    ]);
    expect(logs.records(EVENT.AUTH_LOGIN).map((r) => r.attributes[ATTR.AUTH_FAILURE_REASON] ?? "ok")).toEqual(
      ["mfa_failed", "ok"],
    );
  });

  it("password reset and password change", async () => {
    const requested = await call("POST", "/password/reset/request", { username: "alice" });
    expect(requested.status).toBe(202);
    const { resetToken } = JSON.parse(requested.body.toString()) as { resetToken: string };
    const fresh = "a brand new passphrase";
    expect(
      (await call("POST", "/password/reset/complete", { token: "bogus", newPassword: fresh })).status,
    ).toBe(400);
    expect(
      (await call("POST", "/password/reset/complete", { token: resetToken, newPassword: fresh })).status,
    ).toBe(204);
    const stages = logs
      .records(EVENT.AUTH_PASSWORD_RESET)
      .map((r) => [r.attributes[ATTR.AUTH_RESET_STAGE], r.attributes[ATTR.AUTH_OUTCOME]]);
    expect(stages).toEqual([
      ["requested", "success"],
      ["completed", "failure"],
      ["completed", "success"],
    ]);
    const login = await call("POST", "/login", { username: "alice", password: fresh });
    const token = (JSON.parse(login.body.toString()) as { token: string }).token;
    const back = password("alice");
    expect(
      (await call("POST", "/password/change", { currentPassword: "nope", newPassword: back }, token)).status,
    ).toBe(400);
    expect(
      (await call("POST", "/password/change", { currentPassword: fresh, newPassword: back }, token)).status,
    ).toBe(204);
    expect(logs.records(EVENT.AUTH_PASSWORD_CHANGE).map((r) => r.attributes[ATTR.AUTH_OUTCOME])).toEqual([
      "failure",
      "success",
    ]);
    const everything = logs.exporter.getFinishedLogRecords().map(serializeRecord).join("\n");
    expect(everything).not.toContain(fresh);
    expect(everything).not.toContain(resetToken);
  });

  it("sign-up emits account.change created", async () => {
    expect((await call("POST", "/signup", { username: "dave", password: "dave-long-password" })).status).toBe(
      201,
    );
    expect(logs.records(EVENT.ACCOUNT_CHANGE)[0]!.attributes[ATTR.ACCOUNT_CHANGE_TYPE]).toBe("created");
    expect(serializeRecord(logs.records(EVENT.ACCOUNT_CHANGE)[0]!)).not.toContain("dave-long-password");
  });
});
