import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./helpers.ts";

/** A free TCP port on 127.0.0.1 (for servers that cannot listen on port 0 themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Alertmanager {
  readonly url: string;
  /** `GET /api/v2/alerts` with the given query. */
  alerts(query?: string): Promise<AlertmanagerAlert[]>;
  stop(): Promise<void>;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

export const ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager";

/**
 * A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1, clustering off, storage in
 * a temporary directory, one null receiver. Resolves once /-/ready answers (bounded wait).
 */
export async function startAlertmanager(): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), "secmon-am-"));
  const config = join(dir, "alertmanager.yml");
  writeFileSync(config, 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${config}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`alertmanager exited: ${output}`);
      try {
        return (await fetch(`${url}/-/ready`)).ok;
      } catch {
        return false;
      }
    }, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    alerts: async (query = "") =>
      (await (await fetch(`${url}/api/v2/alerts${query}`)).json()) as AlertmanagerAlert[],
    stop,
  };
}
