import { afterEach, describe, expect, it } from "vitest";
import { AlertManager } from "../../src/alerts/manager.ts";
import { MemoryAlertStore } from "../../src/alerts/memory-store.ts";
import { SecmonError } from "../../src/errors.ts";
import type { SecurityEvent } from "../../src/event.ts";
import { MemoryOutbox } from "../../src/outbox/memory.ts";
import type { EnqueueOutcome, NewDelivery } from "../../src/outbox/types.ts";
import { Pipeline } from "../../src/pipeline.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { webhookSinkSchema } from "../../src/sinks/config.ts";
import { firing, manualClock } from "../alerts/fixtures.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { change, patched, waitFor } from "./helpers.ts";
import { startReceiver } from "./receiver.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An in-memory outbox whose writes fail while `down`, as a store that went away. */
class FlakyOutbox extends MemoryOutbox {
  down = false;
  override async enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]> {
    if (this.down) throw new Error("outbox store unreachable");
    return super.enqueue(deliveries, limits);
  }
}

/** An in-memory outbox whose writes, while `down`, wait until the test refuses them (in any order). */
class GatedOutbox extends MemoryOutbox {
  down = false;
  readonly #waiting: ((err: Error) => void)[] = [];
  get pending(): number {
    return this.#waiting.length;
  }
  /** Refuses the waiting writes, in the order of their indexes (default: oldest first). */
  refuse(order: readonly number[] = this.#waiting.map((_, i) => i)): void {
    const waiting = this.#waiting.splice(0);
    for (const i of order) waiting[i]!(new Error("outbox store unreachable"));
  }
  override async enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]> {
    if (this.down) await new Promise<never>((_, reject) => this.#waiting.push(reject));
    return super.enqueue(deliveries, limits);
  }
}

/** A sleep that waits until the test moves time on with `tick()` (or the dispatcher aborts). */
function steppedSleep(advance: (ms: number) => void) {
  const waiting: { ms: number; wake: () => void }[] = [];
  return {
    sleep: (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        waiting.push({ ms, wake: resolve });
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    tick: (ms: number) => {
      advance(ms);
      for (const w of waiting.splice(0)) w.wake();
    },
  };
}

const event: SecurityEvent = {
  name: "auth.login",
  time: 0,
  service: "checkout",
  attributes: {},
  resource: {},
};

describe("alert deliveries while the outbox is down", () => {
  it("refuses the batch retryably, keeps its deliveries, blocks new batches, and delivers once the outbox is back", async () => {
    const clock = manualClock();
    const time = steppedSleep(clock.advance);
    const receiver = await startReceiver();
    const outbox = new FlakyOutbox();
    const { metrics, points } = testMetrics();
    const errors: unknown[] = [];
    const dispatcher = createSinkDispatcher(
      [webhookSinkSchema.parse({ type: "webhook", name: "hook", url: receiver.url, secret: { env: "S" } })],
      {
        env: { S: "x" },
        clock: clock.now,
        sleep: time.sleep,
        random: () => 0.5,
        metrics,
        outbox,
        onError: (err) => errors.push(err),
      },
    );
    const alerts = new AlertManager({
      store: new MemoryAlertStore(),
      clock: clock.now,
      deliver: (changes) => dispatcher.dispatch(changes),
    });
    const pipeline = new Pipeline({
      evaluator: { evaluate: async () => [firing()] },
      alerting: alerts,
      metrics,
      maxInFlightEvents: 1000,
      blocked: () => dispatcher.blocked(),
    });
    cleanups.push(
      () => receiver.close(),
      () => dispatcher.stop(),
    );
    await dispatcher.start();
    const batch = { events: [event], ignored: 0, rejected: {} };
    const ctx = { batchId: "b1", transport: "grpc" as const, receivedAt: 0 };

    outbox.down = true;
    const refused = await pipeline.ingest(batch, ctx).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SecmonError);
    expect(refused).toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true });
    // the alert is recorded; its notification waits in memory, and new batches are refused
    expect((await alerts.store.list({ limit: 10 })).alerts).toHaveLength(1);
    expect(dispatcher.blocked()).toMatch(/1 alert deliveries wait for the outbox/);
    await expect(pipeline.ingest(batch, { ...ctx, batchId: "b2" })).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
      retryable: true,
    });
    // still down a second later: written again, refused again, still kept
    time.tick(1000);
    await waitFor(async () => {
      const failed = (await points("secmon_store_errors")).find(
        (p) => p.attributes["operation"] === "enqueue",
      );
      return failed?.value === 2;
    });
    expect(dispatcher.blocked()).toBeDefined();
    expect(receiver.received).toHaveLength(0);

    outbox.down = false;
    time.tick(1000);
    await waitFor(() => receiver.received.length === 1);
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ type: "alert.created" });
    expect(dispatcher.blocked()).toBeUndefined();
    // the sender's retry is taken now (the alert absorbs it)
    await pipeline.ingest(batch, ctx);
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });

  it("writes kept deliveries again in change order, even when a rewrite is refused after a newer write", async () => {
    const clock = manualClock();
    const time = steppedSleep(clock.advance);
    const receiver = await startReceiver();
    const outbox = new GatedOutbox();
    const dispatcher = createSinkDispatcher(
      [webhookSinkSchema.parse({ type: "webhook", name: "hook", url: receiver.url, secret: { env: "S" } })],
      { env: { S: "x" }, clock: clock.now, sleep: time.sleep, random: () => 0.5, outbox },
    );
    cleanups.push(
      () => receiver.close(),
      () => dispatcher.stop(),
    );
    await dispatcher.start();
    const created = change();
    const updated = patched(created.alert, { assignee: "bo" });
    outbox.down = true;
    const first = dispatcher.dispatch([created]).catch(() => undefined);
    outbox.refuse();
    await first;
    // the rewrite of `created` is under way when `updated` is refused; then the rewrite fails too
    await waitFor(() => {
      time.tick(1000);
      return outbox.pending === 1;
    });
    const second = dispatcher.dispatch([updated]).catch(() => undefined);
    await waitFor(() => outbox.pending === 2);
    outbox.refuse([1, 0]);
    await second;
    outbox.down = false;
    await waitFor(() => {
      time.tick(1000);
      return receiver.received.length === 2;
    });
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual([created.type, updated.type]);
  });

  it("reports deliveries it could not store before stopping", async () => {
    const clock = manualClock();
    const time = steppedSleep(clock.advance);
    const outbox = new FlakyOutbox();
    const { metrics, points } = testMetrics();
    const errors: unknown[] = [];
    const dispatcher = createSinkDispatcher(
      [
        webhookSinkSchema.parse({
          type: "webhook",
          name: "hook",
          url: "http://127.0.0.1:9/",
          secret: { env: "S" },
        }),
      ],
      {
        env: { S: "x" },
        clock: clock.now,
        sleep: time.sleep,
        metrics,
        outbox,
        onError: (e) => errors.push(e),
        drainMs: 10,
      },
    );
    await dispatcher.start();
    outbox.down = true;
    const alerts = new AlertManager({
      store: new MemoryAlertStore(),
      clock: clock.now,
      deliver: (c) => dispatcher.dispatch(c),
    });
    await expect(alerts.handle([firing()])).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
    // stop drains for drainMs (the kept deliveries are written again meanwhile), then tries once more
    let stopped = false;
    const stopping = dispatcher.stop().then(() => (stopped = true));
    while (!stopped) {
      time.tick(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await stopping;
    const dropped = (await points("secmon_sink_deliveries")).find(
      (p) => p.attributes["outcome"] === "dropped",
    );
    expect(dropped?.value).toBe(1);
    expect(String(errors.at(-1))).toMatch(/1 alert deliveries lost at stop/);
  });
});
