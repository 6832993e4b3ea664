import { REJECT_REASONS } from "../event.ts";
import type { Metrics } from "./catalog.ts";

/**
 * Starts every counter of a bounded label set at zero, so that a dashboard shows 0 rather than
 * "no data" before the first rejection, eviction or store error, and `rate()` sees the first one.
 */
export function primeMetrics(
  metrics: Pick<
    Metrics,
    "eventsIgnored" | "eventsRejected" | "stateEvictions" | "ruleSkipped" | "storeErrors"
  >,
  ruleIds: readonly string[],
): void {
  metrics.eventsIgnored.add(0);
  for (const reason of REJECT_REASONS) metrics.eventsRejected.add(0, { reason });
  for (const rule of ruleIds) {
    metrics.stateEvictions.add(0, { rule });
    metrics.ruleSkipped.add(0, { rule, reason: "missing_group" });
  }
  for (const operation of ["record", "update", "purge"])
    metrics.storeErrors.add(0, { store: "alerts", operation });
  metrics.storeErrors.add(0, { store: "windows", operation: "apply" });
}
