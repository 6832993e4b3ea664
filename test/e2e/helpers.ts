// the detector's own test helper: a TCP port that was free a moment ago on 127.0.0.1
import { freePort } from "../../packages/detector/test/sinks/peers.ts";

export { freePort };

/** Polls `probe` until it returns a value (not undefined), up to `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
