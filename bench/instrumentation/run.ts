/**
 * Instrumentation benchmark: the synchronous cost of one event, and the request-rate overhead of
 * the Express middleware, measured in one run on this machine. Loopback only, bounded duration.
 *
 *   pnpm --filter @secmon/bench run bench:instrumentation            # print the results
 *   pnpm --filter @secmon/bench run bench:instrumentation -- --write # also update bench/RESULTS.md
 *
 * Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS per load run (5), BENCH_CONNECTIONS (32),
 * BENCH_ITERATIONS per hot-path round (200000).
 */
import { execSync, fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import autocannon from "autocannon";
import { hotPath } from "./hot-path.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const WRITE = process.argv.includes("--write");
const RESULTS = new URL("../RESULTS.md", import.meta.url);
const SECTION = "## Instrumentation";

type Variant = "plain" | "instrumented";

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function startServer(variant: Variant): Promise<Server> {
  const child = fork(new URL("./server.ts", import.meta.url), [variant], {
    execArgv: ["--conditions=@secmon/source"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", (data: Buffer) => {
      const { port } = JSON.parse(data.toString()) as { port: number };
      resolve({ child, url: `http://127.0.0.1:${port}/hello/world` });
    });
  });
}

function stopServer(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.child.once("message", (message) => resolve((message as { exported?: number }).exported ?? 0));
    server.child.once("exit", () => resolve(0));
    server.child.send("stop");
  });
}

async function load(url: string, seconds: number): Promise<{ rps: number; errors: number; non2xx: number }> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return { rps: result.requests.average, errors: result.errors + result.timeouts, non2xx: result.non2xx };
}

function machine(): string {
  const cpuModel =
    /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model;
  const nproc = execSync("nproc").toString().trim();
  const load1 = loadavg()[0]!.toFixed(2);
  return `nproc ${nproc}, CPU ${cpuModel}, Node ${process.version}, load average at start ${load1}`;
}

async function main(): Promise<void> {
  const started = new Date();
  const host = machine();
  console.log(`# ${host}`);

  console.log(`hot path: ${ITERATIONS} events per round, ${ROUNDS} rounds (median) …`);
  const hot = await hotPath(ITERATIONS, ROUNDS);
  for (const r of hot)
    console.log(`  ${r.processor.padEnd(24)} ${r.scenario.padEnd(48)} ${r.nsPerEvent.toFixed(0)} ns`);

  console.log(`request rate: ${ROUNDS} rounds × ${SECONDS} s per variant, ${CONNECTIONS} connections …`);
  const servers: Record<Variant, Server> = {
    plain: await startServer("plain"),
    instrumented: await startServer("instrumented"),
  };
  // warm both up (JIT, connection setup)
  for (const variant of ["plain", "instrumented"] as const) await load(servers[variant].url, 2);
  const rows: { round: number; plain: number; instrumented: number; ratio: number }[] = [];
  let problems = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    // interleave, alternating which variant goes first
    const order: Variant[] = round % 2 === 1 ? ["plain", "instrumented"] : ["instrumented", "plain"];
    const rps: Partial<Record<Variant, number>> = {};
    for (const variant of order) {
      const result = await load(servers[variant].url, SECONDS);
      problems += result.errors + result.non2xx;
      rps[variant] = result.rps;
    }
    const row = {
      round,
      plain: rps.plain!,
      instrumented: rps.instrumented!,
      ratio: rps.instrumented! / rps.plain!,
    };
    rows.push(row);
    console.log(
      `  round ${round}: plain ${row.plain.toFixed(0)} req/s, instrumented ${row.instrumented.toFixed(0)} req/s, ratio ${row.ratio.toFixed(3)}`,
    );
  }
  const exported = await stopServer(servers.instrumented);
  await stopServer(servers.plain);
  const ratio = median(rows.map((r) => r.ratio));
  const overhead = (1 - ratio) * 100;
  console.log(
    `median ratio ${ratio.toFixed(3)} (overhead ${overhead.toFixed(1)} %), ${exported} api.request records exported, ${problems} errors/non-2xx`,
  );

  const hotApi = hot.find((r) => r.processor.startsWith("Batch") && r.scenario.startsWith("api.request"))!;
  const markdown = [
    SECTION,
    "",
    `Run ${started.toISOString()} with \`pnpm --filter @secmon/bench run bench:instrumentation -- --write\``,
    `(BENCH_ROUNDS=${ROUNDS}, BENCH_SECONDS=${SECONDS}, BENCH_CONNECTIONS=${CONNECTIONS}, BENCH_ITERATIONS=${ITERATIONS}).`,
    `Machine: ${host}. The machine is shared, so absolute numbers move with its load; the`,
    "request-rate comparison interleaves both variants in the same run to cancel that out.",
    "",
    "### One event on the hot path",
    "",
    "Synchronous cost per call (what the request pays), median of",
    `${ROUNDS} rounds of ${ITERATIONS} calls after a warm-up. "none" rows use a Logger that drops every`,
    "record: the instrumentation's own work (validation, scrubbing, hashing, building the record). The",
    "other rows go through the real SDK (LoggerProvider → processor → an exporter that does nothing).",
    "Goal: < 2 µs.",
    "",
    "| processor | event | ns per event |",
    "| --- | --- | ---: |",
    ...hot.map((r) => `| ${r.processor} | ${r.scenario} | ${r.nsPerEvent.toFixed(0)} |`),
    "",
    "### Express hello world, with and without the middleware",
    "",
    `autocannon, ${CONNECTIONS} connections, ${SECONDS} s per run, both servers in child processes, variants`,
    "interleaved (order alternating per round); the instrumented server emits one `api.request` per",
    "request through a BatchLogRecordProcessor with an exporter that does nothing. Goal: < 5 % fewer req/s.",
    "",
    "| round | plain req/s | instrumented req/s | ratio |",
    "| ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) => `| ${r.round} | ${r.plain.toFixed(0)} | ${r.instrumented.toFixed(0)} | ${r.ratio.toFixed(3)} |`,
    ),
    "",
    `Median ratio **${ratio.toFixed(3)}**: the middleware costs **${overhead.toFixed(1)} %** of req/s`,
    `(goal < 5 %: ${overhead < 5 ? "met" : "missed"}). One event on the hot path (api.request, batch processor):`,
    `**${(hotApi.nsPerEvent / 1000).toFixed(2)} µs** (goal < 2 µs: ${hotApi.nsPerEvent < 2000 ? "met" : "missed"}).`,
    `${exported} records reached the exporter; ${problems} errors or non-2xx responses.`,
    "",
  ].join("\n");
  console.log(`\n${markdown}`);

  if (WRITE) {
    const text = readFileSync(RESULTS, "utf8");
    const start = text.indexOf(SECTION);
    let updated: string;
    if (start < 0) {
      updated = `${text.trimEnd()}\n\n${markdown}`;
    } else {
      const next = text.indexOf("\n## ", start + SECTION.length);
      updated = text.slice(0, start) + markdown + (next < 0 ? "" : `\n${text.slice(next + 1)}`);
    }
    writeFileSync(RESULTS, updated);
    console.log(`updated ${RESULTS.pathname}`);
  }
}

await main();
