/**
 * Pulls the PromQL expressions out of Grafana dashboards and runs them against a Prometheus.
 * Used with a throw-away Prometheus fed from the metric catalog (grafana.test.ts) and meant for
 * a run against a live detector as well: give it the Prometheus URL and the dashboards.
 */
import type { MetricSpec } from "../../packages/detector/src/metrics/catalog.ts";

export interface PanelExpression {
  readonly dashboard: string;
  readonly panelId: number;
  readonly panelTitle: string;
  readonly refId: string;
  /** The expression as written in the dashboard, Grafana variables included. */
  readonly expr: string;
}

interface PanelLike {
  id?: number;
  title?: string;
  type?: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: PanelLike[];
}

/** Every panel of a dashboard, panels nested in collapsed rows included. */
export function allPanels(dashboard: { panels?: PanelLike[] }): PanelLike[] {
  const out: PanelLike[] = [];
  const walk = (panels: PanelLike[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** Every PromQL target of every panel. */
export function extractExpressions(dashboard: { uid?: string; panels?: PanelLike[] }): PanelExpression[] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => typeof t.expr === "string")
      .map((t) => ({
        dashboard: dashboard.uid ?? "?",
        panelId: p.id ?? -1,
        panelTitle: p.title ?? "",
        refId: t.refId ?? "?",
        expr: t.expr as string,
      })),
  );
}

export interface VariableValues {
  /** Replaces $__rate_interval (Grafana: at least four scrape intervals). */
  readonly rateInterval: string;
  /** Replaces $__interval. */
  readonly interval: string;
  /** Replaces $__range (the dashboard's time range). */
  readonly range: string;
}

/** Replaces Grafana's built-in interval variables so that Prometheus can run the expression. */
export function substituteVariables(expr: string, values: VariableValues): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, values.rateInterval)
    .replace(/\$\{?__interval\}?/g, values.interval)
    .replace(/\$\{?__range\}?/g, values.range);
}

export interface QueryOutcome {
  readonly ok: boolean;
  readonly series: number;
  /** The first sample's value (vector or scalar result), when there is one. */
  readonly value?: number;
  readonly error?: string;
}

/** Runs one instant query through /api/v1/query. */
export async function instantQuery(prometheusUrl: string, expr: string): Promise<QueryOutcome> {
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown[] | [number, string] };
  };
  if (body.status !== "success") return { ok: false, series: 0, error: body.error ?? `HTTP ${res.status}` };
  const result = body.data?.result;
  const scalar = body.data?.resultType === "scalar";
  const series = scalar ? 1 : Array.isArray(result) ? result.length : 0;
  const first = scalar ? result : (result as { value?: [number, string] }[] | undefined)?.[0]?.value;
  const value = Array.isArray(first) && typeof first[1] === "string" ? Number(first[1]) : undefined;
  return value === undefined ? { ok: true, series } : { ok: true, series, value };
}

/**
 * Runs every expression and returns the ones that fail or return nothing, each described as
 * `dashboard/panel "title" refId: expr → problem`. An empty list means every panel has data.
 */
export async function runExpressions(
  prometheusUrl: string,
  expressions: readonly PanelExpression[],
  values: VariableValues,
): Promise<string[]> {
  const failures: string[] = [];
  for (const e of expressions) {
    const expr = substituteVariables(e.expr, values);
    const outcome = await instantQuery(prometheusUrl, expr);
    if (!outcome.ok || outcome.series === 0) {
      failures.push(
        `${e.dashboard}/${e.panelId} "${e.panelTitle}" ${e.refId}: ${expr} → ${outcome.error ?? "no data"}`,
      );
    }
  }
  return failures;
}

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = new Set(["job", "instance"]);
const SUFFIXES: Readonly<Record<MetricSpec["kind"], readonly string[]>> = {
  counter: ["_total"],
  histogram: ["_bucket", "_sum", "_count"],
  gauge: [""],
  updowncounter: [""],
};

/**
 * Checks that an expression uses only metric names (as Prometheus shows them) and label names of
 * the given catalog. Returns the problems; an empty list means the expression is clean.
 */
export function checkCatalogUse(expr: string, catalog: readonly MetricSpec[]): string[] {
  const byExposedName = new Map<string, MetricSpec>();
  for (const m of catalog) for (const s of SUFFIXES[m.kind]) byExposedName.set(`${m.name}${s}`, m);

  const problems: string[] = [];
  const used: MetricSpec[] = [];
  let histogramBuckets = false;
  // Metric names: identifiers not followed by "(" (functions) and not inside quotes or matchers.
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of withoutStrings.matchAll(/\bsecmon_[a-z0-9_]+\b/g)) {
    const spec = byExposedName.get(m[0]);
    if (spec === undefined) problems.push(`unknown metric ${m[0]}`);
    else {
      used.push(spec);
      if (m[0].endsWith("_bucket")) histogramBuckets = true;
    }
  }
  if (used.length === 0) problems.push("uses no catalog metric");
  const allowed = new Set([...used.flatMap((m) => m.labels), ...TARGET_LABELS]);
  if (histogramBuckets) allowed.add("le");

  const labelNames: string[] = [];
  for (const sel of withoutStrings.matchAll(/\{([^}]*)\}/g)) {
    for (const lm of (sel[1] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      labelNames.push(lm[1]!);
  }
  for (const g of withoutStrings.matchAll(
    /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
  )) {
    for (const name of (g[1] ?? "").split(",")) if (name.trim()) labelNames.push(name.trim());
  }
  for (const name of labelNames) {
    if (!allowed.has(name))
      problems.push(`label ${name} is not a label of ${used.map((m) => m.name).join(", ")}`);
  }
  return problems;
}
