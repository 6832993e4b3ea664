import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { createDemoApp, type DemoServer } from "@secmon/demo-service";
import { randomBytes } from "node:crypto";
import { ATTACKS, AttackClient, baseline, type Attack } from "./attacks.ts";

/** The demo service running in this process, exporting its security events over OTLP/gRPC. */
export interface InProcessService {
  readonly url: string;
  /** Exports every event still buffered. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the instrumented demo service on 127.0.0.1 (ephemeral port), with an OpenTelemetry
 * LoggerProvider whose OTLP/gRPC exporter sends to `otlpEndpoint` (e.g. http://127.0.0.1:4317).
 */
export async function startInProcessService(
  otlpEndpoint: string,
  options: { serviceName?: string; headers?: Record<string, string> } = {},
): Promise<InProcessService> {
  const exporter = new OTLPLogExporter({
    url: otlpEndpoint,
    ...(options.headers ? { headers: options.headers } : {}),
  });
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      "service.name": options.serviceName ?? "demo-shop",
      "deployment.environment.name": "demo",
    }),
    processors: [
      new BatchLogRecordProcessor({
        exporter,
        scheduledDelayMillis: 200,
        maxExportBatchSize: 512,
        maxQueueSize: 16_384,
      }),
    ],
  });
  const demo = await createDemoApp({
    loggerProvider: provider,
    hashSecret: randomBytes(32).toString("hex"),
    environment: "development",
    trustProxy: "loopback",
    lockThreshold: 10,
    scryptCost: 1024,
  });
  const server: DemoServer = await demo.listen(0, "127.0.0.1");
  return {
    url: server.url,
    flush: () => provider.forceFlush(),
    close: async () => {
      await server.close();
      await provider.shutdown();
    },
  };
}

export interface SimulationOptions {
  /** Attack ids (flags); empty: none. */
  readonly attacks: readonly string[];
  /** Rounds of ordinary traffic before the attacks. */
  readonly baselineRounds?: number;
  /** Where the demo service listens; the simulator sends HTTP there. */
  readonly targetUrl: string;
  readonly log?: (line: string) => void;
}

export interface AttackRun {
  readonly attack: Attack;
  readonly requests: number;
  readonly error?: string;
}

export function findAttacks(ids: readonly string[]): Attack[] {
  return ids.map((id) => {
    const attack = ATTACKS.find((a) => a.id === id);
    if (!attack) throw new Error(`unknown attack ${id}; known: ${ATTACKS.map((a) => a.id).join(", ")}`);
    return attack;
  });
}

/** Runs ordinary traffic and then each attack against the target service, one after the other. */
export async function simulate(options: SimulationOptions): Promise<AttackRun[]> {
  const log = options.log ?? (() => {});
  const client = new AttackClient(options.targetUrl);
  if (options.baselineRounds) {
    log(`▶ baseline: ${options.baselineRounds} ordinary sign-ins`);
    await baseline(client, options.baselineRounds);
  }
  const runs: AttackRun[] = [];
  for (const attack of findAttacks(options.attacks)) {
    log(`▶ ${attack.id}: ${attack.description}`);
    const before = client.requests;
    try {
      await attack.run(client);
      runs.push({ attack, requests: client.requests - before });
    } catch (err) {
      runs.push({ attack, requests: client.requests - before, error: (err as Error).message });
      log(`  ✖ ${attack.id} failed: ${(err as Error).message}`);
    }
  }
  return runs;
}
