import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { AlertManager } from "../alerts/manager.ts";
import { MemoryAlertStore } from "../alerts/memory-store.ts";
import type { Alert } from "../alerts/types.ts";
import { Engine } from "../engine/engine.ts";
import { asSecmonError, SecmonError } from "../errors.ts";
import type { RejectReason, SecurityEvent } from "../event.ts";
import { decodeLogsJson } from "../receiver/decode-json.ts";
import { LIMITS } from "../receiver/normalize.ts";
import { loadRules } from "../rules/compile.ts";
import type { RulesConfig } from "../rules/config.ts";
import { rulesSectionSchema } from "../rules/config.ts";
import { isEventLine, parseEventLine } from "../rules/event-lines.ts";
import { MemoryWindowStore } from "../state/memory/store.ts";
import { cannotRead, ioProblem, type CliStreams } from "./io.ts";

export interface ReplayOptions extends CliStreams {
  /** Print one alert per line as JSON instead of text. */
  readonly json?: boolean;
  /** Which rules run and how (default: the default pack, default settings). */
  readonly rules?: Partial<RulesConfig>;
  /** Events per evaluated batch (after sorting by event time). */
  readonly batchSize?: number;
  /** Longest line read, in bytes; longer lines are skipped and reported (default 256 MiB). */
  readonly maxLineBytes?: number;
}

/**
 * Why a record was not replayed: the decoder's reasons, and `missing_timestamp` for an OTLP
 * record without any time (the live detector uses the arrival time; a replay cannot place it).
 */
export type ReplayRejectReason = RejectReason | "missing_timestamp";

export interface ReplaySummary {
  readonly exitCode: number;
  readonly events: number;
  readonly ignored: number;
  readonly rejected: number;
  /** `rejected` by reason. */
  readonly rejectedBy: Readonly<Partial<Record<ReplayRejectReason, number>>>;
  /** Lines that were neither OTLP/JSON nor our event lines (or could not be read). */
  readonly badLines: number;
  readonly alerts: readonly Alert[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const MiB = 1024 * 1024;
/** The largest OTLP request a receiver can be configured to accept. */
const DEFAULT_MAX_LINE_BYTES = 256 * MiB;

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
 * The lines of a byte stream, split on `\n` (a trailing `\r` dropped). A line longer than
 * `maxBytes` is yielded as `undefined` without being held in memory.
 */
async function* splitLines(
  input: AsyncIterable<Buffer>,
  maxBytes: number,
): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  const text = () => {
    const line = Buffer.concat(parts, size).toString("utf8");
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  };
  const append = (piece: Buffer) => {
    if (tooLong) return;
    if (size + piece.length > maxBytes) {
      tooLong = true;
      parts = [];
      size = 0;
    } else if (piece.length > 0) {
      parts.push(piece);
      size += piece.length;
    }
  };
  for await (const chunk of input) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      append(chunk.subarray(start, nl));
      start = nl + 1;
      yield tooLong ? undefined : text();
      parts = [];
      size = 0;
      tooLong = false;
    }
    append(chunk.subarray(start));
  }
  if (tooLong) yield undefined;
  else if (size > 0) yield text();
}

interface ReadResult {
  events: SecurityEvent[];
  ignored: number;
  rejectedBy: Partial<Record<ReplayRejectReason, number>>;
  badLines: number;
}

const describeValue = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`);

/**
 * Reads recorded telemetry: per line, either an OTLP/JSON ExportLogsServiceRequest (the
 * Collector `file` exporter's format) or one of our event lines; gzip files are unpacked. Every
 * line or record that cannot be replayed is reported as `file:line: why` and counted.
 */
async function readEvents(
  files: readonly string[],
  maxLineBytes: number,
  report: (message: string) => void,
): Promise<ReadResult> {
  const out: ReadResult = { events: [], ignored: 0, rejectedBy: {}, badLines: 0 };
  const reject = (reason: ReplayRejectReason, count = 1) => {
    out.rejectedBy[reason] = (out.rejectedBy[reason] ?? 0) + count;
  };
  /** Replay runs on event time: an event it cannot place is rejected. */
  const accept = (event: SecurityEvent, where: string) => {
    if (Number.isNaN(event.time)) {
      reject("missing_timestamp");
      report(
        `${where}: ${event.name} record rejected: it has no timestamp (neither timeUnixNano nor observedTimeUnixNano), and replay places events on event time`,
      );
    } else if (!(event.time > 0 && event.time < LIMITS.maxTimeMs)) {
      reject("invalid_timestamp");
      report(
        `${where}: ${event.name} event rejected: time ${new Date(event.time).toISOString()} is not after 1970-01-01T00:00:00Z and before ${new Date(LIMITS.maxTimeMs).toISOString()}`,
      );
    } else out.events.push(event);
  };
  for (const file of files) {
    let n = 0;
    try {
      const gzip = isGzip(file);
      const raw = createReadStream(file);
      let input: AsyncIterable<Buffer> = raw;
      if (gzip) {
        const gunzip = createGunzip();
        raw.on("error", (err) => gunzip.destroy(err));
        input = raw.pipe(gunzip);
      }
      for await (const line of splitLines(input, maxLineBytes)) {
        n++;
        const where = `${file}:${n}`;
        if (line === undefined) {
          out.badLines++;
          report(`${where}: line longer than ${maxLineBytes} bytes, skipped`);
          continue;
        }
        if (line.trim() === "") continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          out.badLines++;
          report(`${where}: not a JSON line`);
          continue;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          out.badLines++;
          report(
            `${where}: ${describeValue(value)}, not an OTLP/JSON ExportLogsServiceRequest or an event line (JSON objects)`,
          );
          continue;
        }
        if (isEventLine(value)) {
          const parsed = parseEventLine(value);
          if ("error" in parsed) {
            out.badLines++;
            report(`${where}: ${parsed.error}`);
          } else accept(parsed.event, where);
          continue;
        }
        let batch;
        try {
          // No arrival time: a record without a timestamp decodes with time NaN.
          batch = decodeLogsJson(value, NaN);
        } catch (err) {
          out.badLines++;
          const problem = err instanceof SecmonError ? err.message : `cannot decode: ${String(err)}`;
          report(`${where}: ${problem}`);
          continue;
        }
        for (const event of batch.events) accept(event, where);
        out.ignored += batch.ignored;
        let rejected = 0;
        for (const [reason, count] of Object.entries(batch.rejected)) {
          reject(reason as RejectReason, count);
          rejected += count;
        }
        if (rejected > 0) {
          report(`${where}: ${rejected} record(s) rejected; the first: ${batch.rejectMessage ?? "?"}`);
        }
      }
    } catch (err) {
      out.badLines++;
      report(`${file}:${n + 1}: cannot read further: ${ioProblem(err)}`);
    }
  }
  return out;
}

/**
 * `secmon-detector replay [--json] files…`: runs recorded telemetry through the rules offline,
 * on event time: events are sorted by time, evaluated in batches with the batch's newest event
 * time as the detector's clock, and deduplicated by the same AlertManager and in-memory stores as
 * the live detector. Prints the resulting alerts (text, or JSON lines with `json`). Exit code: 0,
 * 1 when some lines or records could not be replayed (each reported on stderr as `file:line: why`),
 * 2 when nothing could be replayed (bad rules, or a file that cannot be opened).
 */
export async function replay(files: readonly string[], opts: ReplayOptions = {}): Promise<ReplaySummary> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const empty = { events: 0, ignored: 0, rejected: 0, rejectedBy: {}, badLines: 0, alerts: [] };
  let cfg: RulesConfig;
  let rules;
  try {
    cfg = rulesSectionSchema.parse(opts.rules ?? {});
    rules = loadRules(cfg);
  } catch (err) {
    stderr.write(`${asSecmonError(err).message}\n`);
    return { exitCode: 2, ...empty };
  }
  let unopened = 0;
  for (const file of files) {
    try {
      isGzip(file);
    } catch (err) {
      unopened++;
      stderr.write(cannotRead(file, err));
    }
  }
  if (unopened > 0) return { exitCode: 2, ...empty };
  const read = await readEvents(files, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, (m) =>
    stderr.write(m + "\n"),
  );
  const rejected = Object.values(read.rejectedBy).reduce((a, b) => a + b, 0);
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
    const why = Object.entries(read.rejectedBy)
      .map(([reason, count]) => `${reason} ${count}`)
      .join(", ");
    stdout.write(
      `${events.length} event(s) replayed (${read.ignored} ignored, ${rejected} rejected${why ? `: ${why};` : ","} ${read.badLines} unreadable line(s)) from ${files.length} file(s); ${alerts.length} alert(s)\n`,
    );
  }
  return {
    exitCode: read.badLines > 0 || rejected > 0 ? 1 : 0,
    events: events.length,
    ignored: read.ignored,
    rejected,
    rejectedBy: read.rejectedBy,
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
