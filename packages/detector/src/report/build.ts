import type { ReportConfig } from "./config.ts";
import { MemoryReportStore } from "./memory-store.ts";
import { RecentEvents, type AddressGrouper } from "./recent-events.ts";
import { SecurityReporter } from "./reporter.ts";
import type { ReportStore } from "./store.ts";

export interface ReportComponentsOptions {
  readonly clock?: () => number;
  /** The rules' address grouping (same IPv6 prefix), so rings and report match alert groups. */
  readonly addressGroup?: AddressGrouper;
  /** A shared store (Redis, later); default: in memory, bounded by the section. */
  readonly store?: ReportStore;
  readonly onError?: (err: unknown) => void;
}

/** The two observers of the `report` section; hand both to the pipeline's `observers`. */
export function createReportComponents(
  config: ReportConfig,
  o: ReportComponentsOptions = {},
): { recentEvents: RecentEvents; reporter: SecurityReporter } {
  const recentEvents = new RecentEvents({
    perGroup: config.recent_events_per_group,
    maxGroups: config.recent_max_groups,
    bufferEvents: config.recent_buffer_events,
    ...(o.addressGroup ? { addressGroup: o.addressGroup } : {}),
  });
  const store =
    o.store ??
    new MemoryReportStore({
      topKCapacity: config.top_k_capacity,
      distinctMaxPerHour: config.distinct_max_per_hour,
      ...(o.clock ? { clock: o.clock } : {}),
    });
  const reporter = new SecurityReporter({
    store,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.addressGroup ? { addressGroup: o.addressGroup } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
  });
  return { recentEvents, reporter };
}
