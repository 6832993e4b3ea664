import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Prometheus binaries used by the deployment tests (Debian's `prometheus` package). */
export const PROMETHEUS_BIN = process.env.SECMON_PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const PROMTOOL_BIN = process.env.SECMON_PROMTOOL_BIN ?? "/usr/bin/promtool";

/** Runs `promtool check config` on a Prometheus configuration given as YAML text. */
export async function promtoolCheckConfig(yamlText: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), "secmon-promtool-"));
  try {
    const file = join(dir, "prometheus.yml");
    await writeFile(file, yamlText);
    return await promtool(["check", "config", file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs promtool with a time limit; resolves with its combined output and whether it exited 0. */
export function promtool(args: readonly string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL_BIN, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}` });
    });
  });
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:37921 */
  readonly url: string;
  /** Stops the server and removes its temporary storage; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a throw-away Prometheus on 127.0.0.1 (random port) with temporary storage that scrapes
 * the given targets every second. Resolves once the server is listening.
 */
export async function startPrometheus(
  targets: readonly string[],
  opts: { startTimeoutMs?: number } = {},
): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "secmon-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(
    configFile,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: secmon-detector",
      "    static_configs:",
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      "--web.listen-address=127.0.0.1:0",
      "--log.level=info",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stopped = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null) child.kill("SIGTERM");
      const killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killTimer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  let log = "";
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Prometheus did not start listening in time:\n${log}`)),
        opts.startTimeoutMs ?? 15_000,
      );
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`Prometheus exited with ${code}:\n${log}`));
      });
      child.stderr.on("data", (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-20_000);
        const m = /msg="Listening on" address=(127\.0\.0\.1:\d+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(`http://${m[1]}`);
        }
      });
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
