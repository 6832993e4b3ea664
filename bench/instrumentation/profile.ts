/**
 * Where the middleware's time goes: runs the hello-world server (server.ts) of one variant under
 * `node --cpu-prof`, loads it with autocannon, and prints the server's CPU per request, its
 * garbage-collection time per request, and the functions with the most self time.
 *
 *   flock /tmp/secmon-bench.lock pnpm --filter @secmon/bench exec node --conditions=@secmon/source \
 *     instrumentation/profile.ts plain|instrumented [seconds=8] [top=30]
 *
 * The variants are those of server.ts (plain, instrumented, sdk-floor); PROFILE_SERVER names another
 * server script that speaks the same protocol (relative to this folder). The profile is left in a
 * temporary directory (printed) for a closer look, e.g. in Chrome DevTools.
 */
import { fork } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { NODE_ARGS } from "../common.ts";

const variant = process.argv[2] ?? "instrumented";
const seconds = Number(process.argv[3] ?? 8);
const top = Number(process.argv[4] ?? 30);
const dir = mkdtempSync(join(tmpdir(), `secmon-profile-${variant}-`));

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const child = fork(new URL(process.env.PROFILE_SERVER ?? "./server.ts", import.meta.url), [variant], {
  execArgv: [...NODE_ARGS, "--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=200"],
  stdio: ["ignore", "pipe", "inherit", "ipc"],
});
const port = await new Promise<number>((resolve) => {
  child.stdout!.once("data", (data: Buffer) =>
    resolve((JSON.parse(data.toString()) as { port: number }).port),
  );
});
const ask = <T>(message: string) =>
  new Promise<T>((resolve) => {
    child.once("message", (answer) => resolve(answer as T));
    child.send(message);
  });
const url = `http://127.0.0.1:${port}/hello/world`;
await autocannon({ url, connections: 32, duration: 2 }); // warm-up
const before = await ask<{ cpuUs: number; served: number }>("stats");
const result = await autocannon({ url, connections: 32, duration: seconds });
const after = await ask<{ cpuUs: number; served: number }>("stats");
await ask("stop");
await new Promise((resolve) => child.once("exit", resolve));

const served = after.served - before.served;
console.log(
  `${variant}: ${result.requests.average.toFixed(0)} req/s, ` +
    `${((after.cpuUs - before.cpuUs) / served).toFixed(1)} µs server CPU per request (${served} requests)`,
);

const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
if (file === undefined) throw new Error(`no profile in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]!)!;
  const frame = node.callFrame;
  const where =
    frame.url === "" ? "" : ` ${frame.url.replace(/^.*node_modules\/\.pnpm\//, "")}:${frame.lineNumber + 1}`;
  const key = `${frame.functionName || "(anonymous)"}${where}`;
  const delta = profile.timeDeltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + delta);
  total += delta;
}
console.log(
  `profile ${join(dir, file)}: ${(total / 1e6).toFixed(2)} s sampled (whole process life, ${after.served} requests)`,
);
const groups = new Map<string, number>();
for (const [key, us] of self) {
  const group = key.includes("packages/instrumentation/")
    ? "@secmon/instrumentation"
    : key.includes("@opentelemetry")
      ? "@opentelemetry/*"
      : key.startsWith("(")
        ? key.replace(/ .*/, "")
        : key.includes(" node:")
          ? "node internals"
          : "other JavaScript (express, …)";
  groups.set(group, (groups.get(group) ?? 0) + us);
}
const busy = total - (groups.get("(idle)") ?? 0);
for (const [group, us] of [...groups.entries()].sort((a, b) => b[1] - a[1])) {
  const share = group === "(idle)" ? "" : ` ${((us / busy) * 100).toFixed(2).padStart(6)} % of busy`;
  console.log(`  ${(us / after.served).toFixed(2).padStart(6)} µs/req${share}  ${group}`);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of rows) {
  console.log(
    `${((us / total) * 100).toFixed(2).padStart(6)} %  ${(us / after.served).toFixed(2).padStart(6)} µs/req  ${key}`,
  );
}
