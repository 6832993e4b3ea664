import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import { Telemetry } from "../../src/telemetry.ts";

describe("Telemetry", () => {
  it("serves the catalog on /metrics, and stops idempotently", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const parsed = validateConfig({ metrics: { prometheus: { endpoint: `127.0.0.1:${port}` } } });
    if (!parsed.ok) throw new Error("config");
    const t = new Telemetry(parsed.config.metrics);
    await t.start();
    t.metrics.eventsIgnored.add(2);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain("secmon_events_ignored_total 2");
    await t.stop();
    await t.stop();
  });

  it("explains a taken endpoint as the config problem it is", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const endpoint = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    const parsed = validateConfig({ metrics: { prometheus: { endpoint } } });
    if (!parsed.ok) throw new Error("config");
    const t = new Telemetry(parsed.config.metrics);
    await expect(t.start()).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(
        `metrics.prometheus.endpoint ${endpoint}: cannot listen (the address is already in use)`,
      ),
    });
    await t.stop();
    await new Promise((r) => taken.close(r));
  });
});
