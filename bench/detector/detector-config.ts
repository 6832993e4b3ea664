/**
 * The detector the benchmarks run: embedded defaults, memory state, outbox in memory, no sinks,
 * metrics on (Prometheus on a free loopback port), loopback listeners on free ports, log warnings
 * only. `rules: false` gives the same detector without any rule (the decode-only baseline).
 */
import { createServer } from "node:net";
import type { AlertChange } from "../../packages/detector/src/alerts/types.ts";
import { validateConfig } from "../../packages/detector/src/config/load.ts";
import { Detector } from "../../packages/detector/src/main.ts";

export interface BenchDetectorOptions {
  /** The default pack (true) or no rules at all (false). */
  readonly rules: boolean;
  /** Serve OTLP/gRPC on 127.0.0.1:0 (true) or no receiver at all (false). */
  readonly receivers: boolean;
  readonly onChanges?: (changes: readonly AlertChange[]) => void;
  /** More config sections (experiments), e.g. `{ report: { recent_events_per_group: 10 } }`. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A free loopback port (the Prometheus exporter takes port 0 for its default, 9464). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function benchConfig(
  options: Pick<BenchDetectorOptions, "rules" | "receivers" | "extra">,
  metricsPort: number,
) {
  const parsed = validateConfig({
    receivers: {
      otlp: {
        grpc: { enabled: options.receivers, endpoint: "127.0.0.1:0" },
        http: { enabled: false },
      },
    },
    rules: { builtin: options.rules },
    state: { backend: "memory" },
    outbox: { type: "memory" },
    sinks: [],
    api: { enabled: false },
    metrics: { prometheus: { enabled: true, endpoint: `127.0.0.1:${metricsPort}` } },
    log: { level: "warn", format: "json" },
    ...options.extra,
  });
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  return parsed.config;
}

export async function startDetector(options: BenchDetectorOptions): Promise<Detector> {
  const config = benchConfig(options, await freePort());
  const detector = new Detector(config, options.onChanges ? { onChanges: options.onChanges } : {});
  await detector.start();
  return detector;
}
