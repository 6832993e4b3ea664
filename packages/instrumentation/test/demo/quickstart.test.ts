/**
 * The README quickstart is the demo's telemetry.ts, verbatim, and it works: a NodeSDK with the
 * real OTLP/gRPC logs exporter delivers the service's security events to a collector.
 */
import { readFileSync } from "node:fs";
import { ATTR, EVENT } from "@secmon/semconv";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDemoApp, DEMO_USERS, startTelemetry } from "../../../../examples/demo-service/src/index.ts";
import { httpRequest, until } from "../helpers/http.ts";
import { startTestCollector } from "../helpers/otlp-grpc-server.ts";
import type { TestCollector } from "../helpers/otlp-grpc-server.ts";
import { TEST_SECRET } from "../helpers/sdk.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const telemetrySource = readFileSync(
  new URL("../../../../examples/demo-service/src/telemetry.ts", import.meta.url),
  "utf8",
);

/** The first fenced code block after a `<!-- marker -->` comment. */
function blockAfter(marker: string): string {
  const start = readme.indexOf(`<!-- ${marker} -->`);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  const match = /```\w*\n([\s\S]*?)```/.exec(readme.slice(start));
  expect(match, marker).not.toBeNull();
  return match![1]!;
}

describe("README quickstart", () => {
  it("is the demo's telemetry.ts, verbatim, and about ten lines", () => {
    const block = blockAfter("quickstart:telemetry");
    expect(block.trim()).toBe(telemetrySource.trim());
    expect(block.trim().split("\n").length).toBeLessThanOrEqual(15);
  });

  describe("sends real events over OTLP/gRPC", () => {
    let collector: TestCollector;

    beforeAll(async () => {
      collector = await startTestCollector();
      vi.stubEnv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url);
      vi.stubEnv("OTEL_TRACES_EXPORTER", "none");
      vi.stubEnv("OTEL_METRICS_EXPORTER", "none");
      vi.stubEnv("SECMON_HASH_SECRET", TEST_SECRET);
      vi.stubEnv("NODE_ENV", "production");
    });
    afterAll(async () => {
      vi.unstubAllEnvs();
      await collector.close();
    });

    it("delivers auth.login and api.request with the service's resource", async () => {
      const { sdk, security } = startTelemetry("quickstart-test");
      const demo = await createDemoApp({ events: security, scryptCost: 2 ** 10 });
      const server = await demo.listen();
      const alice = DEMO_USERS.find((u) => u.username === "alice")!;
      try {
        for (const password of [alice.password, "wrong password"]) {
          await httpRequest(`${server.url}/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username: "alice", password }),
          });
        }
      } finally {
        await server.close();
      }
      await sdk.shutdown(); // flushes the batch processor
      await until(() => collector.records.length >= 4, "records at the collector");
      const logins = collector.records.filter((r) => r.eventName === EVENT.AUTH_LOGIN);
      expect(logins.map((r) => r.attributes[ATTR.AUTH_OUTCOME]?.value)).toEqual(["success", "failure"]);
      expect(collector.records.filter((r) => r.eventName === EVENT.API_REQUEST)).toHaveLength(2);
      expect(logins[0]!.resource["service.name"]).toEqual({ type: "string_value", value: "quickstart-test" });
      const wire = Buffer.concat(collector.rawRequests);
      expect(wire.includes(Buffer.from(alice.password))).toBe(false);
    });
  });
});
