import { afterEach, describe, expect, it } from "vitest";
import type { AlertChange } from "../../src/alerts/types.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { webhookSinkSchema } from "../../src/sinks/config.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { change, fakeTime } from "./helpers.ts";
import { startReceiver } from "./receiver.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("delivery faults", () => {
  it("a receiver down for 20 minutes gets every change once it is back: once per delivery id, in order per alert, updates coalesced", async () => {
    const time = fakeTime();
    const backAt = time.clock() + 20 * 60_000;
    const receiver = await startReceiver((_n, _r, res) =>
      res.writeHead(time.clock() < backAt ? 503 : 200).end(),
    );
    const { metrics, points } = testMetrics();
    const dispatcher = createSinkDispatcher(
      [
        webhookSinkSchema.parse({
          type: "webhook",
          name: "hook",
          url: receiver.url,
          secret: { env: "S" },
          max_concurrency: 3,
        }),
      ],
      { env: { S: "x" }, clock: time.clock, sleep: time.sleep, random: () => 0.5, metrics },
    );
    cleanups.push(
      () => receiver.close(),
      () => dispatcher.stop(),
    );
    await dispatcher.start();

    const alerts = Array.from({ length: 8 }, (_, i) => change({ rule: `r${i}` }));
    dispatcher.dispatch(alerts);
    // an ongoing attack: many updates of the first alert while the receiver is down
    const a = alerts[0]!.alert;
    for (let n = 2; n <= 6; n++) {
      // every change of an alert moves its updated_at
      const updatedAt = new Date(Date.parse(a.updated_at) + n).toISOString();
      const u: AlertChange = { type: "alert.updated", alert: { ...a, count: n, updated_at: updatedAt } };
      dispatcher.dispatch([u]);
    }
    await dispatcher.whenIdle();
    expect(time.clock()).toBeGreaterThanOrEqual(backAt);

    const delivered = receiver.received.filter((r) => JSON.parse(r.body) && true);
    const ok = new Map<string, { type: string; count: number; rule: string }>();
    // the successful attempt of each delivery id is the last one it made
    for (const r of delivered) {
      const body = JSON.parse(r.body);
      ok.set(r.headers["x-secmon-delivery"] as string, {
        type: body.type,
        count: body.alert.count,
        rule: body.alert.rule,
      });
    }
    const outcomes = await points("secmon_sink_deliveries");
    const success = outcomes.find((p) => p.attributes["outcome"] === "success")?.value;
    expect(success).toBe(ok.size); // one success per delivery id
    expect(ok.size).toBe(9); // 8 creations + 1 coalesced update
    expect(outcomes.find((p) => p.attributes["outcome"] === "coalesced")?.value).toBe(4);
    const ofFirst = [...ok.values()].filter((v) => v.rule === "r0");
    expect(ofFirst).toEqual([
      { type: "alert.created", count: 1, rule: "r0" },
      { type: "alert.updated", count: 6, rule: "r0" },
    ]);
    // the update never overtook the creation of its alert
    const order = receiver.received
      .filter((r) => JSON.parse(r.body).alert.rule === "r0")
      .map((r) => JSON.parse(r.body).type);
    expect(order.lastIndexOf("alert.created")).toBeLessThan(order.indexOf("alert.updated"));
    expect((await dispatcher.deadLetters.list({ limit: 10 })).dead_letters).toEqual([]);
    expect(receiver.maxConcurrent()).toBeLessThanOrEqual(3);
  });
});
