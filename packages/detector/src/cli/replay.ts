import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { AlertManager } from "../alerts/manager.ts";
import { MemoryAlertStore } from "../alerts/memory-store.ts";
import type { Alert } from "../alerts/types.ts";
import { Engine } from "../engine/engine.ts";
import { asSecmonError } from "../errors.ts";
import type { SecurityEvent } from "../event.ts";
import { decodeLogsJson } from "../receiver/decode-json.ts";
import { loadRules } from "../rules/compile.ts";
import type { RulesConfig } from "../rules/config.ts";
import { rulesSectionSchema } from "../rules/config.ts";
import { isEventLine, parseEventLine } from "../rules/event-lines.ts";
import { MemoryWindowStore } from "../state/memory/store.ts";
import type { CliStreams } from "./rules-lint.ts";

export interface ReplayOptions extends CliStreams {
  /** Print one alert per line as JSON instead of text. */
  readonly json?: boolean;
  /** Which rules run and how (default: the default pack, default settings). */
  readonly rules?: Partial<RulesConfig>;
  /** Events per evaluated batch (after sorting by event time). */
  readonly batchSize?: number;
}

export interface ReplaySummary {
  readonly exitCode: number;
  readonly events: number;
  readonly ignored: number;
  readonly rejected: number;
  /** Lines that were neither OTLP/JSON nor our event lines. */
  readonly badLines: number;
  readonly alerts: readonly Alert[];
}

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads recorded telemetry: per line, either an OTLP/JSON ExportLogsServiceRequest (the
 * Collector `file` exporter's format) or one of our event lines; gzip files are unpacked.
 */
async function readEvents(
  files: readonly string[],
  report: (message: string) => void,
): Promise<{ events: SecurityEvent[]; ignored: number; rejected: number; badLines: number }> {
  const events: SecurityEvent[] = [];
  let ignored = 0;
  let rejected = 0;
  let badLines = 0;
  for (const file of files) {
    const gzip = isGzip(file);
    const raw = createReadStream(file);
    let input: NodeJS.ReadableStream = raw;
    if (gzip) {
      const gunzip = createGunzip();
      raw.on("error", (err) => gunzip.destroy(err));
      input = raw.pipe(gunzip);
    }
    const lines = createInterface({ input, crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        badLines++;
        report(`${file}:${n}: not a JSON line`);
        continue;
      }
      if (isEventLine(value)) {
        const parsed = parseEventLine(value);
        if ("error" in parsed) {
          badLines++;
          report(`${file}:${n}: ${parsed.error}`);
        } else events.push(parsed.event);
        continue;
      }
      try {
        const batch = decodeLogsJson(value, 0);
        events.push(...batch.events);
        ignored += batch.ignored;
        for (const count of Object.values(batch.rejected)) rejected += count ?? 0;
      } catch (err) {
        badLines++;
        report(`${file}:${n}: ${asSecmonError(err).message}`);
      }
    }
  }
  return { events, ignored, rejected, badLines };
}

/**
 * `secmon-detector replay [--json] files…`: runs recorded telemetry through the rules offline,
 * on event time: events are sorted by time, evaluated in batches with the batch's newest event
 * time as the detector's clock, and deduplicated by the same AlertManager and in-memory stores as
 * the live detector. Prints the resulting alerts (text, or JSON lines with `json`). Exit code: 0,
 * 1 when some lines could not be read, 2 when nothing could be replayed (bad rules or files).
 */
export async function replay(files: readonly string[], opts: ReplayOptions = {}): Promise<ReplaySummary> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const empty = { events: 0, ignored: 0, rejected: 0, badLines: 0, alerts: [] };
  let cfg: RulesConfig;
  let rules;
  try {
    cfg = rulesSectionSchema.parse(opts.rules ?? {});
    rules = loadRules(cfg);
  } catch (err) {
    stderr.write(`${asSecmonError(err).message}\n`);
    return { exitCode: 2, ...empty };
  }
  let read;
  try {
    read = await readEvents(files, (m) => stderr.write(m + "\n"));
  } catch (err) {
    stderr.write(`cannot read input: ${(err as Error).message}\n`);
    return { exitCode: 2, ...empty };
  }
  const events = read.events.map((e, i) => ({ e, i }));
  events.sort((a, b) => a.e.time - b.e.time || a.i - b.i);

  const store = new MemoryWindowStore({ maxGroupsPerRule: cfg.max_groups_per_rule });
  const alertStore = new MemoryAlertStore({ maxAlerts: 1_000_000 });
  let now = 0;
  const manager = new AlertManager({ store: alertStore, clock: () => now, purgeIntervalSeconds: 0 });
  const engine = new Engine({ rules, store, maxClockSkewSeconds: cfg.max_clock_skew_seconds });
  await store.start();
  const size = Math.max(1, opts.batchSize ?? 1000);
  try {
    for (let from = 0, n = 0; from < events.length; from += size, n++) {
      const batch = events.slice(from, from + size).map((x) => x.e);
      now = batch[batch.length - 1]!.time;
      await manager.handle(await engine.evaluate(batch, { batchId: `replay:${n}`, receivedAt: now }));
    }
  } finally {
    await store.stop();
    await manager.stop();
  }

  const alerts: Alert[] = [];
  let cursor: string | undefined;
  do {
    const page = await alertStore.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    alerts.push(...page.alerts);
    cursor = page.nextCursor;
  } while (cursor);
  alerts.reverse();

  if (opts.json) for (const a of alerts) stdout.write(JSON.stringify(a) + "\n");
  else {
    for (const a of alerts) stdout.write(formatAlert(a));
    stdout.write(
      `${events.length} event(s) replayed (${read.ignored} ignored, ${read.rejected} rejected, ${read.badLines} unreadable line(s)) from ${files.length} file(s); ${alerts.length} alert(s)\n`,
    );
  }
  return {
    exitCode: read.badLines > 0 ? 1 : 0,
    events: events.length,
    ignored: read.ignored,
    rejected: read.rejected,
    badLines: read.badLines,
    alerts,
  };
}

/** An alert as a few lines of text. */
export function formatAlert(a: Alert): string {
  const group = Object.entries(a.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const lines = [
    `[${a.severity}] ${a.rule}: ${a.title}`,
    `  group ${group}  value ${a.value ?? "-"}${a.threshold !== undefined ? ` (threshold ${a.threshold}${a.window_seconds !== undefined ? `, window ${a.window_seconds} s` : ""})` : ""}  firings ${a.count}`,
    `  first seen ${a.first_seen}  last seen ${a.last_seen}  services ${a.services.join(", ")}`,
  ];
  for (const r of a.responses)
    lines.push(`  response ${r.action} ${r.target}${r.until ? ` until ${r.until}` : ""}`);
  return lines.join("\n") + "\n";
}
