import { Detector, validateConfig } from "@secmon/detector";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simulateCli } from "../src/simulate-cli.ts";

function capture() {
  let text = "";
  return {
    stream: { write: (s: string) => (text += s) },
    get text() {
      return text;
    },
  };
}

/** `secmon-simulate …args`: exit code and output. */
async function run(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await simulateCli(args, {
    stdout: out.stream,
    stderr: err.stream,
    exportTimeoutMillis: 2_000,
  });
  return { code, out: out.text, err: err.text };
}

describe("secmon-simulate against a detector that requires a token", () => {
  let detector: Detector;
  let endpoint: string;

  beforeAll(async () => {
    const parsed = validateConfig({
      receivers: {
        otlp: {
          grpc: { endpoint: "127.0.0.1:0", auth: { bearer_token: { env: "SIM_TEST_TOKEN" } } },
          http: { enabled: false },
        },
      },
      api: { enabled: false },
      metrics: { prometheus: { enabled: false } },
      sinks: [],
      outbox: { type: "memory" },
      log: { level: "warn" },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    detector = new Detector(parsed.config, { env: { SIM_TEST_TOKEN: "s3cret-token" } });
    await detector.start();
    endpoint = `http://${detector.addresses.grpc}`;
  });

  afterAll(async () => {
    await detector?.stop();
  });

  it("sends --otlp-header as gRPC metadata, so the token is accepted", async () => {
    const r = await run([
      "--otlp-endpoint",
      endpoint,
      "--otlp-header",
      "authorization=Bearer s3cret-token",
      "--baseline",
      "1",
    ]);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/OTLP exports: [1-9]\d* delivered, 0 failed\n$/);
    expect(r.code).toBe(0);
  });

  it("counts and reports failed exports and exits 1 when they fail", async () => {
    const r = await run([
      "--otlp-endpoint",
      endpoint,
      "--otlp-header",
      "authorization=Bearer wrong",
      "--baseline",
      "1",
    ]);
    expect(r.out).toMatch(
      /0 failed, \d+ request\(s\); OTLP exports: 0 delivered, [1-9]\d* failed \(last error: .+\)\n$/,
    );
    expect(r.err).toMatch(
      /^secmon-simulate: [1-9]\d* OTLP export\(s\) to http:\/\/127\.0\.0\.1:\d+ failed; their events are lost\n$/,
    );
    expect(r.code).toBe(1);
  });
});

describe("secmon-simulate with several --otlp-endpoint", () => {
  const detectors: Detector[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      // each detector alone (its own memory state): what it sees is what it was sent
      const parsed = validateConfig({
        receivers: { otlp: { grpc: { endpoint: "127.0.0.1:0" }, http: { enabled: false } } },
        api: { endpoint: "127.0.0.1:0" },
        metrics: { prometheus: { enabled: false } },
        sinks: [],
        outbox: { type: "memory" },
        log: { level: "warn" },
      });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const detector = new Detector(parsed.config);
      await detector.start();
      detectors.push(detector);
    }
  });

  afterAll(async () => {
    for (const d of detectors) await d.stop();
  });

  it("spreads each kind of event evenly: each detector sees 6 of the brute force's 12 failed sign-ins", async () => {
    const r = await run([
      ...detectors.flatMap((d) => ["--otlp-endpoint", `http://${d.addresses.grpc}`]),
      "--brute-force",
    ]);
    expect(r.code, r.out + r.err).toBe(0);
    for (const d of detectors) {
      const res = await fetch(`${d.addresses.api}/api/alerts`);
      const { alerts } = (await res.json()) as { alerts: { rule: string; value: number }[] };
      // account_brute_force fires above 5 failures, brute_force at 10: 6 each, not 12 and 0
      expect(alerts.map((a) => [a.rule, a.value])).toEqual([["account_brute_force", 6]]);
    }
  });
});

describe("secmon-simulate usage", () => {
  it("answers an unknown flag or a flag without its value with usage and exit code 2", async () => {
    for (const args of [["--brute"], ["--otlp-endpoint"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/^secmon-simulate: .*'--(brute|otlp-endpoint)/);
      expect(r.err).toContain("Usage:");
    }
  });

  it("rejects an --otlp-header without KEY=VALUE", async () => {
    const r = await run([
      "--otlp-endpoint",
      "http://127.0.0.1:1",
      "--otlp-header",
      "authorization",
      "--baseline",
      "1",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("secmon-simulate: --otlp-header authorization: expected KEY=VALUE\n");
  });
});
