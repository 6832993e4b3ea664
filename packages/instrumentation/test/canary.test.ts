/**
 * A password handed to any method, in any position, never reaches an exporter. Every method is
 * called with a full input (every optional string filled); each string leaf of that input is then
 * replaced, one at a time, by a canary password in every shape a leak takes, and the serialized
 * exported records (body, attributes, resource, scope) must not contain it.
 */
import type { SecurityEvents } from "../src/types.ts";
import { afterAll, describe, expect, it } from "vitest";
import { memoryLogs, serializeRecord } from "./helpers/sdk.ts";
import type { MemoryLogs } from "./helpers/sdk.ts";

const CANARY = "Pa55w0rd!canary-7f3a";
const base64 = (text: string) => Buffer.from(text).toString("base64");
const base64url = (text: string) => Buffer.from(text).toString("base64url");
const JWT = `${base64url('{"alg":"HS256"}')}.${base64url(`{"sub":"alice","pwd":"${CANARY}"}`)}.c2lnbmF0dXJl`;

/** A leak shape: the string handed in, and the strings that must never come out. */
interface Form {
  readonly name: string;
  readonly value: string;
  readonly secrets: readonly string[];
}

const FORMS: readonly Form[] = [
  { name: "raw", value: CANARY, secrets: [CANARY] },
  {
    name: "password=",
    value: `user=alice&password=${encodeURIComponent(CANARY)}`,
    secrets: [CANARY, encodeURIComponent(CANARY)],
  },
  { name: "key: value", value: `secret: ${CANARY}`, secrets: [CANARY] },
  { name: "JSON", value: JSON.stringify({ username: "alice", password: CANARY }), secrets: [CANARY] },
  { name: "bearer", value: `Bearer ${CANARY}`, secrets: [CANARY] },
  {
    name: "basic",
    value: `Basic ${base64(`alice:${CANARY}`)}`,
    secrets: [CANARY, base64(`alice:${CANARY}`)],
  },
  { name: "jwt", value: JWT, secrets: [CANARY, JWT, JWT.split(".")[1]!] },
  { name: "url credentials", value: `https://alice:${CANARY}@db.example.com/x`, secrets: [CANARY] },
  { name: "api key header", value: `x-api-key=${CANARY}`, secrets: [CANARY] },
  { name: "one-time code", value: `otp=${CANARY}`, secrets: [CANARY] },
  { name: "query string", value: `/reset?token=${CANARY}`, secrets: [CANARY] },
  { name: "path token", value: `/reset/${JWT}`, secrets: [CANARY, JWT] },
];

/** Shared context with every optional string set, and metadata with secrets at every depth. */
const context = () => ({
  request: {
    ip: "192.0.2.10",
    headers: {
      "user-agent": "Mozilla/5.0",
      authorization: `Bearer ${CANARY}`,
      cookie: `sid=${CANARY}`,
      "x-api-key": CANARY,
    },
  },
  clientAddress: "192.0.2.11",
  userAgent: "curl/8.0",
  userId: "u-1",
  identifier: "alice@example.com",
  sessionId: "session-token-value",
  metadata: {
    note: "plain note",
    password: CANARY,
    apiKey: CANARY,
    API_KEY: CANARY,
    "x-api-key": CANARY,
    otp: CANARY,
    one_time_code: CANARY,
    passcode: CANARY,
    Authorization: `Basic ${base64(`alice:${CANARY}`)}`,
    nested: { deeper: { credentials: { pwd: CANARY }, label: "x" } },
    list: [{ token: CANARY, ok: "y" }, { cookie: CANARY }],
    tags: ["a", "b"],
  },
});

/** Every method with a complete input. */
const CALLS: Record<keyof SecurityEvents, () => Record<string, unknown>> = {
  loginSuccess: () => ({ ...context(), method: "password" }),
  loginFailure: () => ({ ...context(), reason: "invalid_credentials", method: "password" }),
  logout: () => ({ ...context(), reason: "user" }),
  mfa: () => ({ ...context(), outcome: "failure", method: "totp" }),
  passwordChange: () => ({ ...context(), outcome: "success" }),
  passwordReset: () => ({ ...context(), stage: "requested", outcome: "success" }),
  accountLocked: () => ({ ...context(), reason: "too_many_failures" }),
  accountChange: () => ({ ...context(), changeType: "role_granted", targetUserId: "u-2" }),
  authzDecision: () => ({
    ...context(),
    decision: "deny",
    permission: "admin:read",
    missingPermissions: ["admin", "audit"],
    resource: "report/1",
  }),
  inputValidationFailure: () => ({
    ...context(),
    field: "id",
    rule: "sqli",
    route: "/users/:id",
    path: "/users/1",
  }),
  dataAccess: () => ({ ...context(), resource: "report", operation: "export", recordCount: 1, bytes: 10 }),
  apiRequest: () => ({
    ...context(),
    method: "POST",
    route: "/login",
    path: "/login",
    statusCode: 401,
    durationSeconds: 0.01,
  }),
};

/**
 * Positions whose raw value is the application's own free-form text (a User-Agent, a user id, a
 * permission name): a raw password there is indistinguishable from a legitimate value. They are
 * still checked with every other leak shape.
 */
const FREE_FORM = [
  /^request\.headers\.user-agent$/,
  /^userAgent$/,
  /^userId$/,
  /^targetUserId$/,
  /^permission$/,
  /^missingPermissions\.\d+$/,
  /^resource$/,
  /^field$/,
  /^metadata\.note$/,
  /^metadata\.tags\.\d+$/,
  /^metadata\.nested\.deeper\.label$/,
  /^metadata\.list\.0\.ok$/,
];

/** Paths of every string leaf. */
function stringLeaves(value: unknown, path: string[] = []): string[][] {
  if (typeof value === "string") return [path];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => stringLeaves(child, [...path, key]));
}

function withLeaf(input: Record<string, unknown>, path: string[], value: string): Record<string, unknown> {
  const copy = structuredClone(input);
  let target = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path.at(-1)!] = value;
  return copy;
}

describe.each([
  { includeUserName: false, name: "defaults" },
  { includeUserName: true, name: "user.name opted in" },
])("canary password never leaves the process ($name)", ({ includeUserName }) => {
  const logs: MemoryLogs = memoryLogs({ includeUserName });
  afterAll(() => logs.shutdown());

  function exported(method: keyof SecurityEvents, input: Record<string, unknown>): string {
    logs.exporter.reset();
    (logs.events[method] as (input: unknown) => void)(input);
    const records = logs.exporter.getFinishedLogRecords();
    expect(records.length, `${method} emitted`).toBe(1);
    return records.map(serializeRecord).join("\n");
  }

  it.each(Object.keys(CALLS) as (keyof SecurityEvents)[])(
    "%s, in every string position and shape",
    (method) => {
      const input = CALLS[method]();
      // the complete input itself carries secrets in metadata and headers: none may come out
      const baseline = exported(method, input);
      expect(baseline).not.toContain(CANARY);
      expect(baseline).not.toContain(base64(`alice:${CANARY}`));

      let checked = 0;
      for (const path of stringLeaves(input)) {
        const dotted = path.join(".");
        for (const form of FORMS) {
          if (form.name === "raw" && FREE_FORM.some((re) => re.test(dotted))) continue;
          if (form.name === "raw" && includeUserName && dotted === "identifier") continue; // opted in
          const output = exported(method, withLeaf(input, path, form.value));
          for (const secret of form.secrets) {
            expect(output, `${method} ${dotted} as ${form.name}`).not.toContain(secret);
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(100);
    },
  );
});
