import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import { SecmonError } from "../errors.ts";
import { Detector, createLogger } from "../main.ts";
import { configCheck } from "./config-check.ts";
import { cannotRead, type CliStreams } from "./io.ts";
import { replay } from "./replay.ts";
import { rulesLint } from "./rules-lint.ts";
import { rulesTest } from "./rules-test.ts";

const USAGE = `secmon-detector: security detection on OpenTelemetry logs

Usage:
  secmon-detector [run] [--config FILE]        run the detector (embedded defaults without --config)
  secmon-detector config check FILE            validate a config file and load the rules it names as
                                               the start does; print every problem with its line
  secmon-detector replay [--config FILE] [--json] FILE...
                                               run recorded telemetry (Collector file exporter
                                               OTLP-JSON lines, or event JSON lines; .gz too)
                                               through the rules on event time and print the alerts
  secmon-detector rules lint [PATH...]         check rule files (default: the built-in pack)
  secmon-detector rules test [PATH...]         run the golden cases of rule files
  secmon-detector --help | --version

Docs: docs/configuration.md, docs/rules.md, docs/metrics.md`;

/**
 * Runs one CLI invocation; resolves to the process exit code: 0 ok, 1 problems found, 2 usage
 * errors and input that cannot be read.
 */
export async function cli(argv: readonly string[], io: CliStreams = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: "string", short: "c" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.help) {
    stdout.write(USAGE + "\n");
    return 0;
  }
  if (values.version) {
    stdout.write("0.1.0\n");
    return 0;
  }
  const [command = "run", sub, ...rest] = positionals;
  if (values.config !== undefined) {
    try {
      readFileSync(values.config);
    } catch (err) {
      (io.stderr ?? process.stderr).write(cannotRead(values.config, err));
      return 2;
    }
  }
  switch (command) {
    case "run":
      return run(values.config, sub === undefined ? [] : [sub, ...rest], io);
    case "config": {
      const file = rest[0];
      if (sub !== "check" || file === undefined || rest.length > 1) return usage("config check FILE", io);
      return configCheck(file, io);
    }
    case "replay": {
      const files = [sub, ...rest].filter((f): f is string => f !== undefined);
      if (files.length === 0) return usage("replay FILE...", io);
      const config = loadConfig(values.config);
      const summary = await replay(files, { ...io, json: values.json ?? false, rules: config.rules });
      return summary.exitCode;
    }
    case "rules":
      if (sub === "lint") return rulesLint(rest, io);
      if (sub === "test") return rulesTest(rest, io);
      return usage("rules lint|test [PATH...]", io);
    default:
      return usage(`unknown command ${command}`, io);
  }
}

function usage(problem: string, io: CliStreams = {}): number {
  (io.stderr ?? process.stderr).write(`secmon-detector: ${problem}\n\n${USAGE}\n`);
  return 2;
}

/** Runs the detector until SIGINT / SIGTERM, then stops it cleanly. */
async function run(configFile: string | undefined, extra: string[], io: CliStreams): Promise<number> {
  if (extra.length > 0) return usage(`unexpected arguments: ${extra.join(" ")}`, io);
  const config = loadConfig(configFile);
  const logger = createLogger(config.log);
  const detector = new Detector(config, { logger });
  await detector.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "stopping");
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  await detector.stop();
  return 0;
}

/** Entry point: prints errors without a stack for known failures. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  try {
    process.exitCode = await cli(argv);
  } catch (err) {
    if (err instanceof SecmonError) {
      process.stderr.write(`secmon-detector: ${err.message}\n`);
    } else if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      return void (process.exitCode = usage(err.message));
    } else {
      process.stderr.write(
        `secmon-detector: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exitCode = 1;
  }
}

if (import.meta.main) await main();
