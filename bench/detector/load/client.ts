/**
 * OTLP/gRPC load client for the detector benchmarks. Sends the realistic stream of
 * load/requests.ts (pre-encoded templates; each request stamped with its own event times and
 * identities, so no two requests are alike and the detector never takes one for a retry) with
 * several calls in flight over a few connections, through a grpc-js client whose serializer passes
 * the bytes as they are. One SDK exporter keeps a single export in flight and tops out far below
 * what a receiver takes; this client does not. With `--rate` it is an open-loop sender: requests
 * leave at a fixed pace whatever the answers (for latency at a given load). Bounded in time and in
 * count, and loopback only.
 *
 *   node --conditions=@secmon/source bench/detector/load/client.ts \
 *     [--target 127.0.0.1:4317] [--seconds 10] [--max-requests 100000] [--concurrency 16] \
 *     [--connections 2] [--requests 64] [--records 512] [--rate RECORDS_PER_S] [--gzip] \
 *     [--token T] [--json] [--first K] [--start-ms MS]
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { Traffic } from "./requests.ts";

const EXPORT_PATH = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:4317" },
    seconds: { type: "string", default: "10" },
    "max-requests": { type: "string", default: "100000" },
    concurrency: { type: "string", default: "16" },
    connections: { type: "string", default: "2" },
    requests: { type: "string", default: "64" },
    records: { type: "string", default: "512" },
    rate: { type: "string", default: "0" },
    gzip: { type: "boolean", default: false },
    token: { type: "string" },
    json: { type: "boolean", default: false },
    first: { type: "string", default: "0" },
    "start-ms": { type: "string" },
  },
});

const target = values.target;
const host = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(target);
const hostname = host?.[1] ?? host?.[2];
if (hostname === undefined || !["127.0.0.1", "localhost", "::1"].includes(hostname)) {
  console.error(`refusing target ${target}: this load client only sends to loopback`);
  process.exit(2);
}
const seconds = Math.min(Number(values.seconds), 600);
const maxRequests = Number(values["max-requests"]);
const concurrency = Number(values.concurrency);
const recordsPerRequest = Number(values.records);
const rate = Number(values.rate);
const log = values.json ? () => {} : (line: string) => console.log(line);

const traffic = new Traffic({
  requests: Number(values.requests),
  records: recordsPerRequest,
  ...(values["start-ms"] !== undefined ? { startMs: Number(values["start-ms"]) } : {}),
});
// Request k of the stream, counting from --first (a second run continues the first one's stream).
const first = Number(values.first);
log(
  `${traffic.templates.length} request templates × ${recordsPerRequest} records (${traffic.bytesPerRecord.toFixed(0)} B/record) → ${target}, ` +
    `${rate > 0 ? `${rate} records/s paced, ≤ ` : ""}${concurrency} in flight over ${values.connections} connection(s), ≤ ${seconds}s, ≤ ${maxRequests} requests`,
);

const clients = Array.from(
  { length: Math.max(1, Number(values.connections)) },
  () =>
    new grpc.Client(target, grpc.credentials.createInsecure(), {
      // One connection per client (no shared subchannel), large windows for our sends' acks.
      "grpc.use_local_subchannel_pool": 1,
      "grpc-node.flow_control_window": 16 * 1024 * 1024,
      "grpc.max_send_message_length": -1,
      ...(values.gzip ? { "grpc.default_compression_algorithm": 2 } : {}),
    }),
);
const metadata = new grpc.Metadata();
if (values.token !== undefined) metadata.set("authorization", `Bearer ${values.token}`);
const passthrough = (b: Buffer) => b;

function send(client: grpc.Client, body: Buffer): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_PATH, passthrough, passthrough, body, metadata, (err) =>
      resolve(err ? err.code : grpc.status.OK),
    );
  });
}

// Connect every client first, so that start-up is not counted as failures.
await Promise.all(
  clients.map(
    (client) =>
      new Promise<void>((resolve, reject) =>
        grpc.waitForClientReady(client, Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
      ),
  ),
);

let started = 0;
let inFlight = 0;
let ok = 0;
let late = 0;
const failures = new Map<string, number>();
const latencies: number[] = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
let lastReport = t0;
let lastOk = 0;

/** Sends request `k` of the stream and accounts for its answer. */
async function one(k: number): Promise<void> {
  const client = clients[k % clients.length] as grpc.Client;
  const body = traffic.request(first + k);
  inFlight++;
  const sentAt = performance.now();
  const code = await send(client, body);
  inFlight--;
  latencies.push(performance.now() - sentAt);
  if (code === grpc.status.OK) ok++;
  else failures.set(grpc.status[code], (failures.get(grpc.status[code]) ?? 0) + 1);
  const now = performance.now();
  if (now - lastReport >= 1000) {
    log(
      `  ${((now - t0) / 1000).toFixed(0)}s: ${Math.round(((ok - lastOk) * recordsPerRequest * 1000) / (now - lastReport)).toLocaleString("en-US")} records/s`,
    );
    lastReport = now;
    lastOk = ok;
  }
}

/** Closed loop: each worker sends its next request when the previous one is answered. */
async function worker(): Promise<void> {
  while (performance.now() < deadline && started < maxRequests) await one(started++);
}

/**
 * Open loop: requests leave on schedule; one that would exceed `concurrency` in flight waits, and
 * one that leaves more than an interval after its time is counted late.
 */
async function paced(): Promise<void> {
  const pending = new Set<Promise<void>>();
  const interval = (recordsPerRequest / rate) * 1000;
  while (started < maxRequests) {
    const now = performance.now();
    if (now >= deadline) break;
    const due = Math.floor((now - t0) / interval) + 1;
    while (started < due && started < maxRequests) {
      if (inFlight >= concurrency) break;
      if (now - (t0 + started * interval) > interval) late++;
      const p = one(started++);
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
    const next = t0 + started * interval;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(next - performance.now(), 5))));
  }
  await Promise.all(pending);
}

if (rate > 0) await paced();
else await Promise.all(Array.from({ length: concurrency }, () => worker()));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
for (const client of clients) client.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
const summary = {
  next: first + started,
  ok,
  records: ok * recordsPerRequest,
  seconds: Number(elapsed.toFixed(3)),
  recordsPerSecond: Math.round((ok * recordsPerRequest) / elapsed),
  requestsPerSecond: Number((ok / elapsed).toFixed(1)),
  requestP50Ms: Number(pct(0.5).toFixed(2)),
  requestP99Ms: Number(pct(0.99).toFixed(2)),
  clientCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  late,
  failures: Object.fromEntries(failures),
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `ok ${ok} requests (${summary.records.toLocaleString("en-US")} records) in ${elapsed.toFixed(1)}s: ` +
      `${summary.recordsPerSecond.toLocaleString("en-US")} records/s, ${summary.requestsPerSecond} requests/s; ` +
      `latency p50 ${summary.requestP50Ms} ms, p99 ${summary.requestP99Ms} ms` +
      (late > 0 ? `; ${late} requests left late` : ""),
  );
  if (failures.size > 0) console.log(`failed: ${[...failures].map(([k, v]) => `${k} ${v}`).join(", ")}`);
}
