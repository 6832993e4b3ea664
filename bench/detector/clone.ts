/**
 * Would a worker thread that decodes pay on two cores? (not a test) The decoded events would reach
 * the main thread as a structured clone: this measures, on the realistic stream, what decoding
 * costs the main thread now, and what receiving the same events from a worker would cost it
 * (v8.deserialize of the serialized batch, as postMessage does) and the worker (decode + serialize).
 * Best of --rounds rounds, ns per event; prints one JSON line.
 *
 *   node --conditions=@secmon/source bench/detector/clone.ts [--requests 300] [--rounds 5]
 */
import { deserialize, serialize } from "node:v8";
import { parseArgs } from "node:util";
import { decodeLogsProtobuf } from "../../packages/detector/src/receiver/decode-protobuf.ts";
import { Traffic } from "./load/requests.ts";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "300" }, rounds: { type: "string", default: "5" } },
});
const traffic = new Traffic({});
const requests = Array.from({ length: Math.min(Number(values.requests), 2000) }, (_, k) =>
  traffic.request(k),
);
const serialized = requests.map((r) => serialize(decodeLogsProtobuf(r, 0).events));

function best(run: () => number): number {
  let out = Infinity;
  for (let round = 0; round < Number(values.rounds); round++) {
    const t0 = performance.now();
    const events = run();
    out = Math.min(out, ((performance.now() - t0) * 1e6) / events);
  }
  return Math.round(out);
}

const decode = best(() => requests.reduce((n, r) => n + decodeLogsProtobuf(r, 0).events.length, 0));
const receive = best(() => serialized.reduce((n, s) => n + (deserialize(s) as unknown[]).length, 0));
const worker = best(() =>
  requests.reduce((n, r) => {
    const events = decodeLogsProtobuf(r, 0).events;
    serialize(events);
    return n + events.length;
  }, 0),
);
const bytes = serialized.reduce((n, s) => n + s.length, 0) / (requests.length * traffic.recordsPerRequest);
console.log(
  JSON.stringify({
    decodeNsPerEvent: decode,
    deserializeNsPerEvent: receive,
    workerNsPerEvent: worker,
    cloneBytesPerEvent: Math.round(bytes),
  }),
);
