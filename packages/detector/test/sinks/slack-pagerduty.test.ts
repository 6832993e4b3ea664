import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { afterEach, describe, expect, it } from "vitest";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { sinksSectionSchema } from "../../src/sinks/config.ts";
import { pagerDutyEvent } from "../../src/sinks/pagerduty.ts";
import { slackMessage } from "../../src/sinks/slack.ts";
import { change, fakeTime, patched } from "./helpers.ts";
import { startReceiver } from "./receiver.ts";

function schema(file: string): ValidateFunction {
  const json = JSON.parse(readFileSync(new URL(`./schemas/${file}`, import.meta.url), "utf8")) as object;
  return new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(json);
}
const validSlack = schema("slack-incoming-webhook.schema.json");
const validPagerDuty = schema("pagerduty-events-v2.schema.json");

function expectValid(validate: ValidateFunction, body: unknown): void {
  const ok = validate(body);
  expect(ok ? [] : validate.errors).toEqual([]);
}

const ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32";
const SLACK_PATH = "/services/T000/B000/XXXXXXXX";
const API = "https://secmon.example.com";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  config: unknown[] | ((url: string) => unknown[]),
  respond?: Parameters<typeof startReceiver>[0],
) {
  const receiver = await startReceiver(respond);
  const time = fakeTime();
  const env = { SLACK_URL: receiver.url.replace("/hook", SLACK_PATH), PD_KEY: ROUTING_KEY };
  const sinks = typeof config === "function" ? config(receiver.url.replace("/hook", "/v2/enqueue")) : config;
  const dispatcher = createSinkDispatcher(sinksSectionSchema.parse(sinks), {
    env,
    clock: time.clock,
    sleep: time.sleep,
    random: () => 1,
    apiBaseUrl: API,
  });
  await dispatcher.start();
  cleanups.push(
    () => receiver.close(),
    () => dispatcher.stop(),
  );
  return { receiver, dispatcher, time };
}

describe("slack sink", () => {
  it("posts a Block Kit message with a text fallback that validates against Slack's schema", async () => {
    const { receiver, dispatcher } = await setup([
      { type: "slack", name: "chat", webhook_url: { env: "SLACK_URL" }, min_severity: "medium" },
    ]);
    const created = change({ severity: "high", value: 12, threshold: 10 });
    const resolved = patched(created.alert, {
      status: "resolved",
      resolution: { note: "blocked <at> the edge & done" },
    });
    dispatcher.dispatch([created, change({ severity: "low" }), resolved]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(2);
    for (const r of receiver.received) {
      expect(r.headers["content-type"]).toBe("application/json");
      expectValid(validSlack, JSON.parse(r.body));
    }
    const msg = JSON.parse(receiver.received[0]!.body);
    expect(msg.text).toBe(`[HIGH] ${created.alert.title} (new alert, rule brute_force)`);
    const all = JSON.stringify(msg.blocks);
    expect(msg.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: `HIGH: ${created.alert.title}` },
    });
    for (const want of [
      "*Severity*\\nhigh",
      "*Group*\\nclient.address=203.0.113.7",
      "*Value*\\n12 (threshold 10, window 300 s)",
      "*First seen*\\n<!date^",
      "*Last seen*\\n<!date^",
      "• Block or challenge the source address",
      `<${API}/api/alerts/${created.alert.id}|Open in secmon>`,
    ]) {
      expect(all).toContain(want);
    }
    // mrkdwn control characters are escaped
    const closing = JSON.stringify(JSON.parse(receiver.received[1]!.body).blocks);
    expect(closing).toContain("blocked &lt;at&gt; the edge &amp; done");
    expect(JSON.parse(receiver.received[1]!.body).text).toContain("alert resolved");
  });

  it("keeps every text inside Slack's limits for long content", () => {
    const c = change();
    const long = {
      ...c,
      alert: {
        ...c.alert,
        title: "t".repeat(400),
        group: { "client.address": "x".repeat(5000) },
        recommended_actions: Array.from({ length: 200 }, (_, i) => `action ${i} ${"y".repeat(50)}`),
        services: Array.from({ length: 20 }, (_, i) => `service-${i}`),
      },
    };
    expectValid(validSlack, slackMessage(long, API));
  });

  it("a 404 (no_service) is final; 429 with Retry-After is retried without holding a slot", async () => {
    const { receiver, dispatcher, time } = await setup(
      [{ type: "slack", name: "chat", webhook_url: { env: "SLACK_URL" }, max_concurrency: 1 }],
      (n, _r, res) => {
        if (n === 0) res.writeHead(429, { "retry-after": "600" }).end("rate_limited");
        else if (n === 1) res.writeHead(404).end("no_service");
        else res.writeHead(200).end("ok");
      },
    );
    const [a, b] = [change({ rule: "a" }), change({ rule: "b" })];
    dispatcher.dispatch([a, b]);
    await dispatcher.whenIdle();
    // a was rate limited for 10 minutes; b went out meanwhile through the one slot (and met the 404)
    const rules = receiver.received.map((r) => JSON.parse(r.body).text.match(/rule (\w+)/)[1]);
    expect(rules).toEqual(["a", "b", "a"]);
    expect(time.sleeps).toEqual([600_000]);
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toMatchObject([{ reason: "final_status", status: 404, alert: { rule: "b" } }]);
  });
});

describe("pagerduty sink", () => {
  const pager = (url: string) => [
    { type: "pagerduty", name: "pager", routing_key: { env: "PD_KEY" }, url, min_severity: "high" },
  ];

  it("triggers on creation, acknowledges, resolves with dedup_key = alert id; every event validates against Events v2", async () => {
    const { receiver, dispatcher } = await setup(pager, (_n, _r, res) =>
      res.writeHead(202, { "content-type": "application/json" }).end('{"status":"success"}'),
    );
    const created = change({ severity: "critical", services: ["checkout", "auth"] });
    const investigating = patched(created.alert, { status: "investigating", assignee: "oncall" });
    const resolved = patched(investigating.alert, { status: "resolved" });
    const falsePositive = change({ rule: "api_scanning" });
    const fp = patched(falsePositive.alert, { status: "false_positive" });
    dispatcher.dispatch([created, change({ severity: "medium" })]);
    dispatcher.dispatch([investigating, resolved, falsePositive, fp]);
    await dispatcher.whenIdle();
    const events = receiver.received.map((r) => JSON.parse(r.body));
    for (const e of events) expectValid(validPagerDuty, e);
    expect(receiver.received.every((r) => r.url === "/v2/enqueue")).toBe(true);
    const mine = events.filter((e) => e.dedup_key === created.alert.id);
    expect(mine.map((e) => e.event_action)).toEqual(["trigger", "acknowledge", "resolve"]);
    expect(mine[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      payload: {
        summary: `[CRITICAL] ${created.alert.title}`,
        source: "checkout",
        severity: "critical",
        timestamp: created.alert.created_at,
        custom_details: { rule: "brute_force", group: { "client.address": "203.0.113.7" } },
      },
      client_url: `${API}/api/alerts/${created.alert.id}`,
    });
    expect(events.filter((e) => e.dedup_key === falsePositive.alert.id).map((e) => e.event_action)).toEqual([
      "trigger",
      "resolve",
    ]);
    expect(events).toHaveLength(5); // the medium alert is below min_severity
  });

  it("maps severities onto PagerDuty's four", () => {
    const sev = (s: "critical" | "high" | "medium" | "low") =>
      (pagerDutyEvent(change({ severity: s }), { routingKey: ROUTING_KEY }).payload as { severity: string })
        .severity;
    expect([sev("critical"), sev("high"), sev("medium"), sev("low")]).toEqual([
      "critical",
      "error",
      "warning",
      "info",
    ]);
  });

  it("retries 429 and 5xx, then delivers; a 400 (invalid event) is a dead letter at once", async () => {
    const { receiver, dispatcher, time } = await setup(pager, (n, r, res) => {
      const body = JSON.parse(r.body);
      if (body.dedup_key.endsWith("bad")) return res.writeHead(400).end('{"status":"invalid event"}');
      if (n === 0) return res.writeHead(429).end();
      if (n === 1) return res.writeHead(502).end();
      res.writeHead(202).end();
    });
    const ok = change({ severity: "critical" });
    const bad = { ...change({ severity: "critical" }) };
    const badChange = { ...bad, alert: { ...bad.alert, id: `${bad.alert.id}bad` } };
    dispatcher.dispatch([ok]);
    await dispatcher.whenIdle();
    dispatcher.dispatch([badChange]);
    await dispatcher.whenIdle();
    expect(receiver.received.map((r) => JSON.parse(r.body).dedup_key)).toEqual([
      ok.alert.id,
      ok.alert.id,
      ok.alert.id,
      badChange.alert.id,
    ]);
    expect(time.sleeps).toEqual([1000, 2000]);
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toMatchObject([{ reason: "final_status", status: 400, attempts: 1 }]);
  });
});
