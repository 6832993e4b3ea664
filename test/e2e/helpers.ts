// the detector's own test helpers: a TCP port that was free a moment ago on 127.0.0.1, and a
// poll on the real clock for what a real peer does
import { eventually } from "../../packages/detector/test/sinks/helpers.ts";
import { freePort } from "../../packages/detector/test/sinks/peers.ts";

export { eventually, freePort };

/** A detector config for tests: every listener on an ephemeral loopback port, no console output. */
export async function testDetectorConfig(
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return {
    receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: { endpoint: "127.0.0.1:0" } } },
    api: { endpoint: "127.0.0.1:0" },
    metrics: { prometheus: { endpoint: `127.0.0.1:${await freePort()}` } },
    sinks: [{ type: "console", color: "never", min_severity: "critical", rules: { include: ["none"] } }],
    outbox: { type: "memory" },
    log: { level: "warn" },
    ...extra,
  };
}
