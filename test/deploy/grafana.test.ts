import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { METRIC_CATALOG } from "../../packages/detector/src/metrics/catalog.ts";
import { dashboardMetrics, PROPOSED_METRICS, serveMetrics, type MetricsServer } from "./metrics.ts";
import { REPO_ROOT, type Tree } from "./paths.ts";
import { promtool, startPrometheus, type RunningPrometheus } from "./prometheus.ts";
import { allPanels, checkCatalogUse, extractExpressions, instantQuery, runExpressions } from "./promql.ts";

const DASHBOARD_DIR = join(REPO_ROOT, "grafana", "dashboards");
const dashboardFiles = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith(".json"));
const dashboards: Tree[] = dashboardFiles.map((f) =>
  JSON.parse(readFileSync(join(DASHBOARD_DIR, f), "utf8")),
);
const expressions = dashboards.flatMap((d) => extractExpressions(d));
const metrics = dashboardMetrics();

describe("Grafana provisioning", () => {
  it("provisions the Prometheus datasource and the dashboards folder", () => {
    const ds = parse(
      readFileSync(join(REPO_ROOT, "grafana/provisioning/datasources/prometheus.yaml"), "utf8"),
    );
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toEqual([
      expect.objectContaining({ type: "prometheus", url: "http://prometheus:9090", isDefault: true }),
    ]);
    const prov = parse(readFileSync(join(REPO_ROOT, "grafana/provisioning/dashboards/secmon.yaml"), "utf8"));
    expect(prov.providers).toEqual([
      expect.objectContaining({
        type: "file",
        options: expect.objectContaining({ path: "/var/lib/grafana/dashboards/secmon" }),
      }),
    ]);
  });

  it("ships the two dashboards with stable uids", () => {
    expect(dashboards.map((d) => [d.uid, d.title]).sort()).toEqual([
      ["secmon-detector-health", "Detector health"],
      ["secmon-security-overview", "Security overview"],
    ]);
  });
});

describe.each(dashboards.map((d) => [d.title as string, d]))("dashboard %s", (_title, dashboard: Tree) => {
  const panels: Tree[] = allPanels(dashboard);

  it("has a prometheus datasource variable and unique panel ids", () => {
    expect(dashboard.templating.list).toEqual([
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    ]);
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("uses ${datasource} in every panel and every query", () => {
    for (const p of panels.filter((p) => p.type !== "row")) {
      expect(p.datasource, `panel ${p.id}`).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const t of p.targets ?? []) expect(t.datasource, `panel ${p.id} ${t.refId}`).toEqual(p.datasource);
    }
  });

  it("gives every data panel a title, a description, a unit and queries with unique refIds", () => {
    for (const p of panels.filter((p) => p.type !== "row" && p.type !== "text")) {
      expect(p.title, `panel ${p.id}`).toBeTruthy();
      expect(p.description, `panel ${p.id}`).toBeTruthy();
      expect(p.fieldConfig?.defaults?.unit, `panel ${p.id}`).toBeTruthy();
      expect(p.targets.length, `panel ${p.id}`).toBeGreaterThan(0);
      const refIds = p.targets.map((t: Tree) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it("keeps panels inside the 24-column grid without overlaps", () => {
    const cells = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, `panel ${p.id}`).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `panel ${p.id} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });
});

describe("dashboard queries", () => {
  it("use only metrics and labels of the catalog (plus the proposed auth metric)", () => {
    expect(expressions.length).toBeGreaterThan(20);
    const problems = expressions.flatMap((e) =>
      checkCatalogUse(e.expr, metrics).map((p) => `${e.panelTitle}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it("catch a metric or label outside the catalog", () => {
    expect(checkCatalogUse("sum by (client_address) (rate(secmon_alerts_total[5m]))", metrics)).toEqual([
      "label client_address is not a label of secmon_alerts",
    ]);
    expect(checkCatalogUse("rate(secmon_alerts_created_total[5m])", metrics)).toEqual([
      "unknown metric secmon_alerts_created_total",
      "uses no catalog metric",
    ]);
    expect(checkCatalogUse('secmon_rule_evaluation_seconds_bucket{le="1"}', metrics)).toEqual([]);
    expect(checkCatalogUse('secmon_rule_evaluation_seconds_count{le="1"}', metrics)).toEqual([
      "label le is not a label of secmon_rule_evaluation_seconds",
    ]);
  });

  it("cover every family of the detector health catalog", () => {
    const used = new Set(
      expressions.flatMap((e) => [...e.expr.matchAll(/\bsecmon_[a-z0-9_]+/g)].map((m) => m[0])),
    );
    const unused = Object.values(METRIC_CATALOG)
      .map((m) => m.name)
      .filter((name) => ![...used].some((u) => u.startsWith(name)));
    expect(unused).toEqual([]);
  });

  it("keep the auth outcome proposal consistent with the catalog once it lands there", () => {
    const inCatalog = Object.values(METRIC_CATALOG).find(
      (m) => m.name === PROPOSED_METRICS.authAttempts!.name,
    );
    if (inCatalog !== undefined) {
      expect([...inCatalog.labels]).toEqual(expect.arrayContaining(["outcome"]));
    }
    expect(metrics.filter((m) => m.name === "secmon_auth_attempts")).toHaveLength(1);
  });
});

describe("every dashboard query runs on a real Prometheus and returns data", () => {
  let server: MetricsServer | undefined;
  let prometheus: RunningPrometheus | undefined;

  beforeAll(async () => {
    server = await serveMetrics(metrics);
    prometheus = await startPrometheus([server.target]);
    // Bounded wait for enough scrapes (1 s apart) that rates over 10 s have data.
    const deadline = Date.now() + 40_000;
    for (;;) {
      const probe = await instantQuery(
        prometheus.url,
        "count_over_time(secmon_events_ignored_total[30s]) >= 4",
      );
      if (probe.ok && probe.series > 0) break;
      if (Date.now() > deadline)
        throw new Error(`Prometheus did not scrape in time (${server.scrapes()} scrapes)`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await prometheus?.stop(); // stop is idempotent
    await server?.close();
  });

  it("parses and evaluates every panel expression with a non-empty result", async () => {
    const failures = await runExpressions(prometheus!.url, expressions, {
      rateInterval: "10s",
      interval: "5s",
      range: "30s",
    });
    expect(failures).toEqual([]);
  });

  it("reports a broken or empty expression", async () => {
    const broken = [
      {
        dashboard: "t",
        panelId: 1,
        panelTitle: "syntax",
        refId: "A",
        expr: "sum(rate(secmon_alerts_total[$__rate_interval])",
      },
      {
        dashboard: "t",
        panelId: 2,
        panelTitle: "empty",
        refId: "A",
        expr: 'secmon_alerts_open{severity="none"}',
      },
    ];
    const failures = await runExpressions(prometheus!.url, broken, {
      rateInterval: "10s",
      interval: "5s",
      range: "30s",
    });
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(/^t\/1 "syntax" A: .* → .*parse error/);
    expect(failures[1]).toMatch(/^t\/2 "empty" A: .* → no data$/);
  });
});

describe("Prometheus config for compose", () => {
  it("passes promtool check config", async () => {
    const result = await promtool(["check", "config", join(REPO_ROOT, "deploy/prometheus/prometheus.yml")]);
    expect(result.output).toContain("SUCCESS");
    expect(result.ok).toBe(true);
  });
});
