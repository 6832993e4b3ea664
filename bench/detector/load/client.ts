/**
 * OTLP/gRPC load client for the detector benchmarks. Pre-encodes N realistic
 * ExportLogsServiceRequests (512 records each, auth.login / api.request from a few thousand
 * addresses, ~455 bytes per record) and resends them with several calls in flight over a few
 * connections, through a grpc-js client whose serializer passes the bytes as they are. One SDK
 * exporter keeps a single export in flight and tops out far below what a receiver takes; this
 * client does not. Bounded in time and in count, and loopback only.
 *
 *   node --conditions=@secmon/source bench/detector/load/client.ts \
 *     [--target 127.0.0.1:4317] [--seconds 10] [--max-requests 100000] [--concurrency 16] \
 *     [--connections 2] [--requests 64] [--records 512] [--gzip] [--token T]
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { buildRequests } from "./requests.ts";

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
    gzip: { type: "boolean", default: false },
    token: { type: "string" },
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

const requests = buildRequests(Number(values.requests), { records: recordsPerRequest });
const bytesPerRecord = requests.reduce((n, r) => n + r.length, 0) / (requests.length * recordsPerRequest);
console.log(
  `${requests.length} requests × ${recordsPerRequest} records (${bytesPerRecord.toFixed(0)} B/record) → ${target}, ` +
    `${concurrency} in flight over ${values.connections} connection(s), ≤ ${seconds}s, ≤ ${maxRequests} requests`,
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
let ok = 0;
const failures = new Map<string, number>();
const latencies: number[] = [];
const t0 = performance.now();
const deadline = t0 + seconds * 1000;
let lastReport = t0;
let lastOk = 0;

async function worker(id: number): Promise<void> {
  const client = clients[id % clients.length] as grpc.Client;
  while (performance.now() < deadline && started < maxRequests) {
    const body = requests[started++ % requests.length] as Buffer;
    const sentAt = performance.now();
    const code = await send(client, body);
    latencies.push(performance.now() - sentAt);
    if (code === grpc.status.OK) ok++;
    else failures.set(grpc.status[code], (failures.get(grpc.status[code]) ?? 0) + 1);
    const now = performance.now();
    if (now - lastReport >= 1000) {
      console.log(
        `  ${((now - t0) / 1000).toFixed(0)}s: ${Math.round(((ok - lastOk) * recordsPerRequest * 1000) / (now - lastReport)).toLocaleString("en-US")} records/s`,
      );
      lastReport = now;
      lastOk = ok;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
const elapsed = (performance.now() - t0) / 1000;
for (const client of clients) client.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(1);
console.log(
  `ok ${ok} requests (${(ok * recordsPerRequest).toLocaleString("en-US")} records) in ${elapsed.toFixed(1)}s: ` +
    `${Math.round((ok * recordsPerRequest) / elapsed).toLocaleString("en-US")} records/s, ` +
    `${(ok / elapsed).toFixed(0)} requests/s; latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`,
);
if (failures.size > 0) console.log(`failed: ${[...failures].map(([k, v]) => `${k} ${v}`).join(", ")}`);
