import { ATTR, AUTH_OUTCOME, EVENT } from "@secmon/semconv";
import type { SecurityEvent } from "./event.ts";
import type { Metrics } from "./metrics/catalog.ts";
import type { EventObserver } from "./pipeline.ts";

/** Counts evaluated sign-ins by outcome and service (`secmon_auth_attempts_total`). */
export class AuthOutcomeCounter implements EventObserver {
  readonly #counter: Metrics["authAttempts"];

  constructor(metrics: Pick<Metrics, "authAttempts">) {
    this.#counter = metrics.authAttempts;
  }

  observe(events: readonly SecurityEvent[]): void {
    // Aggregate per batch: one counter add per (outcome, service), not one per event.
    let counts: Map<string, number> | undefined;
    for (const e of events) {
      if (e.name !== EVENT.AUTH_LOGIN) continue;
      const o = e.attributes[ATTR.AUTH_OUTCOME];
      const outcome = o === AUTH_OUTCOME.SUCCESS || o === AUTH_OUTCOME.FAILURE ? o : "other";
      const key = `${outcome}\u0000${e.service}`;
      counts ??= new Map();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (!counts) return;
    for (const [key, n] of counts) {
      const [outcome, service] = key.split("\u0000") as [string, string];
      this.#counter.add(n, { outcome, service });
    }
  }
}
