import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Cluster, Redis, type ClusterNode, type RedisOptions } from "ioredis";
import { SecmonError } from "../../errors.ts";
import type { SecretRef } from "../../config/secret.ts";
import type { RedisStateConfig } from "../config.ts";

/** A connected client: one server (standalone, sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

/** A Lua script the stores run (ioredis defineCommand: EVALSHA, EVAL on NOSCRIPT). */
export interface ScriptDefinition {
  readonly name: string;
  readonly lua: string;
}

export interface RedisConnectionOptions {
  /** Resolves `{ env } | { file }` secrets (the wiring passes resolveSecret with its env). */
  readonly resolveSecret?: (ref: SecretRef) => string;
  /** Told about connection errors and state changes (the detector's log). */
  readonly onEvent?: (event: "error" | "ready" | "reconnecting" | "end", err?: Error) => void;
}

const SCRIPTS = new Map<string, string>();

/** Registers a script once per process; every connection defines every registered script. */
export function defineScript(name: string, lua: string): ScriptDefinition {
  const known = SCRIPTS.get(name);
  if (known !== undefined && known !== lua) throw new Error(`script ${name} defined twice`);
  SCRIPTS.set(name, lua);
  return { name, lua };
}

/** Calls a script defined with defineScript on a client or pipeline: `numKeys, ...keys, ...args`. */
export function callScript(
  target: object,
  script: ScriptDefinition,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  const fn = (target as Record<string, unknown>)[script.name];
  if (typeof fn !== "function") throw new SecmonError("INTERNAL", `script ${script.name} is not defined`);
  return (fn as (...a: unknown[]) => Promise<unknown>).call(target, keys.length, ...keys, ...args);
}

function hostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) throw new SecmonError("CONFIG_INVALID", `not host:port: ${s}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SecmonError("CONFIG_INVALID", `cannot read Redis TLS ${what} ${path}`, { cause: err });
  }
}

/**
 * Is this ioredis/Redis failure about reaching the store (retry later) rather than about what we
 * sent? Script errors and wrong key types are bugs or foreign keys: INTERNAL, not retried.
 */
export function toStoreError(err: unknown, what: string): SecmonError {
  if (err instanceof SecmonError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/^(ERR Error running script|ERR user_script|WRONGTYPE)|@user_script:/.test(message)) {
    return new SecmonError("INTERNAL", `${what}: ${message}`, { cause: err });
  }
  return new SecmonError("STORE_UNAVAILABLE", `${what}: ${message}`, { cause: err });
}

/** How often a connected detector PINGs Redis to find out that it stopped answering. */
const HEARTBEAT_MS = 1000;

/**
 * One connection to the shared Redis state (standalone, sentinel or cluster), opened by the
 * stores that use it: `open()` connects on first use, `close()` quits when the last user is done.
 *
 * Commands never wait for a connection: while Redis is down or slow they fail at once or after
 * `command_timeout_seconds`, so that a batch is refused with a retryable status and the sender
 * holds the data; the client reconnects by itself in the background.
 */
export class RedisConnection {
  readonly config: RedisStateConfig;
  readonly prefix: string;
  readonly cluster: boolean;
  readonly #options: RedisConnectionOptions;
  #client: RedisClient | undefined;
  #users = 0;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #lastError: string | undefined;
  /** Why the last heartbeat PING failed while the socket looked fine (a hung or overloaded Redis). */
  #stalled: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #probing = false;

  constructor(config: RedisStateConfig, options: RedisConnectionOptions = {}) {
    this.config = config;
    this.prefix = config.prefix;
    this.cluster = config.mode === "cluster";
    this.#options = options;
  }

  /** The client; STORE_UNAVAILABLE when no store has opened the connection. */
  get client(): RedisClient {
    if (!this.#client) throw new SecmonError("STORE_UNAVAILABLE", "the Redis connection is not open");
    return this.#client;
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.#client?.status === "ready";
  }

  /** What the detector connects to, for messages (no credentials: the url may not hold any). */
  get target(): string {
    const c = this.config;
    if (c.mode === "cluster") return `Redis Cluster (${(c.cluster?.nodes ?? []).join(", ")})`;
    if (c.mode === "sentinel") {
      return `Redis master ${c.sentinel?.master_name ?? "?"} via sentinels ${(c.sentinel?.nodes ?? []).join(", ")}`;
    }
    const url = new URL(c.url);
    return `Redis at ${url.host || "127.0.0.1:6379"}`;
  }

  /**
   * For readiness: healthy while connected and answering. A Redis that hangs (stopped, swapping,
   * blocked by a slow command) keeps its socket open: a heartbeat PING every second that fails
   * (after command_timeout_seconds) marks it unhealthy until one succeeds, so that balancers stop
   * routing to a detector that refuses every batch.
   */
  health(): { healthy: boolean; detail?: string } {
    if (this.ready && this.#stalled !== undefined) {
      return { healthy: false, detail: `redis not answering: ${this.#stalled}` };
    }
    if (this.ready) return { healthy: true };
    const status = this.#client?.status ?? "closed";
    return { healthy: false, detail: `redis ${status}${this.#lastError ? `: ${this.#lastError}` : ""}` };
  }

  /** Connects (first user) and waits until ready, at most connect_timeout_seconds. */
  async open(): Promise<void> {
    this.#users++;
    await this.#closing;
    if (!this.#opening) this.#opening = this.#connect();
    try {
      await this.#opening;
    } catch (err) {
      this.#users--;
      throw err;
    }
  }

  /** Releases one user; the last one quits the connection (pending replies are awaited). */
  async close(): Promise<void> {
    if (this.#users === 0) return this.#closing;
    this.#users--;
    if (this.#users > 0) return;
    const client = this.#client;
    const opening = this.#opening;
    this.#client = undefined;
    this.#opening = undefined;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#stalled = undefined;
    this.#closing = (async () => {
      await opening?.catch(() => {});
      if (!client) return;
      if (client.status === "ready") {
        await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
      }
      client.disconnect();
    })();
    return this.#closing;
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw toStoreError(err, "redis ping");
    }
  }

  async #connect(): Promise<void> {
    const client = this.#create();
    this.#client = client;
    for (const [name, lua] of SCRIPTS) client.defineCommand(name, { lua });
    client.on("error", (err: Error) => {
      this.#lastError = err.message;
      this.#options.onEvent?.("error", err);
    });
    client.on("ready", () => {
      this.#lastError = undefined;
      this.#stalled = undefined;
      this.#options.onEvent?.("ready");
    });
    client.on("reconnecting", () => this.#options.onEvent?.("reconnecting"));
    const timeoutMs = this.config.connect_timeout_seconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no connection within ${this.config.connect_timeout_seconds} s`)),
            timeoutMs,
          );
        }),
      ]);
      if (client.status !== "ready") {
        await new Promise<void>((resolve, reject) => {
          client.once("ready", resolve);
          timer ??= setTimeout(() => reject(new Error("not ready")), timeoutMs);
        });
      }
    } catch (err) {
      client.disconnect();
      if (this.#client === client) this.#client = undefined;
      this.#opening = undefined;
      // ioredis rejects connect() with "Connection is closed."; the socket's error says why.
      const why = this.#lastError ?? (err as Error).message;
      throw new SecmonError("STORE_UNAVAILABLE", `cannot connect to ${this.target}: ${why}`, {
        cause: err,
      });
    } finally {
      if (timer) clearTimeout(timer);
    }
    this.#heartbeat = setInterval(() => void this.#probe(client), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** One heartbeat: a PING while the client says ready; none while the previous one waits. */
  async #probe(client: RedisClient): Promise<void> {
    if (this.#probing || client.status !== "ready") return;
    this.#probing = true;
    try {
      await client.ping();
      this.#stalled = undefined;
    } catch (err) {
      if (client.status === "ready") this.#stalled = (err as Error).message;
    } finally {
      this.#probing = false;
    }
  }

  #secret(ref: SecretRef | undefined): string | undefined {
    if (!ref) return undefined;
    if (!this.#options.resolveSecret) {
      throw new SecmonError("CONFIG_SECRET_MISSING", "no secret resolver for the Redis password");
    }
    return this.#options.resolveSecret(ref);
  }

  #tls(): ConnectionOptions | undefined {
    const t = this.config.tls;
    const secure = this.config.url.startsWith("rediss://");
    if (!t && !secure) return undefined;
    return {
      ...(t?.ca_file ? { ca: readPem(t.ca_file, "CA") } : {}),
      ...(t?.cert_file ? { cert: readPem(t.cert_file, "certificate") } : {}),
      ...(t?.key_file ? { key: readPem(t.key_file, "key") } : {}),
      ...(t?.server_name ? { servername: t.server_name } : {}),
    };
  }

  /** ioredis options shared by every mode: fail fast, reconnect forever, RESP2. */
  #common(): RedisOptions {
    const c = this.config;
    const password = this.#secret(c.password);
    return {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: Math.round(c.command_timeout_seconds * 1000),
      connectTimeout: Math.round(c.connect_timeout_seconds * 1000),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      protocol: 2,
      connectionName: "secmon-detector",
      disableClientInfo: true,
      ...(c.username ? { username: c.username } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  }

  #create(): RedisClient {
    const c = this.config;
    const common = this.#common();
    const tls = this.#tls();
    if (c.mode === "cluster") {
      const nodes: ClusterNode[] = (c.cluster?.nodes ?? []).map(hostPort);
      const { retryStrategy, enableOfflineQueue, lazyConnect, ...redisOptions } = common;
      return new Cluster(nodes, {
        lazyConnect,
        enableOfflineQueue,
        clusterRetryStrategy: retryStrategy ?? null,
        redisOptions: { ...redisOptions, ...(tls ? { tls } : {}) },
        slotsRefreshTimeout: Math.round(c.connect_timeout_seconds * 1000),
      });
    }
    if (c.mode === "sentinel") {
      const s = c.sentinel!;
      const sentinelPassword = this.#secret(s.password);
      return new Redis({
        ...common,
        sentinels: s.nodes.map(hostPort),
        name: s.master_name,
        ...(s.username ? { sentinelUsername: s.username } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
        ...(c.db !== undefined ? { db: c.db } : {}),
        ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
      });
    }
    const url = new URL(c.url);
    const dbFromUrl = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
    return new Redis({
      ...common,
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port ? Number(url.port) : 6379,
      db: c.db ?? (Number.isInteger(dbFromUrl) ? dbFromUrl : 0),
      ...(url.username && !c.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(tls ? { tls } : {}),
    });
  }
}

/**
 * One store's use of a shared RedisConnection. `start()` opens it once: concurrent starts share
 * the attempt, and a failed one can be tried again. `stop()` waits for a start under way, marks
 * the use stopped and says whether the connection was taken, so that the store releases it
 * (after its own drain) exactly once, however many times it is stopped.
 */
export class ConnectionUse {
  state: "new" | "started" | "stopped" = "new";
  readonly #conn: RedisConnection;
  #starting: Promise<void> | undefined;

  constructor(conn: RedisConnection) {
    this.#conn = conn;
  }

  /** Opens the connection once; `onStarted` runs when this call or a concurrent one made it. */
  start(onStarted?: () => void): Promise<void> {
    if (this.state === "started") return Promise.resolve();
    this.#starting ??= this.#conn.open().then(
      () => {
        this.state = "started";
        this.#starting = undefined;
        onStarted?.();
      },
      (err: unknown) => {
        this.#starting = undefined;
        throw err;
      },
    );
    return this.#starting;
  }

  /** Marks the use stopped; true once, for the call that must close the connection. */
  async stop(): Promise<boolean> {
    await this.#starting?.catch(() => {});
    const started = this.state === "started";
    this.state = "stopped";
    return started;
  }
}
