import { Detector, validateConfig } from "@secmon/detector";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, testDetectorConfig } from "./helpers.ts";

/** The detector pushes its metrics over OTLP/HTTP when `metrics.otlp` is set (to a Collector). */
describe("OTLP metrics push", () => {
  let server: Server;
  const posts: { path: string; type: string; body: Buffer }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        posts.push({
          path: req.url ?? "",
          type: req.headers["content-type"] ?? "",
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("exports the catalog's metrics to the configured endpoint, and flushes on stop", async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
    const parsed = validateConfig(
      await testDetectorConfig({
        metrics: { prometheus: { enabled: false }, otlp: { endpoint: url, interval_seconds: 1 } },
      }),
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const detector = new Detector(parsed.config);
    await detector.start();
    await eventually(async () => (posts.length > 0 ? true : undefined), 10_000, "a metrics export");
    await detector.stop();
    const first = posts[0]!;
    expect(first.path).toBe("/v1/metrics");
    const text = first.body.toString("latin1");
    // names travel as strings in both the JSON and the protobuf encoding
    expect(text).toContain("secmon_events_rejected");
    expect(text).toContain("secmon-detector");
  });
});
