import { parseArgs } from "node:util";
import { ATTACKS } from "./attacks.ts";
import { grpcMetadata, simulate, startInProcessService, type InProcessService } from "./simulate.ts";

/** Where the CLI writes (default: the process's stdout and stderr), and test settings. */
export interface SimulateCliOptions {
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
  /** How long one OTLP export may take, retries included (tests). */
  readonly exportTimeoutMillis?: number;
}

const USAGE = `secmon-simulate: attacks against the instrumented demo service

Usage:
  secmon-simulate --otlp-endpoint URL [--otlp-endpoint URL2 …] [attacks] [--baseline N]
      runs the demo service in this process, exporting its security events over OTLP/gRPC to URL
      (a detector or a Collector, e.g. http://127.0.0.1:4317), and attacks it; with several
      endpoints each event goes to the next one in turn, a turn per event name (an attack split
      evenly across detector replicas)
  secmon-simulate --target-url URL [attacks] [--baseline N]
      attacks a demo service already running at URL (it must trust X-Forwarded-For from us)

Attacks (any number, or --all):
${ATTACKS.map((a) => `  --${a.id.padEnd(22)} ${a.description}`).join("\n")}

Options:
  --otlp-header K=V    gRPC metadata for the OTLP exporter (e.g. "authorization=Bearer TOKEN"); repeatable

Exit code: 0 when every attack ran and every OTLP export was delivered, 1 otherwise, 2 usage.`;

/** The flags; throws on an unknown flag or a missing value. */
function parseFlags(argv: readonly string[]) {
  const attackOptions = Object.fromEntries(ATTACKS.map((a) => [a.id, { type: "boolean" as const }]));
  return parseArgs({
    args: [...argv],
    strict: true,
    options: {
      ...attackOptions,
      all: { type: "boolean" },
      baseline: { type: "string" },
      "otlp-endpoint": { type: "string", multiple: true },
      "otlp-header": { type: "string", multiple: true },
      "target-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
}

export async function simulateCli(argv: readonly string[], io: SimulateCliOptions = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const usage = (problem: string) => {
    stderr.write(`secmon-simulate: ${problem}\n\n${USAGE}\n`);
    return 2;
  };
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(argv);
  } catch (err) {
    return usage((err as Error).message);
  }
  const flags = values as Record<string, unknown>;
  const chosen = values.all
    ? ATTACKS.map((a) => a.id)
    : ATTACKS.filter((a) => flags[a.id] === true).map((a) => a.id);
  const baselineRounds = values.baseline === undefined ? 0 : Number(values.baseline);
  const otlpEndpoints = values["otlp-endpoint"] ?? [];
  const otlp = otlpEndpoints.length > 0 ? otlpEndpoints : undefined;
  const target = values["target-url"];
  if (values.help) {
    stdout.write(USAGE + "\n");
    return 0;
  }
  if ((otlp === undefined) === (target === undefined)) return usage("give --otlp-endpoint or --target-url");
  if (!Number.isInteger(baselineRounds) || baselineRounds < 0) return usage("--baseline takes a number");
  if (chosen.length === 0 && baselineRounds === 0) return usage("choose attacks (or --all) or --baseline N");
  const headerArgs = values["otlp-header"] ?? [];
  if (otlp === undefined && headerArgs.length > 0) return usage("--otlp-header goes with --otlp-endpoint");
  const headers: Record<string, string> = {};
  for (const h of headerArgs) {
    const eq = h.indexOf("=");
    if (eq <= 0) return usage(`--otlp-header ${h}: expected KEY=VALUE`);
    headers[h.slice(0, eq).trim()] = h.slice(eq + 1).trim();
  }
  try {
    grpcMetadata(headers);
  } catch (err) {
    return usage(`--otlp-header: ${(err as Error).message}`);
  }
  let service: InProcessService | undefined;
  if (otlp !== undefined) {
    service = await startInProcessService(otlp, {
      headers,
      ...(io.exportTimeoutMillis !== undefined ? { exportTimeoutMillis: io.exportTimeoutMillis } : {}),
    });
  }
  try {
    const runs = await simulate({
      attacks: chosen,
      baselineRounds,
      targetUrl: target ?? service!.url,
      log: (line) => stdout.write(line + "\n"),
    });
    await service?.flush();
    const failed = runs.filter((r) => r.error !== undefined);
    const exports = service?.exports();
    const exported = exports
      ? `; OTLP exports: ${exports.succeeded} delivered, ${exports.failed} failed${exports.lastError !== undefined ? ` (last error: ${exports.lastError})` : ""}`
      : "";
    stdout.write(
      `${runs.length} attack(s), ${failed.length} failed, ${runs.reduce((n, r) => n + r.requests, 0)} request(s)${exported}\n`,
    );
    if (exports && exports.failed > 0) {
      stderr.write(
        `secmon-simulate: ${exports.failed} OTLP export(s) to ${otlpEndpoints.join(", ")} failed; their events are lost\n`,
      );
    }
    return failed.length > 0 || (exports?.failed ?? 0) > 0 ? 1 : 0;
  } finally {
    await service?.close();
  }
}

if (import.meta.main) process.exitCode = await simulateCli(process.argv.slice(2));
