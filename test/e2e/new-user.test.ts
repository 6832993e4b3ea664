import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { JsonLogsSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import { createDemoApp, type DemoServer } from "@secmon/demo-service";
import { Detector, replay, validateConfig, type Alert } from "@secmon/detector";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, testDetectorConfig } from "./helpers.ts";

/**
 * The detector-core issue's "how we will know", as a new user does it: a detector with no
 * configuration of its own, a burst of failed sign-ins through the instrumented example service,
 * exactly one brute_force alert with the right group, value and window; the same events replayed
 * from a Collector file-exporter file give the same alert; the alert is resolved through the API.
 */
describe("a new user's first attack", () => {
  let detector: Detector;
  let provider: LoggerProvider;
  let server: DemoServer;
  const recorded = new InMemoryLogRecordExporter();
  const dir = mkdtempSync(join(tmpdir(), "secmon-e2e-"));

  beforeAll(async () => {
    const parsed = validateConfig(await testDetectorConfig());
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    detector = new Detector(parsed.config);
    await detector.start();
    provider = new LoggerProvider({
      resource: resourceFromAttributes({ "service.name": "shop" }),
      processors: [
        // exports only on forceFlush: the burst reaches the detector as one request
        new BatchLogRecordProcessor({
          exporter: new OTLPLogExporter({ url: `http://${detector.addresses.grpc}` }),
          scheduledDelayMillis: 3_600_000,
        }),
        new SimpleLogRecordProcessor({ exporter: recorded }),
      ],
    });
    const demo = await createDemoApp({
      loggerProvider: provider,
      hashSecret: "e2e-hash-secret-0123456789abcdef",
      environment: "test",
      trustProxy: "loopback",
      lockThreshold: 100,
      scryptCost: 1024,
    });
    server = await demo.listen(0, "127.0.0.1");
  });

  afterAll(async () => {
    await server?.close();
    await provider?.shutdown();
    await detector?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sees exactly one brute_force alert, replays it, and resolves it", async () => {
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${server.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.7" },
        body: JSON.stringify({ username: "alice", password: `wrong-${i}` }),
      });
      expect(res.status).toBe(401);
    }
    await provider.forceFlush();

    const api = detector.addresses.api!;
    const alerts = await eventually(async () => {
      const page = (await (await fetch(`${api}/api/alerts?rule=brute_force`)).json()) as { alerts: Alert[] };
      return page.alerts.length > 0 ? page.alerts : undefined;
    });
    expect(alerts).toHaveLength(1);
    const alert = alerts[0]!;
    expect(alert).toMatchObject({
      rule: "brute_force",
      severity: "high",
      status: "new",
      group: { "client.address": "203.0.113.7" },
      value: 12,
      threshold: 10,
      window_seconds: 300,
      services: ["shop"],
    });
    expect(JSON.stringify(alert)).not.toContain("wrong-");
    // the events of its group (12 sign-ins and their 12 requests), kept since the alert was raised
    const events = (await (await fetch(`${api}/api/alerts/${alert.id}/events`)).json()) as {
      events: { event_name: string; attributes: Record<string, unknown> }[];
    };
    const names = events.events.map((e) => e.event_name);
    expect(names.filter((n) => n === "auth.login")).toHaveLength(12);
    expect(names.filter((n) => n === "api.request")).toHaveLength(12);
    for (const e of events.events) expect(e.attributes["client.address"]).toBe("203.0.113.7");
    expect(JSON.stringify(events)).not.toContain("wrong-");

    // The same events, as the Collector's file exporter writes them (OTLP/JSON, one request a line).
    const file = join(dir, "logs.jsonl");
    const line = Buffer.from(
      JsonLogsSerializer.serializeRequest(recorded.getFinishedLogRecords())!,
    ).toString();
    writeFileSync(file, line + "\n");
    let out = "";
    const summary = await replay([file], { json: true, stdout: { write: (t: string) => (out += t) } });
    expect(summary.exitCode).toBe(0);
    const replayed = summary.alerts.filter((a) => a.rule === "brute_force");
    expect(replayed).toHaveLength(1);
    expect(replayed[0]).toMatchObject({
      group: alert.group,
      value: alert.value,
      threshold: alert.threshold,
      window_seconds: alert.window_seconds,
      first_seen: alert.first_seen,
      last_seen: alert.last_seen,
    });
    expect(out).toContain('"rule":"brute_force"');

    const res = await fetch(`${api}/api/alerts/${alert.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        status: "resolved",
        resolution: { note: "address blocked at the edge", by: "e2e" },
      }),
    });
    expect(res.status).toBe(200);
    const resolved = (await (await fetch(`${api}/api/alerts/${alert.id}`)).json()) as Alert;
    expect(resolved.status).toBe("resolved");
    expect(resolved.resolution).toMatchObject({ by: "e2e", note: "address blocked at the edge" });
  });
});
