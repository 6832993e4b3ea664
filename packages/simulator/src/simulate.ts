import { Metadata } from "@grpc/grpc-js";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type ReadWriteLogRecord,
} from "@opentelemetry/sdk-logs";
import { createDemoApp, type DemoServer } from "@secmon/demo-service";
import { randomBytes } from "node:crypto";
import { ATTACKS, AttackClient, baseline, type Attack } from "./attacks.ts";

/** How the OTLP exports of an in-process service went (each after the exporter's own retries). */
export interface ExportCounts {
  readonly succeeded: number;
  readonly failed: number;
  /** Why the last failed export failed. */
  readonly lastError?: string;
}

/** The demo service running in this process, exporting its security events over OTLP/gRPC. */
export interface InProcessService {
  readonly url: string;
  /** Exports every event still buffered; a failed export is counted in `exports()`, not thrown. */
  flush(): Promise<void>;
  /** The OTLP exports so far. */
  exports(): ExportCounts;
  close(): Promise<void>;
}

export interface InProcessServiceOptions {
  readonly serviceName?: string;
  /** Sent with every export as gRPC metadata (e.g. `authorization: Bearer …`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long one export may take, retries included (the exporter's default: 10 s). */
  readonly exportTimeoutMillis?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Passes exports through to `inner` and counts how they ended in `tally` (one for every endpoint). */
class CountingExporter implements LogRecordExporter {
  readonly #inner: LogRecordExporter;
  readonly #tally: Mutable<ExportCounts>;

  constructor(inner: LogRecordExporter, tally: Mutable<ExportCounts>) {
    this.#inner = inner;
    this.#tally = tally;
  }

  export(logs: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.#inner.export(logs, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.#tally.succeeded++;
      else {
        this.#tally.failed++;
        this.#tally.lastError = result.error?.message ?? "export failed";
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Hands each log record to the next processor in turn, one turn per event name: with one
 * processor per endpoint, every kind of event of one attack is spread evenly over several
 * detectors (replicas sharing Redis). A single turn would not spread them: each request emits its
 * events in a fixed order (a sign-in's `auth.login`, then its `api.request`), so with two
 * endpoints every `auth.login` would go to the first.
 */
class RoundRobinProcessor implements LogRecordProcessor {
  readonly #processors: readonly LogRecordProcessor[];
  /** The next processor's index, per event name. */
  readonly #next = new Map<string | undefined, number>();

  constructor(processors: readonly LogRecordProcessor[]) {
    this.#processors = processors;
  }

  onEmit(record: ReadWriteLogRecord, context?: Parameters<LogRecordProcessor["onEmit"]>[1]): void {
    const next = this.#next.get(record.eventName) ?? 0;
    this.#next.set(record.eventName, (next + 1) % this.#processors.length);
    this.#processors[next]!.onEmit(record, context);
  }

  async forceFlush(options?: Parameters<LogRecordProcessor["forceFlush"]>[0]): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.forceFlush(options)));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.shutdown()));
  }
}

/**
 * gRPC metadata from header-like pairs. Throws on a key gRPC does not allow (keys are
 * lowercased, as HTTP/2 sends them).
 */
export function grpcMetadata(headers: Readonly<Record<string, string>>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

/**
 * Starts the instrumented demo service on 127.0.0.1 (ephemeral port), with an OpenTelemetry
 * LoggerProvider whose OTLP/gRPC exporter sends to `otlpEndpoint` (e.g. http://127.0.0.1:4317).
 * With several endpoints, each security event goes to the next one in turn (a turn per event name).
 */
export async function startInProcessService(
  otlpEndpoint: string | readonly string[],
  options: InProcessServiceOptions = {},
): Promise<InProcessService> {
  const endpoints = typeof otlpEndpoint === "string" ? [otlpEndpoint] : otlpEndpoint;
  if (endpoints.length === 0) throw new Error("no OTLP endpoint");
  const tally: Mutable<ExportCounts> = { succeeded: 0, failed: 0 };
  // The gRPC exporter sends `metadata`; it has no `headers` (that is the HTTP exporters').
  const exporters = endpoints.map(
    (url) =>
      new CountingExporter(
        new OTLPLogExporter({
          url,
          ...(options.headers ? { metadata: grpcMetadata(options.headers) } : {}),
          ...(options.exportTimeoutMillis !== undefined
            ? { timeoutMillis: options.exportTimeoutMillis }
            : {}),
        }),
        tally,
      ),
  );
  const batches = exporters.map(
    (exporter) =>
      new BatchLogRecordProcessor({
        exporter,
        scheduledDelayMillis: 200,
        maxExportBatchSize: 512,
        maxQueueSize: 16_384,
      }),
  );
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      "service.name": options.serviceName ?? "demo-shop",
      "deployment.environment.name": "demo",
    }),
    processors: [batches.length === 1 ? batches[0]! : new RoundRobinProcessor(batches)],
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
    // A failed export rejects the flush; it is counted by the exporter.
    flush: () => provider.forceFlush().catch(() => {}),
    exports: () => ({ ...tally }),
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
