import { describe, expect, it } from "vitest";
import { loadConfig, parseConfigText, validateConfig } from "../../src/config/load.ts";
import { GENERATED_DOCS } from "../../src/docs.ts";
import { readFileSync } from "node:fs";

/** The problems parseConfigText finds in `text` (none when it accepts it). */
function problemsOf(text: string) {
  const result = parseConfigText(text);
  return result.ok ? [] : result.problems;
}

describe("config", () => {
  it("runs with no configuration at all", () => {
    const config = loadConfig();
    expect(config.ingest.max_in_flight_events).toBe(200_000);
    expect(config.metrics.prometheus.endpoint).toBe("127.0.0.1:9464");
    expect(Object.isFrozen(config.metrics.prometheus)).toBe(true);
  });

  it("rejects an unknown key with its path and line", () => {
    expect(problemsOf("metrics:\n  prometheus:\n    enabled: true\n    endpont: 0.0.0.0:9464\n")).toEqual([
      {
        path: "metrics.prometheus.endpont",
        message: "metrics.prometheus has unknown key: endpont",
        line: 4,
        column: 5,
      },
    ]);
  });

  it("rejects values out of bounds with the value's line", () => {
    expect(problemsOf("ingest:\n  max_in_flight_events: 5\n")[0]).toMatchObject({
      path: "ingest.max_in_flight_events",
      line: 2,
      column: 25,
    });
  });

  it("rejects port 0 for the Prometheus endpoint (the exporter would bind its default 9464)", () => {
    expect(problemsOf("metrics:\n  prometheus:\n    endpoint: 127.0.0.1:0\n")[0]).toMatchObject({
      path: "metrics.prometheus.endpoint",
      message: expect.stringContaining("port 0 is not supported"),
      line: 3,
    });
  });

  it("reports YAML syntax errors with their line", () => {
    expect(problemsOf("ingest:\n  max_in_flight_events: [1\n")[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it("rejects duplicate keys", () => {
    expect(parseConfigText("log:\n  level: info\n  level: debug\n").ok).toBe(false);
  });

  it("rejects what only the start would find: a Redis outbox without Redis state, an open API beyond loopback", () => {
    expect(problemsOf("state:\n  backend: memory\noutbox:\n  type: redis\n")).toEqual([
      {
        path: "outbox.type",
        message: "redis needs state.backend: redis (the outbox uses the state's Redis connection)",
        line: 4,
        column: 9,
      },
    ]);
    expect(problemsOf("api:\n  endpoint: 0.0.0.0:8080\n")).toEqual([
      {
        path: "api.token",
        message: "required when api.endpoint (0.0.0.0:8080) is not a loopback address",
        line: 2,
        column: 3,
      },
    ]);
    expect(problemsOf("api:\n  endpoint: 0.0.0.0:8080\n  token: { env: SECMON_API_TOKEN }\n")).toEqual([]);
    expect(problemsOf("api:\n  enabled: false\n  endpoint: 0.0.0.0:8080\n")).toEqual([]);
    expect(problemsOf("api:\n  endpoint: '[::1]:8080'\n")).toEqual([]);
  });

  it("accepts a config built in code", () => {
    const result = validateConfig({ log: { level: "debug" } });
    expect(result.ok && result.config.log.level).toBe("debug");
  });
});

describe("generated docs", () => {
  for (const [file, render] of Object.entries(GENERATED_DOCS)) {
    it(`${file} matches the code (run \`pnpm docs\` to regenerate)`, () => {
      const path = new URL(`../../../../${file}`, import.meta.url);
      expect(readFileSync(path, "utf8")).toBe(render());
    });
  }
});
