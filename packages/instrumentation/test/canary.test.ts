/**
 * A password handed to any method, in any position, never reaches an exporter. Every method is
 * called with a full input (every optional string filled; metadata carrying secrets in every shape
 * the scrubber knows: secret keys, `rawHeaders`-style arrays, `[name, value]` pairs, name/value
 * objects, one-time codes). Then, one at a time:
 * - each string leaf of that input is replaced by a canary password in every shape a leak takes;
 * - each key of the metadata is replaced by the same shapes (a secret used as a key);
 * and the serialized exported records (body, attributes, resource, scope) must not contain any
 * 12-character stretch of the canary, also with punctuation turned into `_` as attribute keys are.
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
  { name: "cookie", value: `theme=dark; session=${CANARY}; lang=en`, secrets: [CANARY] },
  { name: "set-cookie", value: `id=${CANARY}; Path=/; HttpOnly; Secure`, secrets: [CANARY] },
  { name: "url user-info", value: `https://${CANARY}@git.example.com/org/repo.git`, secrets: [CANARY] },
  {
    name: "url query",
    value: `https://app.example.com/callback?state=xyz&code=${encodeURIComponent(CANARY)}`,
    secrets: [CANARY, encodeURIComponent(CANARY)],
  },
  { name: "JSON, short key", value: JSON.stringify({ pw: CANARY }), secrets: [CANARY] },
  {
    name: "XML",
    value: `<Login><User>alice</User><Password>${CANARY}</Password></Login>`,
    secrets: [CANARY],
  },
  { name: "digest", value: `Digest username="alice", realm="app", response="${CANARY}"`, secrets: [CANARY] },
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
    // what Node hands out as `req.rawHeaders`: a secret value follows a secret-named element
    rawHeaders: ["Host", "example.com", "Cookie", "s=1", "X-Api-Key", "k-1", "Authorization", "x"],
    pairs: [
      ["password", "x"],
      ["otp", "x"],
    ],
    fields: [
      { name: "password", value: "x" },
      { key: "api_key", value: "x" },
      { Name: "Authorization", Value: "x" },
      { NAME: "mfaCode", VALUE: "x" },
    ],
    mfaCode: "x",
    verificationCode: "x",
    otpCode: "x",
    mfa: { code: "x" },
    pw: "x",
    passwd: "x",
    pwd: "x",
    passphrase: "x",
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
  // the names of pairs and the innocent value: a raw password there is just a string
  /^metadata\.rawHeaders\.[01246]$/,
  /^metadata\.pairs\.\d+\.0$/,
  /^metadata\.fields\.\d+\.(?:name|key|Name|NAME)$/,
];

/** Paths of every string leaf. */
function stringLeaves(value: unknown, path: string[] = []): string[][] {
  if (typeof value === "string") return [path];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => stringLeaves(child, [...path, key]));
}

/** Paths of every object key below `metadata` (array indices excluded). */
function metadataKeys(value: unknown, path: string[] = ["metadata"]): string[][] {
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    ...(Array.isArray(value) ? [] : [[...path, key]]),
    ...metadataKeys(child, [...path, key]),
  ]);
}

function withLeaf(input: Record<string, unknown>, path: string[], value: string): Record<string, unknown> {
  const copy = structuredClone(input);
  let target = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path.at(-1)!] = value;
  return copy;
}

/** The input with the key at `path` renamed to `key` (its value kept). */
function withKey(input: Record<string, unknown>, path: string[], key: string): Record<string, unknown> {
  const copy = structuredClone(input);
  let target = copy as Record<string, unknown>;
  for (const segment of path.slice(0, -1)) target = target[segment] as Record<string, unknown>;
  const old = path.at(-1)!;
  target[key] = target[old];
  delete target[old];
  return copy;
}

/** Punctuation as attribute keys have it (`[^A-Za-z0-9_-]` becomes `_`), and `-` too. */
const normalize = (text: string) => text.replace(/[^A-Za-z0-9]/g, "_");
const STRETCH = 12;

/** Every 12-character stretch of a secret, normalized, remembered per secret. */
const stretchesOf = new Map<string, string[]>();
function stretches(secret: string): string[] {
  let found = stretchesOf.get(secret);
  if (found === undefined) {
    const normal = normalize(secret);
    found = [];
    for (let i = 0; i + STRETCH <= normal.length; i++) found.push(normal.slice(i, i + STRETCH));
    stretchesOf.set(secret, found);
  }
  return found;
}

/** The first stretch of one of `secrets` found in `output` (both normalized), if any. */
function leakedStretch(output: string, secrets: readonly string[]): string | undefined {
  const plain = normalize(output);
  for (const secret of secrets) {
    if (output.includes(secret)) return secret;
    const leaked = stretches(secret).find((stretch) => plain.includes(stretch));
    if (leaked !== undefined) return leaked;
  }
  return undefined;
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

  function expectNoLeak(output: string, form: Form, where: string): void {
    const leaked = leakedStretch(output, form.secrets);
    if (leaked !== undefined) expect.fail(`${where} as ${form.name}: "${leaked}" in ${output}`);
  }

  it.each(Object.keys(CALLS) as (keyof SecurityEvents)[])(
    "%s, in every string position and shape",
    (method) => {
      const input = CALLS[method]();
      // the complete input itself carries secrets in metadata and headers: none may come out
      const baseline = exported(method, input);
      expectNoLeak(
        baseline,
        { name: "baseline", value: "", secrets: [CANARY, base64(`alice:${CANARY}`)] },
        method,
      );

      let checked = 0;
      for (const path of stringLeaves(input)) {
        const dotted = path.join(".");
        for (const form of FORMS) {
          if (form.name === "raw" && FREE_FORM.some((re) => re.test(dotted))) continue;
          if (form.name === "raw" && includeUserName && dotted === "identifier") continue; // opted in
          expectNoLeak(exported(method, withLeaf(input, path, form.value)), form, `${method} ${dotted}`);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(100);
    },
  );

  it.each(Object.keys(CALLS) as (keyof SecurityEvents)[])(
    "%s, with the canary as a metadata key, in every shape",
    (method) => {
      const input = CALLS[method]();
      let checked = 0;
      for (const path of metadataKeys(input.metadata)) {
        const dotted = path.join(".");
        // a raw password used as a key is a key like any other: every other shape is caught
        for (const form of FORMS.filter((f) => f.name !== "raw")) {
          expectNoLeak(exported(method, withKey(input, path, form.value)), form, `${method} key ${dotted}`);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(100);
    },
  );
});
