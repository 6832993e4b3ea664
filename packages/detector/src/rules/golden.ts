import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AlertManager } from "../alerts/manager.ts";
import { MemoryAlertStore } from "../alerts/memory-store.ts";
import type { Alert } from "../alerts/types.ts";
import { Engine } from "../engine/engine.ts";
import type { SecurityEvent } from "../event.ts";
import { MemoryWindowStore } from "../state/memory/store.ts";
import type { WindowStore } from "../state/types.ts";
import { applyOverrides, compileRule } from "./compile.ts";
import { ruleOverrideSchema, rulesSectionSchema } from "./config.ts";
import { explainIssues } from "./diagnostics.ts";
import { parseEventLine } from "./event-lines.ts";
import type { LoadedRule } from "./loader.ts";

/**
 * Golden cases (one folder per case, discovered automatically):
 * `<rules dir>/testdata/<rule id>/<case>/events.jsonl` holds events in our JSON-lines form
 * (each line its own batch, unless consecutive lines share a `batch` value), and `expected.yaml`
 * the alerts of that rule once every batch went through the engine and alert deduplication.
 * Only the case's rule runs. Only the fields written in expected.yaml are compared.
 */
export interface GoldenCase {
  readonly rule: string;
  readonly name: string;
  readonly dir: string;
}

const expectedAlertSchema = z.strictObject({
  rule: z.string().optional().describe("Defaults to the case's rule"),
  group: z.record(z.string(), z.string()).optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  window_seconds: z.number().optional(),
  count: z.number().int().optional().describe("Firings merged into the alert"),
  severity: z.string().optional(),
  title: z.string().optional(),
  first_seen: z.string().optional(),
  last_seen: z.string().optional(),
  services: z.array(z.string()).optional(),
  responses: z
    .array(z.strictObject({ action: z.string(), target: z.string(), until: z.string().optional() }))
    .optional(),
  sample_events: z.number().int().optional().describe("How many sample events"),
});

export const expectedSchema = z
  .strictObject({
    description: z.string().optional(),
    none: z.literal(true).optional().describe("No alert at all"),
    alerts: z.array(expectedAlertSchema).optional().describe("Every alert of the rule, in order of creation"),
    config: z
      .strictObject({
        ipv6_group_prefix: z.number().int().min(1).max(128).optional(),
        allowed_lateness_seconds: z.number().int().min(0).optional(),
        max_distinct_per_group: z.number().int().min(10).optional(),
        override: ruleOverrideSchema.optional().describe("Overrides of the case's rule"),
      })
      .optional(),
  })
  .refine((e) => e.none !== undefined || e.alerts !== undefined, {
    message: "expected.yaml needs alerts or none: true",
  });

export type Expected = z.infer<typeof expectedSchema>;

export interface GoldenOutcome {
  readonly case: GoldenCase;
  readonly pass: boolean;
  /** What differs, one line each (empty when the case passes). */
  readonly problems: readonly string[];
  readonly alerts: readonly Alert[];
}

/** Every case folder under `testdata` (`<rule>/<case>/events.jsonl`), sorted. */
export function discoverGoldenCases(testdataDir: string): GoldenCase[] {
  if (!existsSync(testdataDir)) return [];
  const out: GoldenCase[] = [];
  const dirs = (p: string) =>
    readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  for (const rule of dirs(testdataDir)) {
    for (const name of dirs(join(testdataDir, rule))) {
      const dir = join(testdataDir, rule, name);
      if (existsSync(join(dir, "events.jsonl"))) out.push({ rule, name, dir });
    }
  }
  return out;
}

/** Events of a case, in batches. */
export function readCaseEvents(file: string): { batches: SecurityEvent[][]; problems: string[] } {
  const batches: SecurityEvent[][] = [];
  const problems: string[] = [];
  let lastBatch: string | undefined;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        problems.push(`${file}:${i + 1}: not JSON: ${(err as Error).message}`);
        return;
      }
      const parsed = parseEventLine(value);
      if ("error" in parsed) {
        problems.push(`${file}:${i + 1}: ${parsed.error}`);
        return;
      }
      if (parsed.batch !== undefined && parsed.batch === lastBatch && batches.length > 0) {
        batches[batches.length - 1]!.push(parsed.event);
      } else batches.push([parsed.event]);
      lastBatch = parsed.batch;
    });
  return { batches, problems };
}

function readExpected(file: string): { expected?: Expected; problems: string[] } {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    return { problems: [`${file}: ${(err as Error).message}`] };
  }
  const r = expectedSchema.safeParse(value);
  if (!r.success) {
    return {
      problems: explainIssues(r.error.issues, [], value).map(
        (p) => `${file}: ${[...p.path, ...(p.key ? [p.key] : [])].join(".") || "(top)"}: ${p.message}`,
      ),
    };
  }
  return { expected: r.data, problems: [] };
}

export interface GoldenOptions {
  /**
   * The window store of the case (started and stopped by the runner), so that the same cases run
   * against every store; default: a MemoryWindowStore bounded by the case's max_groups_per_rule.
   */
  readonly windowStore?: (c: GoldenCase) => WindowStore;
}

/** Runs one case against its rule (taken from `rules` by the case's folder name). */
export async function runGoldenCase(
  c: GoldenCase,
  rules: readonly LoadedRule[],
  options: GoldenOptions = {},
): Promise<GoldenOutcome> {
  const fail = (problems: string[]): GoldenOutcome => ({ case: c, pass: false, problems, alerts: [] });
  const rule = rules.find((r) => r.spec.id === c.rule);
  if (!rule) return fail([`no rule with id "${c.rule}" is loaded`]);
  const { batches, problems: eventProblems } = readCaseEvents(join(c.dir, "events.jsonl"));
  const { expected, problems: expectedProblems } = readExpected(join(c.dir, "expected.yaml"));
  if (eventProblems.length > 0 || !expected) return fail([...eventProblems, ...expectedProblems]);

  const { override, ...settings } = expected.config ?? {};
  let alerts: Alert[];
  try {
    const cfg = rulesSectionSchema.parse({ ...settings, overrides: override ? { [c.rule]: override } : {} });
    const [compiled] = applyOverrides([rule], cfg.overrides).map((r) =>
      compileRule({ ...r, spec: { ...r.spec, enabled: true } }, cfg),
    );
    const store =
      options.windowStore?.(c) ?? new MemoryWindowStore({ maxGroupsPerRule: cfg.max_groups_per_rule });
    alerts = await replayBatches(batches, compiled!, store);
  } catch (err) {
    return fail([(err as Error).message]);
  }
  const problems = compareAlerts(c.rule, expected, alerts);
  return { case: c, pass: problems.length === 0, problems, alerts };
}

async function replayBatches(
  batches: readonly SecurityEvent[][],
  rule: ReturnType<typeof compileRule>,
  store: WindowStore,
): Promise<Alert[]> {
  const alertStore = new MemoryAlertStore();
  let now = 0;
  const manager = new AlertManager({ store: alertStore, clock: () => now, purgeIntervalSeconds: 0 });
  const engine = new Engine({ rules: [rule], store });
  await store.start();
  try {
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      now = Math.max(now, ...batch.map((e) => e.time));
      const firings = await engine.evaluate(batch, { batchId: `golden:${i}`, receivedAt: now });
      await manager.handle(firings);
    }
  } finally {
    await store.stop();
    await manager.stop();
  }
  const page = await alertStore.list({ limit: 500 });
  return [...page.alerts].reverse();
}

/** The differences between the expected alerts and the actual ones, one line each. */
export function compareAlerts(rule: string, expected: Expected, actual: readonly Alert[]): string[] {
  const want = expected.none ? [] : (expected.alerts ?? []);
  const problems: string[] = [];
  if (want.length !== actual.length) {
    problems.push(`expected ${want.length} alert(s), got ${actual.length}`);
    for (const a of actual) problems.push(`  got: ${summarize(a)}`);
    return problems;
  }
  want.forEach((w, i) => {
    const a = actual[i]!;
    const check = (field: string, wanted: unknown, got: unknown) => {
      if (wanted !== undefined && !isDeepStrictEqual(wanted, got)) {
        problems.push(
          `alerts[${i}].${field}: expected ${JSON.stringify(wanted)}, got ${JSON.stringify(got)}`,
        );
      }
    };
    check("rule", w.rule ?? rule, a.rule);
    check("group", w.group, a.group);
    check("value", w.value, a.value);
    check("threshold", w.threshold, a.threshold);
    check("window_seconds", w.window_seconds, a.window_seconds);
    check("count", w.count, a.count);
    check("severity", w.severity, a.severity);
    check("title", w.title, a.title);
    check("first_seen", w.first_seen && new Date(w.first_seen).toISOString(), a.first_seen);
    check("last_seen", w.last_seen && new Date(w.last_seen).toISOString(), a.last_seen);
    check("services", w.services, a.services);
    check(
      "responses",
      w.responses?.map((r) => ({ ...r, ...(r.until ? { until: new Date(r.until).toISOString() } : {}) })),
      a.responses,
    );
    check("sample_events", w.sample_events, a.sample_events.length);
  });
  return problems;
}

export function summarize(a: Alert): string {
  return `${a.rule} ${JSON.stringify(a.group)} value=${a.value ?? "-"} threshold=${a.threshold ?? "-"} count=${a.count} first_seen=${a.first_seen} last_seen=${a.last_seen}`;
}
