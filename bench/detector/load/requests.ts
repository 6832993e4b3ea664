/**
 * Realistic OTLP ExportLogsServiceRequests for the detector's load benchmarks: records of the
 * shape our instrumentation emits (auth.login and api.request, a few thousand client addresses,
 * ~455 bytes per record on the wire), pre-encoded once so that sending costs nothing but I/O.
 * Deterministic: the same seed gives the same bytes.
 */

/** Minimal protobuf writer: enough wire format for OTLP logs, no dependencies. */
class Wire {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;

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

type Value = string | number | boolean | readonly string[];

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

function keyValues(field: number, attrs: Record<string, Value>, w: Wire): void {
  for (const [key, value] of Object.entries(attrs)) {
    w.bytes(field, new Wire().string(1, key).bytes(2, anyValue(value)).finish());
  }
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

const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "python-requests/2.32.3",
];
const ROUTES = [
  "/api/orders/:id",
  "/api/cart",
  "/api/users/:id",
  "/api/search",
  "/login",
  "/api/admin/users",
];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const STATUS = [200, 200, 200, 200, 201, 204, 301, 401, 403, 404, 404, 500];

export interface RequestOptions {
  /** Records per request (the SDK's default batch is 512). */
  records?: number;
  /** Distinct client addresses across all requests. */
  addresses?: number;
  seed?: number;
  /** Event time of the first record (ms); records advance 1 ms each. */
  startMs?: number;
}

function hex(rand: () => number, bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i++)
    s += Math.floor(rand() * 256)
      .toString(16)
      .padStart(2, "0");
  return s;
}

/**
 * Encodes `count` ExportLogsServiceRequests, each one ResourceLogs / one ScopeLogs with a mix
 * of ~30% auth.login (mostly failures) and ~70% api.request records.
 */
export function buildRequests(count: number, options: RequestOptions = {}): Buffer[] {
  const perRequest = options.records ?? 512;
  const addresses = options.addresses ?? 4000;
  const rand = prng(options.seed ?? 42);
  let timeMs = options.startMs ?? Date.UTC(2026, 10, 21, 10, 0, 0);
  const resource = new Wire();
  keyValues(
    1,
    {
      "service.name": "checkout",
      "service.version": "2.14.1",
      "deployment.environment.name": "production",
      "telemetry.sdk.language": "nodejs",
      "telemetry.sdk.name": "opentelemetry",
      "telemetry.sdk.version": "2.2.0",
      "host.name": "checkout-7d9f8c6b5-x2k4q",
    },
    resource,
  );
  const resourceBytes = resource.finish();
  const scope = new Wire().string(1, "@secmon/instrumentation").string(2, "0.1.0").finish();
  const out: Buffer[] = [];
  for (let r = 0; r < count; r++) {
    const scopeLogs = new Wire().bytes(1, scope);
    for (let i = 0; i < perRequest; i++) {
      const a = Math.floor(rand() * addresses);
      const address = `198.51.${100 + (a >> 8)}.${a & 255}`;
      const login = rand() < 0.3;
      const failure = login && rand() < 0.8;
      const record = new Wire();
      const ns = BigInt(timeMs++) * 1_000_000n + BigInt(Math.floor(rand() * 1e6));
      record.fixed64(1, ns);
      record.tag(2, 0).varint(failure ? 13 : 9);
      record.string(3, failure ? "WARN" : "INFO");
      const userAgent = USER_AGENTS[Math.floor(rand() * USER_AGENTS.length)] as string;
      if (login) {
        record.bytes(5, anyValue(failure ? "login failed: invalid credentials" : "login succeeded"));
        keyValues(
          6,
          {
            "client.address": address,
            "user.hash": hex(rand, 16),
            "auth.outcome": failure ? "failure" : "success",
            ...(failure ? { "auth.failure_reason": "invalid_credentials" } : {}),
            "auth.method": "password",
            "user_agent.original": userAgent,
          },
          record,
        );
      } else {
        const route = ROUTES[Math.floor(rand() * ROUTES.length)] as string;
        record.bytes(5, anyValue("request finished"));
        keyValues(
          6,
          {
            "client.address": address,
            "user.id": `u-${Math.floor(rand() * 20000)}`,
            "http.request.method": METHODS[Math.floor(rand() * METHODS.length)] as string,
            "http.route": route,
            "url.path": route.replace(":id", String(Math.floor(rand() * 100000))),
            "http.response.status_code": STATUS[Math.floor(rand() * STATUS.length)] as number,
            "http.server.request.duration": Math.round(rand() * 250) / 1000 + 0.0005,
            "http.response.body.size": Math.floor(rand() * 20000),
            "http.request.body.size": Math.floor(rand() * 2000),
            "user_agent.original": userAgent,
          },
          record,
        );
      }
      record.bytes(9, Buffer.from(hex(rand, 16), "hex"));
      record.bytes(10, Buffer.from(hex(rand, 8), "hex"));
      record.fixed64(11, ns + 150_000n);
      record.string(12, login ? "auth.login" : "api.request");
      scopeLogs.bytes(2, record.finish());
    }
    const resourceLogs = new Wire().bytes(1, resourceBytes).bytes(2, scopeLogs.finish()).finish();
    out.push(new Wire().bytes(1, resourceLogs).finish());
  }
  return out;
}
