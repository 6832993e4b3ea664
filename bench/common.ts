/** Helpers shared by the benchmark scripts. */
import { spawn } from "node:child_process";

/** How every benchmark runs a script of the repository: TypeScript sources, no warnings. */
export const NODE_ARGS: readonly string[] = ["--no-warnings", "--conditions=@secmon/source"];

/**
 * Runs a node script to its end and returns the last JSON line it printed; with `lock`, under
 * `flock lock` (it waits for the lock first).
 */
export function runNodeJson(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  lock?: string,
): Promise<Record<string, unknown>> {
  const node = [process.execPath, ...NODE_ARGS, ...nodeArgs, script, ...args];
  const argv = lock === undefined ? node : ["flock", lock, ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop();
      if (code !== 0 || line === undefined) reject(new Error(`${script} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
