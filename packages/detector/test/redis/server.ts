import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redisStateSchema, type RedisStateConfig } from "../../src/state/config.ts";
import { RedisConnection } from "../../src/state/redis/connection.ts";
import { freePort } from "../sinks/peers.ts";

/**
 * Sends an inline command to 127.0.0.1:`port` until the reply holds `until`, then resolves if it
 * also matches `ok`; retries every `pauseMs`, rejects with `what` after `timeoutMs`.
 */
async function waitForReply(
  port: number,
  command: string,
  until: string,
  ok: (reply: string) => boolean,
  what: string,
  timeoutMs: number,
  pauseMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: "127.0.0.1", port });
      let data = "";
      sock.setTimeout(500, () => {
        sock.destroy();
        resolve(false);
      });
      sock.on("error", () => resolve(false));
      sock.on("connect", () => sock.write(`${command}\r\n`));
      sock.on("data", (d) => {
        data += d.toString();
        if (data.includes(until)) {
          sock.destroy();
          resolve(ok(data));
        }
      });
    });
    if (answered) return;
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Resolves once `port` answers PING with PONG, rejects after `timeoutMs`. */
function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const what = `redis-server on port ${port} did not answer PING`;
  return waitForReply(port, "PING", "\r\n", (r) => r.startsWith("+PONG"), what, timeoutMs, 25);
}

/** A redis-server on 127.0.0.1:`port` with its files in `dir`, no RDB snapshots, quiet log. */
function spawnRedis(port: number, dir: string, args: readonly string[]): ChildProcess {
  return spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--loglevel",
      "warning",
      ...args,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
}

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  readonly args?: readonly string[];
}

/**
 * A real redis-server for tests: 127.0.0.1 on a free port, its own temp dir, AOF with
 * `appendfsync always` (so that a SIGKILL loses nothing acknowledged), no RDB snapshots.
 * `kill()` and `restart()` keep the port and the data dir.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: readonly string[];
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(port: number, dir: string, args: readonly string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), "secmon-redis-"));
    for (let attempt = 0; ; attempt++) {
      const server = new RedisServer(await freePort(), dir, options.args ?? []);
      try {
        await server.#spawn();
        return server;
      } catch (err) {
        await server.kill();
        if (attempt >= 4) throw err;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** A `state.redis` config for this server. */
  config(overrides: Partial<Record<keyof RedisStateConfig, unknown>> = {}): RedisStateConfig {
    return redisStateSchema.parse({ url: this.url, ...overrides });
  }

  /** A connection (not opened) to this server. */
  connection(overrides: Partial<Record<keyof RedisStateConfig, unknown>> = {}): RedisConnection {
    return new RedisConnection(this.config(overrides));
  }

  async #spawn(): Promise<void> {
    const proc = spawnRedis(this.port, this.dir, [
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      ...this.#args,
    ]);
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    void this.#exited.then(() => {
      if (this.#proc === proc) this.#proc = undefined;
    });
    await Promise.race([
      waitForPong(this.port, 10_000),
      this.#exited.then(() => {
        throw new Error(`redis-server exited on start (port ${this.port})`);
      }),
    ]);
  }

  /** Kills the server (default SIGKILL: no shutdown, no final fsync) and waits for its exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.kill(signal);
    await this.#exited;
    this.#proc = undefined;
  }

  /** Stops the process without killing it (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.#proc?.kill("SIGSTOP");
  }

  /** Lets a paused server go on (SIGCONT). */
  resume(): void {
    this.#proc?.kill("SIGCONT");
  }

  /** Starts the server again on the same port and data dir (AOF replayed). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** Kills the server and removes its data. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A real Redis Cluster for tests: `masters` redis-server processes on 127.0.0.1 in cluster mode
 * (no replicas, no persistence), joined with `redis-cli --cluster create`.
 */
export class RedisTestCluster {
  readonly ports: readonly number[];
  readonly #dir: string;
  readonly #procs: ChildProcess[];

  private constructor(ports: number[], dir: string, procs: ChildProcess[]) {
    this.ports = ports;
    this.#dir = dir;
    this.#procs = procs;
  }

  static async start(masters = 3): Promise<RedisTestCluster> {
    const dir = mkdtempSync(join(tmpdir(), "secmon-cluster-"));
    const ports: number[] = [];
    const procs: ChildProcess[] = [];
    const cluster = new RedisTestCluster(ports, dir, procs);
    try {
      for (let i = 0; i < masters; i++) {
        const port = await freePort();
        ports.push(port);
        procs.push(
          spawnRedis(port, dir, [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `nodes-${port}.conf`,
            "--appendonly",
            "no",
          ]),
        );
      }
      for (const port of ports) await waitForPong(port, 10_000);
      await new Promise<void>((resolve, reject) => {
        const cli = spawn(
          "redis-cli",
          [
            "--cluster",
            "create",
            ...ports.map((p) => `127.0.0.1:${p}`),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        let err = "";
        cli.stderr!.on("data", (d: Buffer) => (err += d.toString()));
        cli.once("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`cluster create failed: ${err}`)),
        );
      });
      // every node must see every slot covered before clients route by it
      for (const port of ports) await waitForClusterOk(port, 10_000);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** A `state.redis` config (mode cluster) for this cluster. */
  config(overrides: Partial<Record<keyof RedisStateConfig, unknown>> = {}): RedisStateConfig {
    return redisStateSchema.parse({
      mode: "cluster",
      cluster: { nodes: this.ports.map((p) => `127.0.0.1:${p}`) },
      ...overrides,
    });
  }

  connection(overrides: Partial<Record<keyof RedisStateConfig, unknown>> = {}): RedisConnection {
    return new RedisConnection(this.config(overrides));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once("exit", () => resolve());
            p.kill("SIGKILL");
          }),
      ),
    );
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Resolves once the node at `port` answers CLUSTER INFO with cluster_state:ok. */
function waitForClusterOk(port: number, timeoutMs: number): Promise<void> {
  const ok = (r: string) => r.includes("cluster_state:ok");
  return waitForReply(
    port,
    "CLUSTER INFO",
    "cluster_state:",
    ok,
    `cluster node ${port} is not ok`,
    timeoutMs,
    50,
  );
}
