import { readFileSync } from "node:fs";
import type { AlertSeverity } from "@secmon/semconv";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.ts";
import { buildSinkRoutes } from "../../src/sinks/build.ts";
import { passes } from "../../src/sinks/sink.ts";
import { change } from "./helpers.ts";

const FILE = new URL("../../../../examples/config/routing.yaml", import.meta.url);
const env = {
  SECMON_PAGERDUTY_ROUTING_KEY: "k".repeat(32),
  SECMON_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/x",
  SECMON_SMTP_USER: "secmon",
  SECMON_SMTP_PASSWORD: "pw",
  SECMON_WEBHOOK_SECRET: "hook-secret",
  SECMON_OTLP_TOKEN: "Bearer t",
};

describe("examples/config/routing.yaml", () => {
  const text = readFileSync(FILE, "utf8");

  it("is a valid detector config whose secrets all resolve", () => {
    const parsed = parseConfigText(text);
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    if (!parsed.ok) return;
    expect(() => buildSinkRoutes(parsed.config.sinks, { env })).not.toThrow();
    // without the variables it fails, naming the first one
    expect(() => buildSinkRoutes(parsed.config.sinks, { env: {} })).toThrow(/SECMON_/);
  });

  it("pages on critical, chats and mails high and medium, forwards everything to the SIEM", () => {
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error("invalid");
    const routes = buildSinkRoutes(parsed.config.sinks, { env });
    const to = (severity: AlertSeverity) =>
      routes.filter((r) => passes(r.filter, change({ severity }))).map((r) => r.sink.type);
    expect(to("critical")).toEqual(["console", "pagerduty", "slack", "email", "webhook", "otlp"]);
    expect(to("high")).toEqual(["console", "slack", "email", "webhook", "otlp"]);
    expect(to("medium")).toEqual(["slack", "email", "webhook", "otlp"]);
    expect(to("low")).toEqual(["webhook", "otlp"]);
    const email = routes.find((r) => r.sink.type === "email");
    expect(email?.batch).toEqual({ windowMs: 60_000, maxItems: 100 });
  });

  it("keeps deliveries in a durable SQLite outbox", () => {
    const result = parseConfigText(text);
    expect(result.ok && result.config.outbox).toEqual({
      type: "sqlite",
      path: "/var/lib/secmon/outbox.db",
      synchronous: "normal",
    });
  });
});
