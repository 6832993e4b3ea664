/**
 * The detector-core benchmark (not a test). Every measurement runs as its own step, under
 * `flock /tmp/secmon-bench.lock` (so it never overlaps another benchmark on this shared machine),
 * bounded in time, on loopback only:
 *
 * 1. replay: `Engine.evaluate` with the whole default pack on the memory store, and the whole
 *    pipeline (rules, alerts, recent events, report) of a detector, on 512-event batches of the
 *    realistic stream (load/requests.ts), decoded up front;
 * 2. end to end over OTLP/gRPC into a started Detector in its own process (serve-detector.ts):
 *    from the pre-encoded load client with several requests in flight (load/client.ts), and from
 *    one official SDK exporter process (load/sdk-client.ts); the same client against the same
 *    detector without rules (what decoding and the rest cost alone), and the ratio;
 * 3. receipt-to-alert latency (receivedAt → alert recorded, every alert change) at half the
 *    measured maximum, from a paced (open-loop) sender;
 * 4. memory per tracked group of the whole detector (memory.ts);
 * 5. what decoding on a worker thread would cost the main thread instead (clone.ts).
 *
 *   pnpm --filter @secmon/bench run bench:detector [-- --write] [--seconds 10] [--rounds 3] \
 *     [--baseline-commit C]
 *
 * `--write` replaces the "## Detector" section of bench/RESULTS.md. `--baseline-commit C` also
 * measures the detector as it was at commit C (engine, pipeline and end to end, in the same
 * rounds) and adds a comparison table. `--step NAME` runs one step and prints its JSON (what the
 * orchestrator does under flock).
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median, NODE_ARGS, runNodeJson } from "../common.ts";
import { redisCpuSeconds } from "../redis/info.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, "..", "RESULTS.md");
const LOCK = "/tmp/secmon-bench.lock";

const { values } = parseArgs({
  // `pnpm run bench:detector -- --write` passes the "--" along
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    step: { type: "string" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    rate: { type: "string" },
    "engine-batches": { type: "string", default: "400" },
    addresses: { type: "string", default: "40000" },
    write: { type: "boolean", default: false },
    "baseline-commit": { type: "string" },
  },
});
const SECONDS = Math.min(Number(values.seconds), 40);
const WARMUP = Math.min(Number(values.warmup), 10);
const ROUNDS = Math.min(Number(values.rounds), 5);

// ---------------------------------------------------------------------------------------------
// child processes

/** Runs a script of this directory to its end and returns the last JSON line it printed. */
function runJson(script: string, args: string[], nodeArgs: string[] = []): Promise<Record<string, unknown>> {
  return runNodeJson(join(HERE, script), args, nodeArgs);
}

interface DetectorStats {
  seconds: number;
  cpuSeconds: number;
  eventLoopUtilization: number;
  evaluated: number;
  latencies: number[];
  created: number[];
  rss: number;
  heapUsed: number;
}

/** A Detector in its own process (serve-detector.ts). */
class DetectorProcess {
  readonly #child: ChildProcess;
  grpc = "";

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  /** `config`: more config sections for the detector (e.g. `state` and `outbox` on Redis). */
  static async start(rules: boolean, config?: Readonly<Record<string, unknown>>): Promise<DetectorProcess> {
    const args = [...(rules ? [] : ["--no-rules"]), ...(config ? ["--config", JSON.stringify(config)] : [])];
    const child = fork(join(HERE, "serve-detector.ts"), args, {
      execArgv: [...NODE_ARGS],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const d = new DetectorProcess(child);
    const ready = await d.#next("ready");
    d.grpc = String(ready["grpc"]);
    return d;
  }

  #next(type: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: Record<string, unknown>) => {
        if (msg["type"] !== type) return;
        this.#child.off("message", onMessage);
        this.#child.off("exit", onExit);
        resolve(msg);
      };
      const onExit = (code: number | null) => reject(new Error(`detector exited ${code} before ${type}`));
      this.#child.on("message", onMessage);
      this.#child.once("exit", onExit);
    });
  }

  async mark(): Promise<void> {
    const p = this.#next("marked");
    this.#child.send({ type: "mark" });
    await p;
  }

  async stats(): Promise<DetectorStats> {
    const p = this.#next("stats");
    this.#child.send({ type: "stats" });
    return (await p) as unknown as DetectorStats;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.send({ type: "stop" });
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// steps (each one process, run under the lock)

const startMs = Date.now() - 2 * 3_600_000;

interface EndToEnd {
  client: Record<string, unknown>;
  server: Omit<DetectorStats, "latencies" | "created">;
  latency?: { changes: number; p50: number; p99: number; max: number; created: number; createdP99: number };
  /** What `probe` measured over the same window (e.g. redis-server's CPU). */
  probe?: Record<string, unknown>;
}

/** Something else measured over an end-to-end run's window: started at the mark, read at the end. */
interface Probe {
  start(): Promise<void>;
  end(): Promise<Record<string, unknown>>;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/**
 * One end-to-end measurement: a fresh detector, a warm-up from the pre-encoded client, then the
 * measured sender continuing the same stream.
 */
async function endToEnd(
  rules: boolean,
  sender: "client" | "sdk",
  options: { rate?: number; config?: Readonly<Record<string, unknown>>; probe?: Probe } = {},
): Promise<EndToEnd> {
  const { rate, config, probe } = options;
  const detector = await DetectorProcess.start(rules, config);
  try {
    const common = ["--target", detector.grpc, "--start-ms", String(startMs), "--json"];
    const warm = await runJson("load/client.ts", [...common, "--seconds", String(WARMUP)]);
    await detector.mark();
    await probe?.start();
    const first = String(warm["next"]);
    const client =
      sender === "sdk"
        ? await runJson("load/sdk-client.ts", [...common, "--first", first, "--seconds", String(SECONDS)])
        : await runJson("load/client.ts", [
            ...common,
            "--first",
            first,
            "--seconds",
            String(SECONDS),
            ...(rate !== undefined ? ["--rate", String(Math.round(rate)), "--concurrency", "64"] : []),
          ]);
    const { latencies, created, ...server } = await detector.stats();
    const result: EndToEnd = { client, server };
    if (probe) result.probe = await probe.end();
    if (rate !== undefined) {
      latencies.sort((a, b) => a - b);
      created.sort((a, b) => a - b);
      result.latency = {
        changes: latencies.length,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1] ?? NaN,
        created: created.length,
        createdP99: percentile(created, 0.99),
      };
    }
    return result;
  } finally {
    await detector.stop();
  }
}

/**
 * The whole pack end to end with every store on a redis-server of its own (loopback, no
 * persistence: windows, alerts, report and outbox in Redis), and that server's CPU over the
 * measured window (INFO cpu).
 */
async function endToEndOnRedis(): Promise<EndToEnd> {
  // imported here: a --baseline-commit copy older than this test helper still loads run.ts
  const { RedisServer } = await import("../../packages/detector/test/redis/server.ts");
  const server = await RedisServer.start({ args: ["--appendonly", "no"] });
  try {
    let before = 0;
    return await endToEnd(true, "client", {
      config: { state: { backend: "redis", redis: { url: server.url } }, outbox: { type: "redis" } },
      probe: {
        start: async () => {
          before = await redisCpuSeconds(server);
        },
        end: async () => ({ redisCpuSeconds: (await redisCpuSeconds(server)) - before }),
      },
    });
  } finally {
    await server.stop();
  }
}

async function step(name: string): Promise<unknown> {
  switch (name) {
    case "engine":
      return runJson("engine.ts", ["--mode", "engine", "--batches", String(values["engine-batches"])]);
    case "pipeline":
      return runJson("engine.ts", ["--mode", "pipeline", "--batches", String(values["engine-batches"])]);
    case "e2e-rules":
      return endToEnd(true, "client");
    case "e2e-decode":
      return endToEnd(false, "client");
    case "e2e-sdk":
      return endToEnd(true, "sdk");
    case "e2e-redis":
      return endToEndOnRedis();
    case "latency":
      return endToEnd(true, "client", { rate: Number(values.rate) });
    case "clone":
      return runJson("clone.ts", []);
    case "memory":
      return runJson("memory.ts", ["--addresses", String(values.addresses)], ["--expose-gc"]);
    default:
      throw new Error(`unknown step ${name}`);
  }
}

if (values.step !== undefined) {
  console.log(JSON.stringify(await step(values.step)));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// orchestration

const hasFlock = (() => {
  try {
    execFileSync("flock", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const load: number[] = [];
const loadRange = () => `${Math.min(...load).toFixed(2)}–${Math.max(...load).toFixed(2)}`;

/** Runs one step in its own process under the benchmark lock; notes the load average after it. */
async function locked(
  name: string,
  extra: string[] = [],
  script = fileURLToPath(import.meta.url),
): Promise<Record<string, unknown>> {
  try {
    return await runNodeJson(
      script,
      ["--step", name, ...passthrough(), ...extra],
      [],
      hasFlock ? LOCK : undefined,
    );
  } finally {
    load.push(loadavg()[0]!);
  }
}

function passthrough(): string[] {
  return [
    "--seconds",
    String(SECONDS),
    "--warmup",
    String(WARMUP),
    "--engine-batches",
    String(values["engine-batches"]),
    "--addresses",
    String(values.addresses),
  ];
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const say = (line: string) => console.log(line);

const started = new Date();
const loadBefore = loadavg()[0]!.toFixed(2);
const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model.trim() ?? "unknown",
  node: process.version,
};
say(`machine: nproc ${machine.nproc}, ${machine.cpu}, Node ${machine.node}; load ${loadBefore}`);

/**
 * `--baseline-commit C`: the detector as it was at commit C (packages/ and rules/ from git
 * archive, node_modules linked, this benchmark's own scripts), measured in the same rounds.
 */
const baselineCommit = values["baseline-commit"];
let baselineScript: string | undefined;
let baselineDir: string | undefined;
if (baselineCommit !== undefined) {
  const root = join(HERE, "..", "..");
  baselineDir = mkdtempSync(join(tmpdir(), "secmon-baseline-"));
  const tar = execFileSync("git", ["-C", root, "archive", baselineCommit, "packages", "rules"], {
    maxBuffer: 1 << 30,
  });
  execFileSync("tar", ["-x", "-C", baselineDir], { input: tar });
  symlinkSync(join(root, "node_modules"), join(baselineDir, "node_modules"));
  for (const pkg of readdirSync(join(baselineDir, "packages"))) {
    const modules = join(root, "packages", pkg, "node_modules");
    if (existsSync(modules)) symlinkSync(modules, join(baselineDir, "packages", pkg, "node_modules"));
  }
  cpSync(HERE, join(baselineDir, "bench", "detector"), { recursive: true });
  // what this benchmark's scripts import from the rest of bench/
  cpSync(join(HERE, "..", "common.ts"), join(baselineDir, "bench", "common.ts"));
  cpSync(join(HERE, "..", "redis"), join(baselineDir, "bench", "redis"), { recursive: true });
  symlinkSync(join(root, "bench", "node_modules"), join(baselineDir, "bench", "node_modules"));
  baselineScript = join(baselineDir, "bench", "detector", "run.ts");
  say(`baseline: commit ${baselineCommit} in ${baselineDir}`);
}

type Row = Record<string, unknown>;
const engineRuns: Row[] = [];
const pipelineRuns: Row[] = [];
const rulesRuns: EndToEnd[] = [];
const decodeRuns: EndToEnd[] = [];
const baseline = {
  engine: [] as Row[],
  pipeline: [] as Row[],
  rules: [] as EndToEnd[],
  decode: [] as EndToEnd[],
};
for (let r = 0; r < ROUNDS; r++) {
  if (baselineScript !== undefined) {
    baseline.engine.push(await locked("engine", [], baselineScript));
    baseline.pipeline.push(await locked("pipeline", [], baselineScript));
    baseline.rules.push((await locked("e2e-rules", [], baselineScript)) as unknown as EndToEnd);
    baseline.decode.push((await locked("e2e-decode", [], baselineScript)) as unknown as EndToEnd);
  }
  engineRuns.push(await locked("engine"));
  pipelineRuns.push(await locked("pipeline"));
  // alternate the order so that a change in the machine's load hits both alike
  const pair =
    r % 2 === 0
      ? [await locked("e2e-rules"), await locked("e2e-decode")]
      : [await locked("e2e-decode"), await locked("e2e-rules")].reverse();
  rulesRuns.push(pair[0] as unknown as EndToEnd);
  decodeRuns.push(pair[1] as unknown as EndToEnd);
  const e = engineRuns[r]!;
  const p = pipelineRuns[r]!;
  say(
    `round ${r + 1}: engine ${fmt(e["eventsPerSecond"] as number)}/s, pipeline ${fmt(p["eventsPerSecond"] as number)}/s, ` +
      `e2e rules ${fmt(rulesRuns[r]!.client["recordsPerSecond"] as number)}/s, ` +
      `decode only ${fmt(decodeRuns[r]!.client["recordsPerSecond"] as number)}/s`,
  );
}
const sdk = (await locked("e2e-sdk")) as unknown as EndToEnd;
say(`official exporter: ${fmt(sdk.client["recordsPerSecond"] as number)}/s`);
const maxRules = median(rulesRuns.map((x) => x.client["recordsPerSecond"] as number));
const halfRate = values.rate !== undefined ? Number(values.rate) : maxRules / 2;
const latency = (await locked("latency", ["--rate", String(Math.round(halfRate))])) as unknown as EndToEnd;
say(`latency at ${fmt(halfRate)}/s: p50 ${latency.latency?.p50} ms, p99 ${latency.latency?.p99} ms`);
const memory = await locked("memory");
say(`memory: ${memory["heapPerGroup"]} B heap per group`);
const clone = await locked("clone");
if (baselineDir !== undefined) rmSync(baselineDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// report

const perMillion = (x: EndToEnd) => (x.server.cpuSeconds / x.server.evaluated) * 1e6;
const rulesRate = maxRules;
const decodeRate = median(decodeRuns.map((x) => x.client["recordsPerSecond"] as number));
const ratio = rulesRate / decodeRate;
const lat = latency.latency!;

const row = (label: string, xs: EndToEnd[]) => {
  const rates = xs.map((x) => x.client["recordsPerSecond"] as number);
  return `| ${label} | ${fmt(median(rates))} | ${rates.map(fmt).join(", ")} | ${median(xs.map(perMillion)).toFixed(2)} | ${median(xs.map((x) => x.server.eventLoopUtilization * 100)).toFixed(0)} % |`;
};

const cpuOf = (xs: Row[]) => median(xs.map((x) => x["eventsPerCpuSecond"] as number));
const rateOf = (xs: EndToEnd[]) => median(xs.map((x) => x.client["recordsPerSecond"] as number));
const cpuPerMillion = (xs: EndToEnd[]) => median(xs.map(perMillion));
const baselineSection =
  baselineCommit === undefined
    ? ""
    : `
### Against commit ${baselineCommit}

The same steps run from the detector as it was at \`${baselineCommit}\` (\`--baseline-commit\`), interleaved with the runs
above in every round (medians of ${ROUNDS} rounds).

| measure | ${baselineCommit} | now | now / then |
| --- | ---: | ---: | ---: |
| engine replay, events per CPU-second | ${fmt(cpuOf(baseline.engine))} | ${fmt(cpuOf(engineRuns))} | ${(cpuOf(engineRuns) / cpuOf(baseline.engine)).toFixed(2)} |
| pipeline replay, events per CPU-second | ${fmt(cpuOf(baseline.pipeline))} | ${fmt(cpuOf(pipelineRuns))} | ${(cpuOf(pipelineRuns) / cpuOf(baseline.pipeline)).toFixed(2)} |
| end to end, whole pack, events/s | ${fmt(rateOf(baseline.rules))} | ${fmt(rateOf(rulesRuns))} | ${(rateOf(rulesRuns) / rateOf(baseline.rules)).toFixed(2)} |
| end to end, whole pack, server CPU s per million events | ${cpuPerMillion(baseline.rules).toFixed(2)} | ${cpuPerMillion(rulesRuns).toFixed(2)} | ${(cpuPerMillion(rulesRuns) / cpuPerMillion(baseline.rules)).toFixed(2)} |
| end to end, decode only, events/s | ${fmt(rateOf(baseline.decode))} | ${fmt(rateOf(decodeRuns))} | ${(rateOf(decodeRuns) / rateOf(baseline.decode)).toFixed(2)} |
| end to end, decode only, server CPU s per million events | ${cpuPerMillion(baseline.decode).toFixed(2)} | ${cpuPerMillion(decodeRuns).toFixed(2)} | ${(cpuPerMillion(decodeRuns) / cpuPerMillion(baseline.decode)).toFixed(2)} |
`;

const command =
  "./node_modules/.bin/pnpm --filter @secmon/bench run bench:detector -- --write" +
  (baselineCommit !== undefined ? ` --baseline-commit ${baselineCommit}` : "");
const section = `## Detector

Run ${started.toISOString()} with \`${command}\` (${ROUNDS} rounds, ${SECONDS} s per end-to-end run after a
${WARMUP} s warm-up, each step under \`flock ${LOCK}\`). Machine: nproc ${machine.nproc}, CPU ${machine.cpu},
Node ${machine.node}; 1-minute load average ${loadBefore} at the start, ${loadRange()} during the steps
(the machine is shared: wall-clock rates move with the other work; CPU seconds per event move less).

Traffic (\`bench/detector/load/requests.ts\`): 512-record OTLP requests (${"~"}435 B/record) of a realistic mix:
72 % api.request (88 % 200, 1.5 % 404, body sizes), 16 % auth.login (8 % failures), 5 % authz.decision, 4 %
data.access, 1 % input.validation_failure, 1 % other sign-in events, 20 000 users at 4 000 addresses, plus
about 1 % attacker records (a new credential stuffer, scanner, injector, account takeover, insider, bulk
download and data hoarder every 64 requests). Event time advances 1 ms per record (a 1 000 events/s service
replayed faster: at live time stamps and 100k events/s a few thousand addresses would all be attackers).
Every request is unique (its own times and identities), so none is taken for a retry. The whole default pack
(14 rules) fires about 12 times per 512 events (most of it the service-wide surge rules updating their alerts).

### Replay (one process, no gRPC, events decoded up front)

| path | events/s (median) | per round | events per CPU-second (median) |
| --- | ---: | --- | ---: |
| \`Engine.evaluate\`, whole pack, memory store | ${fmt(median(engineRuns.map((x) => x["eventsPerSecond"] as number)))} | ${engineRuns.map((x) => fmt(x["eventsPerSecond"] as number)).join(", ")} | ${fmt(median(engineRuns.map((x) => x["eventsPerCpuSecond"] as number)))} |
| \`Detector.pipeline.ingest\` (rules, alerts, recent events, report, metrics) | ${fmt(median(pipelineRuns.map((x) => x["eventsPerSecond"] as number)))} | ${pipelineRuns.map((x) => fmt(x["eventsPerSecond"] as number)).join(", ")} | ${fmt(median(pipelineRuns.map((x) => x["eventsPerCpuSecond"] as number)))} |

### End to end over OTLP/gRPC (detector in its own process)

A started \`Detector\` (embedded defaults, memory state, outbox in memory, no sinks, metrics on) in a child
process; the sender in another. Pre-encoded client: 16 requests in flight over 2 connections. Server CPU is
the detector process's user + system time over the run.

| sender → detector | events/s (median) | per round | server CPU s per million events | server event-loop busy |
| --- | ---: | --- | ---: | ---: |
${row("pre-encoded client → whole default pack", rulesRuns)}
${row("pre-encoded client → no rules (decode only)", decodeRuns)}
${row("official SDK exporter (1 process) → whole default pack", [sdk])}

- Whole pack vs decode only: **${ratio.toFixed(2)}** of the decode-only throughput (goal ≥ 0.5: ${ratio >= 0.5 ? "met" : "missed"}).
- End-to-end with the whole pack: **${fmt(rulesRate)} events/s** (goal ≥ 100,000: ${rulesRate >= 100_000 ? "met" : "missed"}).
- The official exporter (one export in flight) delivered ${fmt(sdk.client["recordsPerSecond"] as number)} events/s using ${Number(sdk.client["clientCpuSeconds"]).toFixed(1)} s of its own CPU in ${Number(sdk.client["seconds"]).toFixed(0)} s.

### Receipt-to-alert latency at half load

Paced (open-loop) sender at ${fmt(halfRate)} events/s for ${SECONDS} s (half the median maximum above), whole pack;
latency from the request's \`receivedAt\` to the alert change being recorded (\`onChanges\`), over every alert
change (created and updated): ${lat.changes} changes, ${lat.created} alerts created.

| p50 | p99 | max | p99 of created alerts only | sender achieved |
| ---: | ---: | ---: | ---: | ---: |
| ${lat.p50} ms | ${lat.p99} ms | ${lat.max} ms | ${lat.createdP99} ms | ${fmt(latency.client["recordsPerSecond"] as number)} events/s |

Goal p99 < 50 ms: ${lat.p99 < 50 ? "met" : "missed"}.

### Memory per tracked group

\`bench/detector/memory.ts\`: ${fmt(memory["addresses"] as number)} distinct attacker addresses, three failed sign-ins each, through
the whole pipeline of a detector (window store, recent events, report): ${fmt(memory["groups"] as number)} groups tracked.

| heap per group | heap per attacker address | RSS growth per group |
| ---: | ---: | ---: |
| ${memory["heapPerGroup"]} B | ${memory["heapPerAddress"]} B | ${memory["rssPerGroup"]} B |

Goal < 1 KB per tracked group: ${(memory["heapPerGroup"] as number) < 1024 ? "met" : "missed"} (heap; RSS growth also counts heap headroom the
garbage collector keeps).

### Decoding on a worker thread?

\`bench/detector/clone.ts\`, best of 5 rounds on the same requests: decoding costs the main thread
${clone["decodeNsPerEvent"]} ns per event; receiving the same events decoded by a worker (structured clone, what postMessage does) would
cost it ${clone["deserializeNsPerEvent"]} ns per event (${clone["cloneBytesPerEvent"]} B per event cloned) and the worker ${clone["workerNsPerEvent"]} ns per event. On two cores that
the sender shares, a decoding worker would save the main thread ${Math.round(Number(clone["decodeNsPerEvent"]) - Number(clone["deserializeNsPerEvent"]))} ns per event at the price of
a second busy core${Number(clone["deserializeNsPerEvent"]) > Number(clone["decodeNsPerEvent"]) / 2 ? ": it does not pay, and the detector decodes on its one thread" : ""}.
${baselineSection}`;

say("\n" + section);
if (values.write) {
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  const start = current.indexOf("## Detector\n");
  let next: string;
  if (start < 0) next = current.trimEnd() + "\n\n" + section;
  else {
    const end = current.indexOf("\n## ", start + 1);
    next = current.slice(0, start) + section + (end < 0 ? "" : current.slice(end));
  }
  writeFileSync(RESULTS, next);
  try {
    execFileSync(join(HERE, "..", "..", "node_modules", ".bin", "prettier"), ["--write", RESULTS], {
      stdio: "ignore",
    });
  } catch {
    // formatting is a nicety
  }
  say(`wrote ${RESULTS}`);
}
