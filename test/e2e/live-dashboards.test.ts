import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo, type DemoResult } from "../../scripts/demo.ts";
import { REPO_ROOT } from "../deploy/paths.ts";
import { PROMTOOL_BIN, startPrometheus, type RunningPrometheus } from "../deploy/prometheus.ts";
import { extractExpressions, instantQuery, runExpressions } from "../deploy/promql.ts";
import { eventually, freePort, testDetectorConfig } from "./helpers.ts";

/**
 * The observability issue's checks on a live system: the README's demo (detector, instrumented
 * demo service, every attack of the simulator) runs while a real Prometheus scrapes the detector;
 * every panel expression of every dashboard returns data; promtool accepts the endpoint; and the
 * counters on /metrics match what the demo sent.
 */
describe("live dashboards", () => {
  let prometheus: RunningPrometheus;
  let release: () => void = () => {};
  let demo: Promise<DemoResult>;
  let metricsUrl: string;
  let webhook: Server;
  let deliveries = 0;
  const out: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    prometheus = await startPrometheus([`127.0.0.1:${port}`]);
    const until = new Promise<void>((resolve) => (release = resolve));
    // alerts go to a signed webhook here, so the delivery panels have data too
    webhook = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        deliveries++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    process.env.SECMON_E2E_WEBHOOK_SECRET = "e2e-webhook-secret";
    const hook = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    demo = runDemo({
      config: await testDetectorConfig({
        metrics: { prometheus: { endpoint: `127.0.0.1:${port}` } },
        sinks: [{ type: "webhook", name: "siem", url: hook, secret: { env: "SECMON_E2E_WEBHOOK_SECRET" } }],
      }),
      out: (line) => out.push(line),
      until,
    });
    // the demo has attacked and waited for its alerts once the summary is printed
    await eventually(
      async () => (out.some((l) => l.startsWith("events evaluated:")) ? true : undefined),
      60_000,
    );
    // two scrapes after the attacks, so rate() and increase() have samples on both sides
    await eventually(async () => {
      const r = await instantQuery(prometheus.url, "count_over_time(secmon_events_evaluated_total[1m])");
      return r.ok && r.series > 0 && (r.value ?? 0) >= 3 ? true : undefined;
    }, 30_000);
  }, 120_000);

  afterAll(async () => {
    release();
    await demo?.catch(() => undefined);
    await prometheus?.stop();
    await new Promise((resolve) => webhook?.close(resolve));
  });

  it("serves data to every panel of every dashboard", async () => {
    const dir = join(REPO_ROOT, "grafana", "dashboards");
    const expressions = readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .flatMap((f) => extractExpressions(JSON.parse(readFileSync(join(dir, f), "utf8"))));
    expect(expressions.length).toBeGreaterThan(10);
    const failures = await runExpressions(prometheus.url, expressions, {
      rateInterval: "1m",
      interval: "15s",
      range: "5m",
    });
    expect(failures).toEqual([]);
  });

  it("passes promtool check metrics, and its counters match what was sent", async () => {
    const body = await (await fetch(metricsUrl)).text();
    {
      const check = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(PROMTOOL_BIN, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (c: Buffer) => (output += c.toString()));
        child.stderr.on("data", (c: Buffer) => (output += c.toString()));
        child.on("close", (code) => resolve({ code, output }));
        child.stdin.end(body);
      });
      expect(check.output).toBe("");
      expect(check.code).toBe(0);
    }
    const evaluated = await instantQuery(prometheus.url, "sum(secmon_events_evaluated_total)");
    const received = await instantQuery(prometheus.url, "sum(secmon_events_received_total)");
    expect(evaluated.value).toBeGreaterThan(300);
    expect(received.value).toBe(evaluated.value);
    const line = out.find((l) => l.startsWith("events evaluated:"))!;
    expect(Number(line.split(":")[1])).toBe(evaluated.value);
  });

  it("made every attack's alerts fire", async () => {
    release();
    const result = await demo;
    expect(result.missing).toEqual([]);
    expect(deliveries).toBeGreaterThanOrEqual([...result.alertsByRule.values()].flat().length);
    expect(result.runs.filter((r) => r.error)).toEqual([]);
  });
});
