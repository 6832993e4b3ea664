import { parseArgs } from "node:util";
import { ATTACKS } from "./attacks.ts";
import { simulate, startInProcessService, type InProcessService } from "./simulate.ts";

const USAGE = `secmon-simulate: attacks against the instrumented demo service

Usage:
  secmon-simulate --otlp-endpoint URL [attacks] [--baseline N]
      runs the demo service in this process, exporting its security events over OTLP/gRPC to URL
      (a detector or a Collector, e.g. http://127.0.0.1:4317), and attacks it
  secmon-simulate --target-url URL [attacks] [--baseline N]
      attacks a demo service already running at URL (it must trust X-Forwarded-For from us)

Attacks (any number, or --all):
${ATTACKS.map((a) => `  --${a.id.padEnd(22)} ${a.description}`).join("\n")}

Options:
  --otlp-header K=V    header for the OTLP exporter (e.g. authorization=Bearer\\ TOKEN); repeatable`;

export async function simulateCli(argv: readonly string[]): Promise<number> {
  const attackOptions = Object.fromEntries(ATTACKS.map((a) => [a.id, { type: "boolean" as const }]));
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      ...attackOptions,
      all: { type: "boolean" },
      baseline: { type: "string" },
      "otlp-endpoint": { type: "string" },
      "otlp-header": { type: "string", multiple: true },
      "target-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const flags = values as Record<string, unknown>;
  const chosen = values.all
    ? ATTACKS.map((a) => a.id)
    : ATTACKS.filter((a) => flags[a.id] === true).map((a) => a.id);
  const baselineRounds = values.baseline === undefined ? 0 : Number(values.baseline);
  const otlp = values["otlp-endpoint"];
  const target = values["target-url"];
  if (values.help || (otlp === undefined) === (target === undefined) || !Number.isInteger(baselineRounds)) {
    process.stderr.write(USAGE + "\n");
    return values.help ? 0 : 2;
  }
  if (chosen.length === 0 && baselineRounds === 0) {
    process.stderr.write("secmon-simulate: choose attacks (or --all) or --baseline N\n\n" + USAGE + "\n");
    return 2;
  }
  let service: InProcessService | undefined;
  if (otlp !== undefined) {
    const headers = Object.fromEntries(
      (values["otlp-header"] ?? []).map((h) => {
        const eq = h.indexOf("=");
        return [h.slice(0, eq), h.slice(eq + 1)];
      }),
    );
    service = await startInProcessService(otlp, { headers });
  }
  try {
    const runs = await simulate({
      attacks: chosen,
      baselineRounds,
      targetUrl: target ?? service!.url,
      log: (line) => process.stdout.write(line + "\n"),
    });
    await service?.flush();
    const failed = runs.filter((r) => r.error !== undefined);
    process.stdout.write(
      `${runs.length} attack(s), ${runs.reduce((n, r) => n + r.requests, 0)} request(s), ${failed.length} failed\n`,
    );
    return failed.length > 0 ? 1 : 0;
  } finally {
    await service?.close();
  }
}

if (import.meta.main) process.exitCode = await simulateCli(process.argv.slice(2));
