import { Detector, SecmonError, validateConfig, type AlertChange, type Config } from "@secmon/detector";
import { parseArgs } from "node:util";
import { ATTACKS, simulate, startInProcessService, type AttackRun } from "@secmon/simulator";

export interface DemoOptions {
  /** Attack ids; default every attack. */
  readonly attacks?: readonly string[];
  /** Stop once the summary is printed instead of waiting for Ctrl-C. */
  readonly exit?: boolean;
  /** Detector config overrides (ports, sinks…); the rest are the embedded defaults. */
  readonly config?: Record<string, unknown>;
  /** How long to wait for the expected alerts after the last attack. */
  readonly waitSeconds?: number;
  readonly out?: (line: string) => void;
  /** Resolves when the demo should stop (default: SIGINT / SIGTERM). */
  readonly until?: Promise<void>;
}

export interface DemoResult {
  readonly runs: readonly AttackRun[];
  /** Rule id → alert ids created. */
  readonly alertsByRule: ReadonlyMap<string, readonly string[]>;
  /** Expected rules that did not fire. */
  readonly missing: readonly string[];
  readonly addresses: Detector["addresses"];
}

function signal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * The README's main command: a detector on embedded defaults, the instrumented demo service
 * exporting to it over OTLP/gRPC, and the attack simulator against the service. Alerts print as
 * they fire (the console sink); a summary follows; the API and /metrics stay up until Ctrl-C.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(line + "\n"));
  const parsed = validateConfig(options.config ?? {});
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  const config: Config = parsed.config;

  const alertsByRule = new Map<string, string[]>();
  let notify: (() => void) | undefined;
  const onChanges = (changes: readonly AlertChange[]) => {
    for (const c of changes) {
      if (c.type !== "alert.created") continue;
      const ids = alertsByRule.get(c.alert.rule) ?? [];
      ids.push(c.alert.id);
      alertsByRule.set(c.alert.rule, ids);
    }
    notify?.();
  };
  const detector = new Detector(config, { onChanges });
  await detector.start();
  const addresses = detector.addresses;
  out(`secmon demo: detector listening for OTLP on ${addresses.grpc} (gRPC) and ${addresses.http} (HTTP)`);
  const service = await startInProcessService(`http://${addresses.grpc}`);
  out(
    `demo service (instrumented Express app) on ${service.url}, exporting security events to the detector\n`,
  );

  const attackIds = options.attacks ?? ATTACKS.map((a) => a.id);
  let runs: AttackRun[];
  let missing: string[];
  try {
    runs = await simulate({ attacks: attackIds, baselineRounds: 5, targetUrl: service.url, log: out });
    await service.flush();
    const expected = [...new Set(runs.filter((r) => !r.error).flatMap((r) => r.attack.expects))];
    const deadline = Date.now() + (options.waitSeconds ?? 15) * 1000;
    const pending = () => expected.filter((rule) => !alertsByRule.has(rule));
    while (pending().length > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 250).unref();
      });
    }
    notify = undefined;
    missing = pending();

    out("\n── summary ─────────────────────────────────────────────");
    for (const run of runs) {
      const fired = run.attack.expects
        .map((rule) => `${rule} ${alertsByRule.has(rule) ? "✔" : "✖"}`)
        .join(", ");
      out(
        `${run.attack.id.padEnd(22)} ${String(run.requests).padStart(4)} requests  → ${run.error ?? fired}`,
      );
    }
    const total = [...alertsByRule.values()].reduce((n, ids) => n + ids.length, 0);
    out(
      `\n${total} alert(s) from ${alertsByRule.size} rule(s)${missing.length ? `; did not fire: ${missing.join(", ")}` : ""}`,
    );
    out(`events evaluated: ${await evaluatedEvents(addresses.metrics)}`);
    out(`alerts:  ${addresses.api}/api/alerts`);
    out(`report:  ${addresses.api}/api/report?period=24h`);
    out(`metrics: ${addresses.metrics}`);
    if (!options.exit) {
      out("\nThe detector, API and metrics stay up. Press Ctrl-C to stop.");
      await (options.until ?? signal());
    }
  } finally {
    out("stopping…");
    await service.close();
    await detector.stop();
  }
  return { runs, alertsByRule, missing, addresses };
}

/** secmon_events_evaluated_total as the Prometheus endpoint serves it. */
async function evaluatedEvents(metricsUrl: string | undefined): Promise<string> {
  if (!metricsUrl) return "(metrics disabled)";
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith("secmon_events_evaluated_total"));
  return line ? line.split(" ").at(-1)! : "0";
}

export async function demoCli(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    // `pnpm run demo:start -- --exit` passes the "--" along
    args: argv.filter((a) => a !== "--"),
    strict: true,
    options: {
      exit: { type: "boolean" },
      attack: { type: "string", multiple: true },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(
      `secmon-demo [--exit] [--attack ID]...\n  attacks: ${ATTACKS.map((a) => a.id).join(", ")}\n`,
    );
    return 0;
  }
  const result = await runDemo({
    exit: values.exit ?? false,
    ...(values.attack ? { attacks: values.attack } : {}),
  });
  return result.missing.length > 0 || result.runs.some((r) => r.error) ? 1 : 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await demoCli(process.argv.slice(2));
  } catch (err) {
    // a known problem (a port in use, a bad config) is one line; anything else keeps its stack
    process.stderr.write(
      `secmon demo: ${err instanceof SecmonError ? err.message : String((err as Error).stack ?? err)}\n`,
    );
    process.exitCode = 1;
  }
}
