import { afterEach, describe, expect, it } from "vitest";
import type { AlertChange } from "../../src/alerts/types.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { deliveryId } from "../../src/sinks/dispatcher.ts";
import { verifySignature } from "../../src/sinks/signature.ts";
import {
  change,
  fakeTime,
  startWebhookDispatcher,
  waitFor,
  webhook,
  webhookEnv as env,
  WEBHOOK_SECRET as SECRET,
} from "./helpers.ts";
import { startReceiver, type Responder } from "./receiver.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = (
  respond: Responder | undefined,
  extra?: Record<string, unknown>,
  opts?: { random?: () => number },
) => startWebhookDispatcher(cleanups, respond, extra, opts);

describe("webhook sink", () => {
  it("POSTs {type, alert} with a delivery id and a signature receivers can verify", async () => {
    const { dispatcher, receiver, time } = await setup(undefined);
    const c = change();
    dispatcher.dispatch([c]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(1);
    const r = receiver.received[0]!;
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers["x-secmon-delivery"]).toBe(deliveryId("hook", c));
    expect(r.headers["x-secmon-delivery"]).toMatch(/^dlv_[0-9a-f]{32}$/);
    expect(JSON.parse(r.body)).toEqual({ type: "alert.created", alert: c.alert });
    const sig = r.headers["x-secmon-signature"] as string;
    expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, sig, r.body, time.clock())).toBe(true);
    expect(verifySignature(SECRET, sig, Buffer.from(r.body), time.clock())).toBe(true);
    // tampered body, wrong secret, stale or future timestamp, malformed header
    expect(verifySignature(SECRET, sig, r.body.replace("high", "low"), time.clock())).toBe(false);
    expect(verifySignature("other", sig, r.body, time.clock())).toBe(false);
    expect(verifySignature(SECRET, sig, r.body, time.clock() + 301_000)).toBe(false);
    expect(verifySignature(SECRET, sig, r.body, time.clock() - 301_000)).toBe(false);
    expect(verifySignature(SECRET, "v1=abc", r.body, time.clock())).toBe(false);
    expect(verifySignature(SECRET, undefined, r.body, time.clock())).toBe(false);
    // a rotated secret: any v1 may match
    const [t, v1] = sig.split(",");
    expect(verifySignature(SECRET, `${t},v1=${"0".repeat(64)},${v1}`, r.body, time.clock())).toBe(true);
  });

  it("gives one alert change one delivery id: handed over again, it is delivered once", async () => {
    const { dispatcher, receiver, points } = await setup(undefined);
    const c = change();
    const next: AlertChange = {
      type: "alert.updated",
      alert: { ...c.alert, count: 2, updated_at: new Date(Date.parse(c.alert.updated_at) + 1).toISOString() },
    };
    // a sender's retried batch hands the same change over while its delivery still waits
    await Promise.all([dispatcher.dispatch([c, next]), dispatcher.dispatch([c])]);
    await dispatcher.whenIdle();
    const ids = receiver.received.map((r) => r.headers["x-secmon-delivery"]);
    expect(ids).toEqual([deliveryId("hook", c), deliveryId("hook", next)]);
    expect(new Set(ids).size).toBe(2);
    const outcomes = (await points("secmon_sink_deliveries")).map((p) => [p.attributes["outcome"], p.value]);
    expect(outcomes).toEqual(expect.arrayContaining([["duplicate", 1]]));
    // once delivered, the same change handed over again is not sent again (the outbox took its revision)
    await dispatcher.dispatch([next]);
    await dispatcher.whenIdle();
    expect(receiver.received.map((r) => r.headers["x-secmon-delivery"])).toEqual(ids);
    const after = (await points("secmon_sink_deliveries")).map((p) => [p.attributes["outcome"], p.value]);
    expect(after).toEqual(expect.arrayContaining([["superseded", 1]]));
    // ids differ per sink and per change
    expect(deliveryId("other", c)).not.toBe(deliveryId("hook", c));
    expect(deliveryId("hook", { ...c, type: "alert.status_changed" })).not.toBe(deliveryId("hook", c));
  });

  it("retries 500s with exponential backoff and full jitter, same delivery id, then succeeds", async () => {
    const { dispatcher, receiver, time, points } = await setup((n, _r, res) =>
      res.writeHead(n < 3 ? 500 : 200).end(),
    );
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(4);
    const ids = new Set(receiver.received.map((r) => r.headers["x-secmon-delivery"]));
    expect(ids.size).toBe(1);
    expect(time.sleeps).toEqual([1000, 2000, 4000]); // random() = 1: the ceiling of each backoff
    // every attempt is signed afresh and verifies
    for (const r of receiver.received) {
      expect(verifySignature(SECRET, r.headers["x-secmon-signature"] as string, r.body, time.clock())).toBe(
        true,
      );
    }
    const outcomes = (await points("secmon_sink_deliveries")).map((p) => [p.attributes["outcome"], p.value]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ["retry", 3],
        ["success", 1],
      ]),
    );
    expect(await dispatcher.deadLetters.list({ limit: 10 })).toEqual({ dead_letters: [] });
  });

  it("jitters below the exponential ceiling", async () => {
    const { dispatcher, time } = await setup(
      (n, _r, res) => res.writeHead(n < 2 ? 503 : 200).end(),
      {},
      {
        random: () => 0.5,
      },
    );
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(time.sleeps).toEqual([500, 1000]);
  });

  it("honours Retry-After on 429 (seconds) and 503 (HTTP date)", async () => {
    const { dispatcher, receiver, time } = await setup((n, _r, res) => {
      if (n === 0) res.writeHead(429, { "retry-after": "7" }).end();
      else if (n === 1)
        res.writeHead(503, { "retry-after": new Date(time.clock() + 20_000).toUTCString() }).end();
      else if (n === 2) res.writeHead(408).end();
      else res.writeHead(202).end();
    });
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(4);
    expect(time.sleeps[0]).toBe(7000);
    expect(time.sleeps[1]).toBeGreaterThan(18_000); // date resolution is 1 s
    expect(time.sleeps[1]).toBeLessThanOrEqual(20_000);
    expect(time.sleeps[2]).toBe(4000); // 408: backoff (third retry)
  });

  it("a final 4xx becomes a dead letter at once; replay delivers it with the same id", async () => {
    let accept = false;
    const { dispatcher, receiver } = await setup((_n, _r, res) => res.writeHead(accept ? 200 : 400).end());
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(1);
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toHaveLength(1);
    const dl = dead_letters[0]!;
    expect(dl).toMatchObject({
      sink: "hook",
      reason: "final_status",
      status: 400,
      attempts: 1,
      type: "alert.created",
    });
    expect(dl.id).toBe(receiver.received[0]!.headers["x-secmon-delivery"]);
    accept = true;
    await dispatcher.replay(dl.id);
    await dispatcher.whenIdle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.headers["x-secmon-delivery"]).toBe(dl.id);
    expect((await dispatcher.deadLetters.list({ limit: 10 })).dead_letters).toEqual([]);
    await expect(dispatcher.replay(dl.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("gives up after max_retry_seconds: retries_exhausted", async () => {
    const { dispatcher, receiver, time } = await setup((_n, _r, res) => res.writeHead(502).end(), {
      max_retry_seconds: 10,
    });
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    expect(time.sleeps).toEqual([1000, 2000, 4000]); // the next (8 s) would pass 10 s
    expect(receiver.received).toHaveLength(4);
    const [dl] = (await dispatcher.deadLetters.list({ limit: 10 })).dead_letters;
    expect(dl).toMatchObject({ reason: "retries_exhausted", status: 502, attempts: 4 });
  });

  it("retries network errors (connection refused)", async () => {
    const receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close();
    const time = fakeTime();
    const dispatcher = createSinkDispatcher(webhook(url, { max_retry_seconds: 5 }), {
      env,
      clock: time.clock,
      sleep: time.sleep,
      random: () => 1,
    });
    dispatcher.dispatch([change()]);
    await dispatcher.whenIdle();
    const [dl] = (await dispatcher.deadLetters.list({ limit: 10 })).dead_letters;
    expect(dl).toMatchObject({ reason: "retries_exhausted", attempts: 3 });
    expect(dl?.detail).toMatch(/network error/);
    await dispatcher.stop();
  });

  it("a slow receiver hits the timeout with bounded concurrency, and dispatch never blocks", async () => {
    const { dispatcher, receiver } = await setup(() => {}, {
      timeout_seconds: 0.5,
      max_retry_seconds: 0,
      max_concurrency: 2,
      queue_capacity: 4,
    });
    const changes = Array.from({ length: 6 }, (_, i) => change({ rule: `r${i}` }));
    const written = dispatcher.dispatch(changes);
    expect(receiver.received).toHaveLength(0);
    await written; // the outbox write, not the deliveries: none of them has ended yet
    expect((await dispatcher.deadLetters.list({ limit: 100 })).dead_letters.map((d) => d.reason)).toEqual([
      "queue_full",
      "queue_full",
    ]);
    // while two requests hang, nothing else is sent (maxConcurrent below)
    await waitFor(() => receiver.received.length === 2);
    await dispatcher.whenIdle();
    // the outbox holds 4 for the sink (2 in flight, 2 waiting); the 5th and 6th found it full
    expect(receiver.received).toHaveLength(4);
    expect(receiver.maxConcurrent()).toBe(2);
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 100 });
    const reasons = dead_letters.map((d) => d.reason);
    expect(reasons.filter((r) => r === "queue_full")).toHaveLength(2);
    expect(reasons.filter((r) => r === "retries_exhausted")).toHaveLength(4);
    expect(dead_letters.find((d) => d.reason === "retries_exhausted")?.detail).toMatch(
      /timed out after 500 ms/,
    );
  });

  it("filters by minimum severity, rules and change types", async () => {
    const { dispatcher, receiver } = await setup(undefined, {
      min_severity: "high",
      rules: { include: ["brute_force", "api_scanning"], exclude: ["api_scanning"] },
      events: ["alert.created", "alert.status_changed"],
    });
    dispatcher.dispatch([
      change({ severity: "medium" }),
      change({ severity: "critical" }),
      change({ rule: "api_scanning" }),
      change({ rule: "password_spray" }),
      change({}, "alert.updated"),
      change({}, "alert.status_changed"),
    ]);
    await dispatcher.whenIdle();
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual([
      "alert.created",
      "alert.status_changed",
    ]);
    expect(receiver.received.map((r) => JSON.parse(r.body).alert.severity)).toEqual(["critical", "high"]);
  });

  it("stop delivers what is already queued before it returns", async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const dispatcher = createSinkDispatcher(webhook(receiver.url, { max_concurrency: 1 }), { env });
    dispatcher.dispatch([change({ rule: "a" }), change({ rule: "b" }), change({ rule: "c" })]);
    await dispatcher.stop();
    expect(receiver.received.map((r) => JSON.parse(r.body).alert.rule)).toEqual(["a", "b", "c"]);
    expect((await dispatcher.deadLetters.list({ limit: 10 })).dead_letters).toEqual([]);
  });

  it("stop drains what is queued, then dead-letters what is left; idempotent and safe before start", async () => {
    const unused = createSinkDispatcher([], {});
    await unused.stop();
    await unused.stop();

    const time = fakeTime();
    let hang = false;
    const receiver = await startReceiver((_n, _r, res) => {
      if (!hang) res.writeHead(500).end();
    });
    cleanups.push(() => receiver.close());
    const dispatcher = createSinkDispatcher(webhook(receiver.url), {
      env,
      clock: time.clock,
      // retries wait on the real timer here, so that stop() finds a delivery waiting
      random: () => 1,
      drainMs: 50,
    });
    dispatcher.dispatch([change()]);
    await waitFor(() => receiver.received.length === 1);
    hang = true;
    await dispatcher.stop();
    await dispatcher.stop();
    const { dead_letters } = await dispatcher.deadLetters.list({ limit: 10 });
    expect(dead_letters).toHaveLength(1);
    expect(dead_letters[0]).toMatchObject({ reason: "shutdown" });
    // after stop, changes become dead letters rather than being lost silently
    dispatcher.dispatch([change()]);
    await new Promise((r) => setImmediate(r));
    expect((await dispatcher.deadLetters.list({ limit: 10 })).dead_letters).toHaveLength(2);
    await expect(dispatcher.replay(dead_letters[0]!.id)).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
  });

  it("observes queue depth, oldest undelivered age and dead letters per sink", async () => {
    let release: (() => void) | undefined;
    const { dispatcher, receiver, points } = await setup((n, _r, res) => {
      if (n === 0) release = () => res.writeHead(400).end();
      else res.writeHead(200).end();
    });
    dispatcher.dispatch([change()]);
    await waitFor(() => receiver.received.length === 1);
    dispatcher.dispatch([change(), change()]);
    const depth = await points("secmon_sink_queue_depth");
    expect(depth[0]).toMatchObject({ attributes: { sink: "hook" } });
    expect(depth[0]?.value).toBeGreaterThanOrEqual(1); // the first one is still in flight
    expect((await points("secmon_sink_oldest_undelivered_seconds"))[0]?.attributes).toEqual({ sink: "hook" });
    release?.();
    await dispatcher.whenIdle();
    expect((await points("secmon_sink_queue_depth"))[0]?.value).toBe(0);
    expect((await points("secmon_sink_dead_letters"))[0]).toMatchObject({
      attributes: { sink: "hook" },
      value: 1,
    });
  });

  it("bounds dead letters per sink and pages them newest first", async () => {
    const { dispatcher } = await setup((_n, _r, res) => res.writeHead(410).end(), { max_dead_letters: 3 });
    dispatcher.dispatch(Array.from({ length: 5 }, (_, i) => change({ rule: `r${i}` })));
    await dispatcher.whenIdle();
    const p1 = await dispatcher.deadLetters.list({ limit: 2 });
    expect(p1.dead_letters.map((d) => d.alert.rule)).toEqual(["r4", "r3"]);
    const p2 = await dispatcher.deadLetters.list({ limit: 2, cursor: p1.next_cursor! });
    expect(p2.dead_letters.map((d) => d.alert.rule)).toEqual(["r2"]);
    expect(p2.next_cursor).toBeUndefined();
    expect(await dispatcher.deadLetters.counts()).toEqual({ hook: 3 });
    await expect(dispatcher.deadLetters.list({ limit: 2, cursor: "x" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});
