import pino from "pino";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import { Detector } from "../../src/main.ts";
import { makeCerts } from "../receiver/sdk.ts";
import { capture } from "./helpers.ts";

describe("the startup line", () => {
  it("shows https:// for an OTLP/HTTP receiver with TLS", async () => {
    const certs = makeCerts();
    const parsed = validateConfig({
      receivers: {
        otlp: {
          grpc: { enabled: false },
          http: { endpoint: "127.0.0.1:0", tls: { cert_file: certs.serverCert, key_file: certs.serverKey } },
        },
      },
      api: { enabled: false },
      metrics: { prometheus: { enabled: false } },
      sinks: [],
      outbox: { type: "memory" },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const log = capture();
    const detector = new Detector(parsed.config, { logger: pino({ level: "info" }, log.stream) });
    await detector.start();
    try {
      expect(detector.addresses.http).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const started = log.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; http?: string })
        .find((l) => l.msg === "detector started");
      expect(started?.http).toBe(detector.addresses.http);
    } finally {
      await detector.stop();
    }
  });
});
