import { afterEach, describe, expect, it } from "vitest";
import type { AlertChange } from "../../src/alerts/types.ts";
import { CREATION_WAIT_MS, deliveryId, type Sleep } from "../../src/sinks/dispatcher.ts";
import { change, startWebhookDispatcher, waitFor } from "./helpers.ts";

/**
 * Changes of one alert handed to the dispatcher in another order than they happened (as two
 * replicas, or two batches of one, store them): the receiver still gets them in revision order.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The webhook dispatcher, what its receiver got (delivery id, type, alert count) and its delivery outcomes. */
async function setup(events?: string[], sleep?: Sleep) {
  const { dispatcher, receiver, time, points } = await startWebhookDispatcher(
    cleanups,
    undefined,
    events ? { events } : {},
    { ...(sleep ? { sleep } : {}) },
  );
  return {
    dispatcher,
    time,
    received: () =>
      receiver.received.map((r) => {
        const body = JSON.parse(r.body) as { type: string; alert: { count: number } };
        return { id: r.headers["x-secmon-delivery"], type: body.type, count: body.alert.count };
      }),
    outcomes: async () =>
      (await points("secmon_sink_deliveries")).map((p) => [p.attributes["outcome"], p.value]),
  };
}

/** The alert `ms` later, with another count. */
function later(c: AlertChange, ms: number, count: number): AlertChange {
  const updated_at = new Date(Date.parse(c.alert.updated_at) + ms).toISOString();
  return { type: "alert.updated", alert: { ...c.alert, count, updated_at } };
}

describe("sink dispatcher: one alert's changes handed over out of order", () => {
  it("an update stored before its alert's creation waits for it; the creation goes first, with the newest state", async () => {
    // the lane's sleeps end only when a write wakes it: the wait for the creation is never over
    const sleeps: number[] = [];
    const endless: Sleep = (ms, signal) =>
      new Promise((_, reject) => {
        sleeps.push(ms);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    const { dispatcher, received, time, outcomes } = await setup(undefined, endless);
    const created = change({ receivedAt: time.clock() });
    const update = later(created, 5, 2);
    await dispatcher.dispatch([update]);
    // the update waits for its creation: not sent, the lane asleep until the wait is over
    await waitFor(() => sleeps.includes(CREATION_WAIT_MS));
    expect(received()).toEqual([]);
    await dispatcher.dispatch([created]);
    await dispatcher.whenIdle();
    expect(received()).toEqual([{ id: deliveryId("hook", created), type: "alert.created", count: 2 }]);
    expect(await outcomes()).toEqual(
      expect.arrayContaining([
        ["coalesced", 1],
        ["success", 1],
      ]),
    );
  });

  it("an update whose creation never comes goes once the wait is over", async () => {
    const { dispatcher, received, time } = await setup();
    const created = change({ receivedAt: time.clock() });
    const start = time.clock();
    await dispatcher.dispatch([later(created, 5, 2)]);
    await dispatcher.whenIdle();
    expect(received().map((r) => [r.type, r.count])).toEqual([["alert.updated", 2]]);
    expect(time.clock() - start).toBeGreaterThanOrEqual(CREATION_WAIT_MS);
  });

  it("a sink that takes no creations does not wait for them", async () => {
    const { dispatcher, received, time } = await setup(["alert.updated"]);
    const start = time.clock();
    const created = change({ receivedAt: start });
    await dispatcher.dispatch([later(created, 5, 2)]);
    await dispatcher.whenIdle();
    expect(received().map((r) => [r.type, r.count])).toEqual([["alert.updated", 2]]);
    expect(time.clock() - start).toBeLessThan(CREATION_WAIT_MS);
  });

  it("an older update after a newer one is superseded, delivered or still waiting", async () => {
    const { dispatcher, received, outcomes } = await setup();
    const created = change();
    const [u2, u3, u4] = [later(created, 2, 2), later(created, 3, 3), later(created, 4, 4)];
    await dispatcher.dispatch([created, u3]);
    await dispatcher.whenIdle();
    await dispatcher.dispatch([u2]);
    await dispatcher.dispatch([u4, u2, u3]);
    await dispatcher.whenIdle();
    expect(received().map((r) => [r.type, r.count])).toEqual([
      ["alert.created", 1],
      ["alert.updated", 3],
      ["alert.updated", 4],
    ]);
    expect(await outcomes()).toEqual(expect.arrayContaining([["superseded", 3]]));
  });
});
