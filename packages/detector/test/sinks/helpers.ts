import { alertFromFiring, applyPatch } from "../../src/alerts/build.ts";
import type { AlertPatch } from "../../src/alerts/store.ts";
import type { Alert, AlertChange } from "../../src/alerts/types.ts";
import { firing, manualClock } from "../alerts/fixtures.ts";

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
