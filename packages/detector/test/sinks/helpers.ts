import { alertFromFiring, applyPatch } from "../../src/alerts/build.ts";
import type { AlertPatch } from "../../src/alerts/store.ts";
import type { Alert, AlertChange } from "../../src/alerts/types.ts";
import { createSinkDispatcher } from "../../src/sinks/build.ts";
import { webhookSinkSchema, type SinksConfig } from "../../src/sinks/config.ts";
import type { Sleep, SinkDispatcher } from "../../src/sinks/dispatcher.ts";
import { firing, manualClock } from "../alerts/fixtures.ts";
import { testMetrics } from "../alerts/metrics.ts";
import { startReceiver, type Responder } from "./receiver.ts";

let seq = 0;

/** An alert change built the way the AlertManager builds one. */
export function change(
  overrides: Parameters<typeof firing>[0] = {},
  type: AlertChange["type"] = "alert.created",
): AlertChange {
  const f = firing(overrides);
  seq++;
  return { type, alert: alertFromFiring(f, `alt_01JD3Q${String(seq).padStart(20, "0")}`, f.receivedAt) };
}

/** The same alert after an operator's change (status_changed when the status moved). */
export function patched(
  alert: Alert,
  patch: AlertPatch,
  now = Date.parse(alert.updated_at) + 60_000,
): AlertChange {
  const next = applyPatch(alert, patch, "analyst@example.com", now);
  return { type: next.status !== alert.status ? "alert.status_changed" : "alert.updated", alert: next };
}

/** A clock and a sleep that moves it: retries happen at once, on the recorded schedule. */
export function fakeTime() {
  const clock = manualClock();
  const sleeps: number[] = [];
  return {
    clock: clock.now,
    advance: clock.advance,
    sleeps,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      clock.advance(ms);
    },
  };
}

/** The signing secret of `webhook`'s sink, and the environment that holds it. */
export const WEBHOOK_SECRET = "s3cret-for-tests";
export const webhookEnv = { HOOK_SECRET: WEBHOOK_SECRET };

/** One webhook sink, "hook", posting to `url`, its secret from HOOK_SECRET; `extra` adds to its config. */
export function webhook(url: string, extra: Record<string, unknown> = {}): SinksConfig {
  return [
    webhookSinkSchema.parse({ type: "webhook", name: "hook", url, secret: { env: "HOOK_SECRET" }, ...extra }),
  ];
}

/**
 * A started dispatcher with `webhook`'s sink posting to a fresh test receiver (answering with
 * `respond`), on fake time (its sleep unless `sleep` is given; jitter `random`, default 1) and
 * test metrics. Closing both is pushed onto `cleanups`.
 */
export async function startWebhookDispatcher(
  cleanups: (() => Promise<void>)[],
  respond?: Responder,
  extra: Record<string, unknown> = {},
  opts: { random?: () => number; sleep?: Sleep } = {},
): Promise<{
  dispatcher: SinkDispatcher;
  receiver: Awaited<ReturnType<typeof startReceiver>>;
  time: ReturnType<typeof fakeTime>;
  points: ReturnType<typeof testMetrics>["points"];
}> {
  const receiver = await startReceiver(respond);
  const time = fakeTime();
  const { metrics, points } = testMetrics();
  const dispatcher = createSinkDispatcher(webhook(receiver.url, extra), {
    env: webhookEnv,
    clock: time.clock,
    sleep: opts.sleep ?? time.sleep,
    random: opts.random ?? (() => 1),
    metrics,
    drainMs: 1000,
  });
  await dispatcher.start();
  cleanups.push(
    () => receiver.close(),
    () => dispatcher.stop(),
  );
  return { dispatcher, receiver, time, points };
}

/**
 * Polls `probe` on the real clock (for real peers: servers, child processes) until it returns a
 * value (not undefined), up to `timeoutMs`.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls a condition on the real clock (for real peers: servers, child processes), bounded. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
