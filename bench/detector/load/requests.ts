/**
 * Realistic OTLP ExportLogsServiceRequests for the detector's benchmarks: the records our
 * instrumentation emits, in the mix a service's traffic has, pre-encoded once so that sending
 * costs nothing but a copy and a few patched bytes. Deterministic: the same options give the same
 * stream.
 *
 * The stream is a cycle of `requests` templates of `records` records each. Request k of the
 * stream is template k mod `requests`, stamped with its own event times (`eventsPerSecond` of
 * event time, one record after the other, so every request's bytes and batch id differ) and with
 * the attackers of cycle ⌊k / requests⌋: each cycle brings new attacker addresses and users, so
 * new alerts keep being created however long the stream runs.
 *
 * The mix (per 512 records, about): 72 % api.request (200/201/204/304, 1.5 % 404, some 401/403/500;
 * response and request body sizes; 15 % anonymous), 16 % auth.login (8 % failures), 5 %
 * authz.decision (4 % denied), 4 % data.access, 1 % input.validation_failure (mostly type/length/
 * format), 1 % other security events, from `users` users at `addresses` client addresses (each
 * user mostly at a home address, a few users per address), plus about 1 % attacker records:
 * a credential stuffer, a route scanner, an injector, an account takeover, a privilege escalation,
 * a bulk download and a data-access surge per cycle.
 */
import {
  ATTR,
  AUTH_FAILURE_REASON,
  AUTH_METHOD,
  AUTH_OUTCOME,
  EVENT,
  RESOURCE_ATTR,
} from "../../../packages/semconv/src/index.ts";

/** Minimal protobuf writer: enough wire format for OTLP logs, no dependencies. */
class Wire {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;
  /** Where the data of the last `bytes` field starts. */
  lastDataOffset = 0;

  get pos(): number {
    return this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  varint(value: number): this {
    this.#ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#pos++] = v;
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.#ensure(data.length);
    this.lastDataOffset = this.#pos;
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, "utf8"));
  }

  fixed64(field: number, value: bigint): this {
    this.tag(field, 1);
    this.#ensure(8);
    this.#buf.writeBigUInt64LE(value, this.#pos);
    this.#pos += 8;
    return this;
  }

  double(field: number, value: number): this {
    this.tag(field, 1);
    this.#ensure(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos));
  }
}

export type Value = string | number | boolean | readonly string[];

function anyValue(value: Value): Buffer {
  const w = new Wire();
  if (typeof value === "string") w.string(1, value);
  else if (typeof value === "boolean") w.tag(2, 0).varint(value ? 1 : 0);
  else if (Array.isArray(value))
    w.bytes(5, Buffer.concat(value.map((v) => new Wire().bytes(1, anyValue(v)).finish())));
  else if (Number.isInteger(value)) w.tag(3, 0).varint(value as number);
  else w.double(4, value as number);
  return w.finish();
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Identities, patched per cycle so that the stream does not repeat itself: attackers (`ip`, a
 * fixed-width IPv4 address `10.ddd.ddd.ddd`; `hex`, a 32-character user.hash; `num`, a user.id
 * `x-dddddddd`) are new in every cycle, and benign users (`user`, `u-ddddd`; `hash`, their
 * user.hash) and addresses (`address`, `198.ddd.ddd.ddd`) are shifted by a stride, so that a
 * user who failed a sign-in in one cycle is someone else in the next.
 */
export type PatchKind = "ip" | "hex" | "num" | "user" | "hash" | "address";

/** An identity in a record: attacker slot or benign user / address number `n`, and a salt. */
export interface Patch {
  readonly key: string;
  readonly kind: PatchKind;
  readonly n: number;
  readonly salt: number;
}

/** Attacker slots (one identity each per cycle). */
const SLOT = {
  STUFFER: 0,
  SCANNER: 1,
  INJECTOR: 2,
  VICTIM: 3,
  INSIDER: 4,
  DOWNLOADER: 5,
  HOARDER: 6,
  TAKEOVER_ADDRESS: 7,
} as const;
const ATTACKER_SLOTS = 8;
const STRIDE = 7919;

const PATCH_WIDTH: Readonly<Record<PatchKind, number>> = {
  ip: 14,
  hex: 32,
  num: 10,
  user: 7,
  hash: 32,
  address: 15,
};

function mix(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const HEX = Buffer.from("0123456789abcdef", "latin1");

/** Writes `digits` decimal digits of x (zero-padded) at `at`. */
function decimal(out: Buffer, at: number, x: number, digits: number): void {
  for (let i = digits - 1; i >= 0; i--) {
    out[at + i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
}

/** Writes x as 8 hex digits at `at`. */
function hex8(out: Buffer, at: number, x: number): void {
  for (let i = 7; i >= 0; i--) {
    out[at + i] = HEX[x & 15]!;
    x >>>= 4;
  }
}

/** Writes `<a>.ddd.ddd.ddd` (a: 2 or 3 digits) for address number n at `at`. */
function octets(out: Buffer, at: number, first: number, n: number): void {
  const w = first >= 100 ? 3 : 2;
  decimal(out, at, first, w);
  let p = at + w;
  for (const x of [Math.floor(n / (156 * 156)), Math.floor(n / 156), n]) {
    out[p] = 46;
    decimal(out, p + 1, 100 + (x % 156), 3);
    p += 4;
  }
}

/**
 * Writes the identity `p` of cycle `cycle` (a stream of `users` users at `addresses` addresses)
 * at `at`: PATCH_WIDTH[p.kind] bytes, written in place of the template's without allocating.
 */
function writeIdentity(
  out: Buffer,
  at: number,
  p: Patch,
  cycle: number,
  users: number,
  addresses: number,
): void {
  const attacker = cycle * ATTACKER_SLOTS + p.n;
  switch (p.kind) {
    case "ip":
      return octets(out, at, 10, attacker);
    case "hex":
      hex8(out, at, attacker);
      for (let i = 0; i < 3; i++) hex8(out, at + 8 + 8 * i, mix(p.salt * 3 + i));
      return;
    case "num":
      out[at] = 120; // x
      out[at + 1] = 45; // -
      return decimal(out, at + 2, attacker % 1e8, 8);
    case "user":
      out[at] = 117; // u
      out[at + 1] = 45; // -
      return decimal(out, at + 2, (p.n + cycle * STRIDE) % users, 5);
    case "hash": {
      const u = (p.n + cycle * STRIDE) % users;
      for (let i = 0; i < 4; i++) hex8(out, at + 8 * i, mix(u + i * users));
      return;
    }
    case "address":
      return octets(out, at, 198, (p.n + cycle * STRIDE) % addresses);
  }
}

const scratch = Buffer.alloc(64);

/** The text writeIdentity writes. */
function identityText(p: Patch, cycle: number, users: number, addresses: number): string {
  writeIdentity(scratch, 0, p, cycle, users, addresses);
  return scratch.toString("latin1", 0, PATCH_WIDTH[p.kind]);
}

/** One record before encoding: what the SDK client emits too. */
export interface RecordSpec {
  readonly name: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, Value>>;
  /** Attributes holding an identity, replaced per cycle. */
  readonly patches: readonly Patch[];
  readonly traceId: string;
  readonly spanId: string;
}

export interface RequestTemplate {
  readonly bytes: Buffer;
  readonly service: string;
  readonly records: readonly RecordSpec[];
  /** Offsets of each record's time_unix_nano (fixed64 data). */
  readonly timeOffsets: Int32Array;
  /** Offsets of each record's observed_time_unix_nano. */
  readonly observedOffsets: Int32Array;
  /** Identities in the bytes: the offset of each string value. */
  readonly patches: readonly (Patch & { readonly offset: number })[];
}

export interface TrafficOptions {
  /** Templates in one cycle. Default 64. */
  requests?: number;
  /** Records per request (the SDK's default batch is 512). */
  records?: number;
  /** Benign client addresses. Default 4000. */
  addresses?: number;
  /** Benign users. Default 20 000. */
  users?: number;
  seed?: number;
  /** Event time of the stream's first record (ms). Default: two hours before now. */
  startMs?: number;
  /** Event-time rate of the stream: records are 1000 / eventsPerSecond ms apart. Default 1000. */
  eventsPerSecond?: number;
}

const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "okhttp/4.12.0",
];
const ATTACK_AGENT = "python-requests/2.32.3";
const ROUTES = [
  "/api/orders/:id",
  "/api/orders",
  "/api/cart",
  "/api/users/:id",
  "/api/search",
  "/api/products/:id",
  "/api/invoices/:id",
  "/api/admin/users",
];
const METHODS = ["GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"];
const PERMISSIONS = ["orders:read", "orders:write", "invoices:read", "users:read", "reports:export"];
const RESOURCES = ["customers", "invoices", "payment_methods", "orders"];
const FIELDS = ["email", "quantity", "postcode", "search", "comment"];
const SERVICES = [
  { name: "checkout", host: "checkout-7d9f8c6b5-x2k4q" },
  { name: "accounts", host: "accounts-5c8b7f9d4-m8z2w" },
];

function hex(rand: () => number, bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++)
    s += Math.floor(rand() * 256)
      .toString(16)
      .padStart(2, "0");
  return s;
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T;
}

/** Which identity an attribute gets: its kind, its number and (by default, the next) salt. */
type Who = Record<string, [kind: PatchKind, n: number, salt?: number]>;

/** The records of one template (index `t` of the cycle), with the identities of cycle 0. */
function templateRecords(
  t: number,
  n: number,
  rand: () => number,
  o: Required<TrafficOptions>,
): RecordSpec[] {
  let salt = t * n * 4;
  // Builds a record: `who` maps attribute keys to identities, written as in cycle 0.
  const record = (
    name: string,
    failure: boolean,
    body: string,
    attributes: Record<string, Value>,
    who: Who = {},
  ): RecordSpec => {
    const patches: Patch[] = [];
    const attrs: Record<string, Value> = {};
    for (const [key, value] of Object.entries(attributes)) {
      const id = who[key];
      if (id === undefined) attrs[key] = value;
      else {
        const patch = { key, kind: id[0], n: id[1], salt: id[2] ?? salt++ };
        patches.push(patch);
        attrs[key] = identityText(patch, 0, o.users, o.addresses);
      }
    }
    return {
      name,
      severityNumber: failure ? 13 : 9,
      severityText: failure ? "WARN" : "INFO",
      body,
      attributes: attrs,
      patches,
      traceId: hex(rand, 16),
      spanId: hex(rand, 8),
    };
  };
  // Identity attributes, in this order; `who` says which identity each one gets.
  const ID = "";
  const BY_ADDRESS = { [ATTR.CLIENT_ADDRESS]: ID };
  const BY_USER = { [ATTR.CLIENT_ADDRESS]: ID, [ATTR.USER_ID]: ID };
  const BY_HASH = { [ATTR.CLIENT_ADDRESS]: ID, [ATTR.USER_HASH]: ID };
  const outcome = (failure: boolean) => (failure ? AUTH_OUTCOME.FAILURE : AUTH_OUTCOME.SUCCESS);
  // A password or OIDC sign-in, failed with invalid credentials or succeeded.
  const login = (failure: boolean, method: string, agent: string, who: Who) =>
    record(
      EVENT.AUTH_LOGIN,
      failure,
      failure ? "login failed: invalid credentials" : "login succeeded",
      {
        ...BY_HASH,
        [ATTR.AUTH_OUTCOME]: outcome(failure),
        ...(failure ? { [ATTR.AUTH_FAILURE_REASON]: AUTH_FAILURE_REASON.INVALID_CREDENTIALS } : {}),
        [ATTR.AUTH_METHOD]: method,
        [ATTR.USER_AGENT_ORIGINAL]: agent,
      },
      who,
    );

  const attacks: RecordSpec[] = [];
  const attack = (...args: Parameters<typeof record>) => attacks.push(record(...args));
  // Credential stuffing from one address: two failed sign-ins per request, a new identifier each.
  for (let i = 0; i < 2; i++) {
    attack(
      EVENT.AUTH_LOGIN,
      true,
      "login failed: unknown user",
      {
        ...BY_HASH,
        [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.FAILURE,
        [ATTR.AUTH_FAILURE_REASON]: AUTH_FAILURE_REASON.UNKNOWN_USER,
        [ATTR.AUTH_METHOD]: AUTH_METHOD.PASSWORD,
        [ATTR.USER_AGENT_ORIGINAL]: ATTACK_AGENT,
      },
      { [ATTR.CLIENT_ADDRESS]: ["ip", SLOT.STUFFER], [ATTR.USER_HASH]: ["hex", SLOT.STUFFER] },
    );
  }
  // Route scanning: one 404 per request.
  attack(
    EVENT.API_REQUEST,
    false,
    "request finished",
    {
      ...BY_ADDRESS,
      [ATTR.HTTP_REQUEST_METHOD]: "GET",
      [ATTR.URL_PATH]: `/${pick(rand, ["wp-admin", ".env", "backup", "phpmyadmin", "api/v0"])}/${hex(rand, 3)}`,
      [ATTR.HTTP_RESPONSE_STATUS_CODE]: 404,
      [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.0011,
      [ATTR.HTTP_RESPONSE_BODY_SIZE]: 153,
      [ATTR.HTTP_REQUEST_BODY_SIZE]: 0,
      [ATTR.USER_AGENT_ORIGINAL]: ATTACK_AGENT,
    },
    { [ATTR.CLIENT_ADDRESS]: ["ip", SLOT.SCANNER] },
  );
  // Injection attempts: every eighth request.
  if (t % 8 === 0) {
    attack(
      EVENT.INPUT_VALIDATION_FAILURE,
      true,
      "input rejected",
      {
        ...BY_ADDRESS,
        [ATTR.INPUT_FIELD]: "search",
        [ATTR.INPUT_RULE]: pick(rand, ["sqli", "xss", "path_traversal"]),
        [ATTR.HTTP_ROUTE]: "/api/search",
        [ATTR.URL_PATH]: "/api/search",
        [ATTR.USER_AGENT_ORIGINAL]: ATTACK_AGENT,
      },
      { [ATTR.CLIENT_ADDRESS]: ["ip", SLOT.INJECTOR] },
    );
  }
  // Account takeover: six failures for one account, then a success.
  if (t < 6 || t === 8) {
    attacks.push(
      login(t < 6, AUTH_METHOD.PASSWORD, ATTACK_AGENT, {
        [ATTR.CLIENT_ADDRESS]: ["ip", SLOT.TAKEOVER_ADDRESS],
        [ATTR.USER_HASH]: ["hex", SLOT.VICTIM, 0],
      }),
    );
  }
  // Privilege escalation: an insider denied admin actions three times.
  if (t % 16 === 0 && t < 48) {
    attack(
      EVENT.AUTHZ_DECISION,
      true,
      "authorization denied",
      {
        ...BY_USER,
        [ATTR.AUTHZ_DECISION]: "deny",
        [ATTR.AUTHZ_PERMISSION]: "admin",
        [ATTR.AUTHZ_MISSING_PERMISSIONS]: ["admin"],
        [ATTR.AUTHZ_RESOURCE]: "/api/admin/users",
      },
      { [ATTR.CLIENT_ADDRESS]: ["address", 7], [ATTR.USER_ID]: ["num", SLOT.INSIDER] },
    );
  }
  // Bulk download: five large responses to one user.
  if (t % 4 === 0 && t < 20) {
    attack(
      EVENT.API_REQUEST,
      false,
      "request finished",
      {
        ...BY_USER,
        [ATTR.HTTP_REQUEST_METHOD]: "GET",
        [ATTR.HTTP_ROUTE]: "/api/invoices/:id",
        [ATTR.URL_PATH]: `/api/invoices/${t}`,
        [ATTR.HTTP_RESPONSE_STATUS_CODE]: 200,
        [ATTR.HTTP_SERVER_REQUEST_DURATION]: 0.84,
        [ATTR.HTTP_RESPONSE_BODY_SIZE]: 250_000,
        [ATTR.HTTP_REQUEST_BODY_SIZE]: 0,
        [ATTR.USER_AGENT_ORIGINAL]: ATTACK_AGENT,
      },
      { [ATTR.CLIENT_ADDRESS]: ["address", 9], [ATTR.USER_ID]: ["num", SLOT.DOWNLOADER] },
    );
  }
  // Data-access surge: one export per request by one user.
  attack(
    EVENT.DATA_ACCESS,
    false,
    "data exported",
    {
      ...BY_USER,
      [ATTR.DATA_RESOURCE]: "customers",
      [ATTR.DATA_OPERATION]: "export",
      [ATTR.DATA_RECORD_COUNT]: 500,
      [ATTR.DATA_BYTES]: 120_000,
    },
    { [ATTR.CLIENT_ADDRESS]: ["address", 11], [ATTR.USER_ID]: ["num", SLOT.HOARDER] },
  );

  const out: RecordSpec[] = [];
  // Attack records spread evenly through the request.
  const every = Math.floor(n / (attacks.length + 1));
  let nextAttack = 0;
  for (let i = 0; i < n; i++) {
    if (nextAttack < attacks.length && i === (nextAttack + 1) * every) {
      out.push(attacks[nextAttack++]!);
      continue;
    }
    // A user, mostly at their home address (a few users per address), sometimes elsewhere.
    const u = Math.floor(rand() * o.users);
    const a = rand() < 0.05 ? Math.floor(rand() * o.addresses) : u % o.addresses;
    const user: Who = {
      [ATTR.CLIENT_ADDRESS]: ["address", a],
      [ATTR.USER_ID]: ["user", u],
      [ATTR.USER_HASH]: ["hash", u],
    };
    const emit = (name: string, failure: boolean, body: string, attributes: Record<string, Value>) =>
      out.push(record(name, failure, body, attributes, user));
    const agent = pick(rand, USER_AGENTS);
    const r = rand();
    if (r < 0.72) {
      const route = pick(rand, ROUTES);
      const s = rand();
      const status =
        s < 0.88
          ? 200
          : s < 0.92
            ? pick(rand, [201, 204])
            : s < 0.95
              ? 304
              : s < 0.965
                ? 404
                : s < 0.98
                  ? 401
                  : s < 0.99
                    ? 403
                    : 500;
      const anonymous = rand() < 0.15;
      emit(EVENT.API_REQUEST, false, "request finished", {
        ...(anonymous ? BY_ADDRESS : BY_USER),
        [ATTR.HTTP_REQUEST_METHOD]: pick(rand, METHODS),
        [ATTR.HTTP_ROUTE]: route,
        [ATTR.URL_PATH]: route.replace(":id", String(Math.floor(rand() * 100000))),
        [ATTR.HTTP_RESPONSE_STATUS_CODE]: status,
        [ATTR.HTTP_SERVER_REQUEST_DURATION]: Math.round(rand() * 250) / 1000 + 0.0005,
        [ATTR.HTTP_RESPONSE_BODY_SIZE]: Math.floor(Math.exp(5 + rand() * 5)),
        [ATTR.HTTP_REQUEST_BODY_SIZE]: rand() < 0.7 ? 0 : Math.floor(rand() * 2000),
        [ATTR.USER_AGENT_ORIGINAL]: agent,
      });
    } else if (r < 0.88) {
      const failure = rand() < 0.08;
      out.push(login(failure, rand() < 0.8 ? AUTH_METHOD.PASSWORD : AUTH_METHOD.OIDC, agent, user));
    } else if (r < 0.93) {
      const deny = rand() < 0.04;
      const permission = pick(rand, PERMISSIONS);
      emit(EVENT.AUTHZ_DECISION, deny, deny ? "authorization denied" : "authorization allowed", {
        ...BY_USER,
        [ATTR.AUTHZ_DECISION]: deny ? "deny" : "allow",
        [ATTR.AUTHZ_PERMISSION]: permission,
        ...(deny ? { [ATTR.AUTHZ_MISSING_PERMISSIONS]: [permission] } : {}),
        [ATTR.AUTHZ_RESOURCE]: pick(rand, ROUTES),
      });
    } else if (r < 0.97) {
      const s = rand();
      emit(EVENT.DATA_ACCESS, false, "data accessed", {
        ...BY_USER,
        [ATTR.DATA_RESOURCE]: pick(rand, RESOURCES),
        [ATTR.DATA_OPERATION]: s < 0.85 ? "read" : s < 0.9 ? "export" : s < 0.98 ? "update" : "delete",
        [ATTR.DATA_RECORD_COUNT]: 1 + Math.floor(rand() * 20),
        [ATTR.DATA_BYTES]: Math.floor(rand() * 8000),
      });
    } else if (r < 0.98) {
      const route = pick(rand, ROUTES);
      emit(EVENT.INPUT_VALIDATION_FAILURE, true, "input rejected", {
        ...BY_ADDRESS,
        [ATTR.INPUT_FIELD]: pick(rand, FIELDS),
        [ATTR.INPUT_RULE]: rand() < 0.03 ? "xss" : pick(rand, ["type", "length", "format"]),
        [ATTR.HTTP_ROUTE]: route,
        [ATTR.URL_PATH]: route.replace(":id", String(Math.floor(rand() * 100000))),
      });
    } else {
      const kind = rand();
      if (kind < 0.5) {
        emit(EVENT.AUTH_LOGOUT, false, "logout", {
          ...BY_USER,
          [ATTR.AUTH_LOGOUT_REASON]: rand() < 0.7 ? "user" : "timeout",
        });
      } else if (kind < 0.85) {
        const failure = rand() < 0.05;
        emit(EVENT.AUTH_MFA, failure, failure ? "second factor failed" : "second factor verified", {
          ...BY_USER,
          [ATTR.AUTH_OUTCOME]: outcome(failure),
          [ATTR.AUTH_MFA_METHOD]: "totp",
        });
      } else {
        emit(EVENT.AUTH_PASSWORD_RESET, false, "password reset requested", {
          ...BY_HASH,
          [ATTR.AUTH_RESET_STAGE]: "requested",
          [ATTR.AUTH_OUTCOME]: AUTH_OUTCOME.SUCCESS,
        });
      }
    }
  }
  return out;
}

/** KeyValue with a string value, written by hand so that the value's offset is known. */
function stringAttribute(record: Wire, key: string, value: string, field = 6): number {
  const k = Buffer.from(key, "utf8");
  const v = Buffer.from(value, "utf8");
  const any = new Wire().bytes(1, v);
  const kv = new Wire().bytes(1, k).bytes(2, any.finish());
  // value offset inside kv: after key field and the AnyValue's tag+length, then the string's tag+length
  const inKv = kv.lastDataOffset + any.lastDataOffset;
  record.bytes(field, kv.finish());
  return record.lastDataOffset + inKv;
}

function encodeTemplate(
  records: readonly RecordSpec[],
  service: { name: string; host: string },
): RequestTemplate {
  const resource = new Wire();
  const resourceAttrs: Record<string, string> = {
    [RESOURCE_ATTR.SERVICE_NAME]: service.name,
    [RESOURCE_ATTR.SERVICE_VERSION]: "2.14.1",
    [RESOURCE_ATTR.DEPLOYMENT_ENVIRONMENT_NAME]: "production",
    "telemetry.sdk.language": "nodejs",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "2.2.0",
    "host.name": service.host,
  };
  for (const [key, value] of Object.entries(resourceAttrs)) stringAttribute(resource, key, value, 1);
  const scope = new Wire().string(1, "@secmon/instrumentation").string(2, "0.1.0").finish();
  const scopeLogs = new Wire().bytes(1, scope);
  const recordTimes: number[] = [];
  const recordObserved: number[] = [];
  const recordPatches: (Patch & { offset: number })[] = [];
  for (const spec of records) {
    const w = new Wire();
    w.fixed64(1, 0n);
    const time = w.pos - 8;
    w.tag(2, 0).varint(spec.severityNumber);
    w.string(3, spec.severityText);
    w.bytes(5, anyValue(spec.body));
    const patched: (Patch & { offset: number })[] = [];
    for (const [key, value] of Object.entries(spec.attributes)) {
      const patch = spec.patches.find((p) => p.key === key);
      if (typeof value === "string") {
        const offset = stringAttribute(w, key, value);
        if (patch) patched.push({ ...patch, offset });
      } else w.bytes(6, new Wire().string(1, key).bytes(2, anyValue(value)).finish());
    }
    w.bytes(9, Buffer.from(spec.traceId, "hex"));
    w.bytes(10, Buffer.from(spec.spanId, "hex"));
    w.fixed64(11, 0n);
    const observed = w.pos - 8;
    w.string(12, spec.name);
    scopeLogs.bytes(2, w.finish());
    const base = scopeLogs.lastDataOffset;
    recordTimes.push(base + time);
    recordObserved.push(base + observed);
    for (const p of patched) recordPatches.push({ ...p, offset: base + p.offset });
  }
  const resourceLogs = new Wire().bytes(1, resource.finish()).bytes(2, scopeLogs.finish());
  const scopeBase = resourceLogs.lastDataOffset;
  const request = new Wire().bytes(1, resourceLogs.finish());
  const base = request.lastDataOffset + scopeBase;
  return {
    bytes: request.finish(),
    service: service.name,
    records,
    timeOffsets: Int32Array.from(recordTimes, (o) => o + base),
    observedOffsets: Int32Array.from(recordObserved, (o) => o + base),
    patches: recordPatches.map((p) => ({ ...p, offset: p.offset + base })),
  };
}

/** The realistic stream: templates and how to stamp request k. */
export class Traffic {
  readonly templates: readonly RequestTemplate[];
  readonly recordsPerRequest: number;
  readonly startMs: number;
  readonly spacingMs: number;
  readonly users: number;
  readonly addresses: number;

  constructor(options: TrafficOptions = {}) {
    const o: Required<TrafficOptions> = {
      requests: options.requests ?? 64,
      records: options.records ?? 512,
      addresses: Math.min(options.addresses ?? 4000, 156 ** 3),
      users: Math.min(options.users ?? 20_000, 100_000),
      seed: options.seed ?? 42,
      startMs: options.startMs ?? Date.now() - 2 * 3_600_000,
      eventsPerSecond: options.eventsPerSecond ?? 1000,
    };
    const rand = prng(o.seed);
    const templates: RequestTemplate[] = [];
    for (let t = 0; t < o.requests; t++) {
      templates.push(encodeTemplate(templateRecords(t, o.records, rand, o), SERVICES[t % SERVICES.length]!));
    }
    this.templates = templates;
    this.recordsPerRequest = o.records;
    this.startMs = o.startMs;
    this.spacingMs = 1000 / o.eventsPerSecond;
    this.users = o.users;
    this.addresses = o.addresses;
  }

  /** Average encoded bytes per record. */
  get bytesPerRecord(): number {
    const bytes = this.templates.reduce((n, t) => n + t.bytes.length, 0);
    return bytes / (this.templates.length * this.recordsPerRequest);
  }

  /** Event time (ms) of record j of request k. */
  timeOf(k: number, j: number): number {
    return this.startMs + (k * this.recordsPerRequest + j) * this.spacingMs;
  }

  /** Request k of the stream: a copy of its template with its event times and identities. */
  request(k: number): Buffer {
    const t = this.templates[k % this.templates.length]!;
    const cycle = Math.floor(k / this.templates.length);
    const out = Buffer.allocUnsafe(t.bytes.length);
    t.bytes.copy(out);
    for (let j = 0; j < t.timeOffsets.length; j++) {
      // nanoseconds = ms · 10^6 + a sub-millisecond part, written as two 32-bit halves
      const ms = Math.floor(this.timeOf(k, j));
      const sub = (j * 7919) % 1_000_000;
      writeNanos(out, t.timeOffsets[j]!, ms, sub);
      writeNanos(out, t.observedOffsets[j]!, ms, sub + 150_000);
    }
    for (const p of t.patches) writeIdentity(out, p.offset, p, cycle, this.users, this.addresses);
    return out;
  }

  /** Record j of request k as the SDK client emits it: attributes with the cycle's identities. */
  attributesOf(k: number, j: number): Record<string, Value> {
    const t = this.templates[k % this.templates.length]!;
    const spec = t.records[j]!;
    if (spec.patches.length === 0) return spec.attributes as Record<string, Value>;
    const cycle = Math.floor(k / this.templates.length);
    const out = { ...spec.attributes };
    for (const p of spec.patches) out[p.key] = identityText(p, cycle, this.users, this.addresses);
    return out;
  }
}

/** Writes ms · 10^6 + sub nanoseconds as a little-endian fixed64, exactly. */
function writeNanos(out: Buffer, at: number, ms: number, sub: number): void {
  // ms = msHi · 2^16 + msLo; ns = msHi · 10^6 · 2^16 + (msLo · 10^6 + sub), each part below 2^53
  const msHi = Math.floor(ms / 65536);
  const low = (ms % 65536) * 1e6 + sub;
  const hiPart = msHi * 1e6; // times 2^16
  // total = hiPart · 2^16 + low; split into 32-bit words
  const lowHi = Math.floor(low / 4294967296);
  const lowLo = low % 4294967296;
  const hiWordsHi = Math.floor(hiPart / 65536); // hiPart · 2^16 = hiWordsHi · 2^32 + (hiPart % 65536) · 2^16
  const hiWordsLo = (hiPart % 65536) * 65536;
  let lo = hiWordsLo + lowLo;
  let hi = hiWordsHi + lowHi;
  if (lo >= 4294967296) {
    lo -= 4294967296;
    hi += 1;
  }
  out.writeUInt32LE(lo, at);
  out.writeUInt32LE(hi, at + 4);
}
