import { ALERT_LOG_EVENT_NAME } from "@secmon/semconv";
import { afterEach, describe, expect, it } from "vitest";
import { loadRules } from "../../src/rules/compile.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { OtlpSink, ruleInfoFromRules, SECURITY_RULE } from "../../src/sinks/otlp.ts";
import { change, fakeTime, patched } from "./helpers.ts";
import { startReceiver } from "./receiver.ts";

interface JsonAttr {
  key: string;
  value: Record<string, unknown>;
}

function attrs(list: JsonAttr[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list) {
    const v = a.value;
    out[a.key] =
      v["stringValue"] ??
      v["intValue"] ??
      v["doubleValue"] ??
      v["boolValue"] ??
      (v["arrayValue"] as { values?: { stringValue: string }[] } | undefined)?.values?.map(
        (x) => x.stringValue,
      ) ??
      [];
  }
  return out;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(respond?: Parameters<typeof startReceiver>[0]) {
  const receiver = await startReceiver(respond);
  const time = fakeTime();
  const rules = loadRules({});
  const dispatcher = createSinkDispatcher(
    sinksSectionSchema.parse([
      {
        type: "otlp",
        name: "siem",
        endpoint: receiver.url.replace("/hook", "/v1/logs"),
        protocol: "http/json",
        headers: { authorization: { env: "OTLP_AUTH" } },
        rule_reference_url: "https://secmon.example.com/docs/rules#{rule}",
      },
    ]),
    {
      env: { OTLP_AUTH: "Bearer collector-token" },
      clock: time.clock,
      sleep: time.sleep,
      random: () => 1,
      ruleInfo: ruleInfoFromRules(rules, "https://secmon.example.com/docs/rules#{rule}"),
      apiBaseUrl: "https://secmon.example.com",
    },
  );
  await dispatcher.start();
  cleanups.push(
    () => receiver.close(),
    () => dispatcher.stop(),
  );
  return { receiver, dispatcher, time };
}

describe("otlp sink", () => {
  it("exports each alert change as a secmon.alert log record with the alert flattened and security_rule.*", async () => {
    const { receiver, dispatcher } = await setup();
    const created = change({ value: 14, threshold: 10 });
    const later = new Date(Date.parse(created.alert.updated_at) + 1).toISOString();
    const updated = { type: "alert.updated" as const, alert: { ...created.alert, updated_at: later } };
    const resolved = patched(created.alert, { status: "resolved" });
    dispatcher.dispatch([created, updated, resolved]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(3);
    const first = receiver.received[0]!;
    expect(first.url).toBe("/v1/logs");
    expect(first.headers["authorization"]).toBe("Bearer collector-token");
    const body = JSON.parse(first.body);
    const rl = body.resourceLogs[0];
    expect(attrs(rl.resource.attributes)["service.name"]).toBe("secmon-detector");
    const record = rl.scopeLogs[0].logRecords[0];
    expect(record.eventName).toBe(ALERT_LOG_EVENT_NAME);
    expect(record.severityText).toBe("HIGH");
    expect(record.body.stringValue).toBe(`HIGH new alert from rule brute_force: ${created.alert.title}`);
    const a = attrs(record.attributes);
    expect(a).toMatchObject({
      "secmon.alert.id": created.alert.id,
      "secmon.alert.change": "alert.created",
      "secmon.alert.rule": "brute_force",
      "secmon.alert.severity": "high",
      "secmon.alert.status": "new",
      "secmon.alert.group.client.address": "203.0.113.7",
      "secmon.alert.value": 14,
      "secmon.alert.services": ["checkout"],
      "secmon.alert.url": `https://secmon.example.com/api/alerts/${created.alert.id}`,
      [SECURITY_RULE.NAME]: "brute_force",
      [SECURITY_RULE.UUID]: "brute_force",
      [SECURITY_RULE.RULESET_NAME]: "authentication",
      [SECURITY_RULE.REFERENCE]: "https://secmon.example.com/docs/rules#brute_force",
    });
    expect(String(a[SECURITY_RULE.DESCRIPTION])).not.toBe("");
    expect(a[SECURITY_RULE.CATEGORY]).toBeDefined();
    const last = attrs(
      JSON.parse(receiver.received[2]!.body).resourceLogs[0].scopeLogs[0].logRecords[0].attributes,
    );
    expect(last).toMatchObject({
      "secmon.alert.change": "alert.status_changed",
      "secmon.alert.status": "resolved",
    });
  });

  it("observes the export result: a 500 is retried through the outbox, a 400 becomes a dead letter", async () => {
    const { receiver, dispatcher, time } = await setup((n, r, res) => {
      if (r.body.includes("api_scanning")) return res.writeHead(400).end();
      res.writeHead(n === 0 ? 500 : 200, { "content-type": "application/json" }).end("{}");
    });
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(2);
    expect(time.sleeps).toEqual([1000]);
    dispatcher.dispatch([change({ rule: "api_scanning" })]);
    await dispatcher.whenIdle();
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toMatchObject([
      { reason: "final_status", status: 400, alert: { rule: "api_scanning" } },
    ]);
  });

  it("a Collector that cannot be reached is a retryable failure; close is idempotent", async () => {
    const sink = new OtlpSink({
      name: "x",
      endpoint: "http://127.0.0.1:9/v1/logs",
      protocol: "http/protobuf",
      timeoutMs: 500,
    });
    const c = change();
    const result = await sink.send(
      { id: "dlv_1", sink: "x", type: c.type, alert: c.alert, enqueuedAt: 0 },
      new AbortController().signal,
    );
    expect(result).toMatchObject({ ok: false, retryable: true });
    await sink.close();
    await sink.close();
  });
});
