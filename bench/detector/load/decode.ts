/**
 * Throughput of the OTLP protobuf decoder alone (bytes → SecurityEvents), on pre-encoded
 * realistic requests. Reports records per second of wall time and of this process's CPU time
 * (the machine may be shared: CPU time is the steadier number).
 *
 *   node --conditions=@secmon/source bench/detector/load/decode.ts [--seconds 5] [--requests 32]
 */
import { parseArgs } from "node:util";
import { decodeLogsProtobuf } from "../../../packages/detector/src/receiver/decode-protobuf.ts";
import { buildRequests } from "./requests.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    requests: { type: "string", default: "32" },
    records: { type: "string", default: "512" },
  },
});
const seconds = Number(values.seconds);
const requests = buildRequests(Number(values.requests), { records: Number(values.records) });
const bytes = requests.reduce((n, r) => n + r.length, 0);
const perRecord = bytes / (requests.length * Number(values.records));
console.log(
  `requests: ${requests.length} × ${values.records} records, ${perRecord.toFixed(0)} bytes per record`,
);

// Warm up, then measure in rounds of one second.
for (let i = 0; i < 200; i++) decodeLogsProtobuf(requests[i % requests.length] as Buffer, 0);
const rounds: number[] = [];
let totalRecords = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let round = 0; round < seconds; round++) {
  const start = performance.now();
  let records = 0;
  let i = 0;
  while (performance.now() - start < 1000) {
    records += decodeLogsProtobuf(requests[i++ % requests.length] as Buffer, 0).events.length;
  }
  rounds.push(records / ((performance.now() - start) / 1000));
  totalRecords += records;
}
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`per round (records/s): ${rounds.map(fmt).join(", ")}`);
console.log(`records/s (wall): ${fmt(totalRecords / wall)}   best round: ${fmt(Math.max(...rounds))}`);
console.log(`records per CPU-second: ${fmt(totalRecords / cpuSeconds)}`);
