import type { TopEntry } from "./space-saving.ts";

export const HOUR_MS = 3_600_000;

/** Counters the security report adds up per hour. */
export interface ReportCounters {
  /** Every security event evaluated (for "events today"). */
  events: number;
  /** `auth.login`, any outcome. */
  sign_ins: number;
  /** `auth.login` with `auth.outcome=failure`. */
  failed_sign_ins: number;
  /** `auth.account_locked`. */
  locked_accounts: number;
  /** `auth.password_reset` with `auth.reset_stage=requested`. */
  password_resets: number;
}

export const COUNTER_KEYS = [
  "events",
  "sign_ins",
  "failed_sign_ins",
  "locked_accounts",
  "password_resets",
] as const satisfies readonly (keyof ReportCounters)[];

export function zeroCounters(): ReportCounters {
  return { events: 0, sign_ins: 0, failed_sign_ins: 0, locked_accounts: 0, password_resets: 0 };
}

/** What one batch adds to one hour bucket (event time), reduced before it reaches the store. */
export interface HourTally {
  /** Start of the UTC hour, ms since the epoch. */
  readonly hour: number;
  readonly counters: Readonly<ReportCounters>;
  /** Client addresses (grouped form: IPv6 by prefix) of sign-in attempts. */
  readonly clientAddresses: ReadonlySet<string>;
  /** Failed sign-ins by `user.hash`. */
  readonly failuresByIdentifier: ReadonlyMap<string, number>;
  /** Failed sign-ins by client address (grouped form). */
  readonly failuresByAddress: ReadonlyMap<string, number>;
}

/** The report's numbers over a range of hour buckets. */
export interface ReportSummary {
  readonly counters: ReportCounters;
  readonly uniqueClientAddresses: number;
  /** False when an hour bucket saturated (or the store estimates, e.g. a HyperLogLog): a lower bound. */
  readonly uniqueClientAddressesExact: boolean;
  readonly topFailedIdentifiers: readonly TopEntry[];
  readonly topFailedAddresses: readonly TopEntry[];
}

/**
 * Hour buckets of the security report, on event time. Designed so that a shared store can
 * implement it with one round trip per batch (Redis: HINCRBY counters, PFADD addresses,
 * ZINCRBY failures per `hour` key, with an expiry past the longest report period).
 */
export interface ReportStore {
  /**
   * Adds a batch's tallies. Buckets older than the store's retention are ignored. With a
   * `batchId`, a store may apply each batch id once (Redis does, so that a sender's retry of an
   * accepted request counts nothing twice).
   */
  add(tallies: readonly HourTally[], options?: { readonly batchId?: string }): Promise<void>;
  /** Sums the buckets whose hour is in [fromHour, toHour); `top` entries per list. */
  summarize(fromHour: number, toHour: number, top: number): Promise<ReportSummary>;
  /** Events in the buckets whose hour is in [fromHour, toHour). */
  countEvents(fromHour: number, toHour: number): Promise<number>;
}
