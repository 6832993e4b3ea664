import { ATTR, AUTH_OUTCOME, AUTH_RESET_STAGE, EVENT } from "@secmon/semconv";
import { SecmonError } from "../errors.ts";
import type { SecurityEvent } from "../event.ts";
import { defaultAddressGroup, type AddressGrouper } from "./recent-events.ts";
import { HOUR_MS, zeroCounters, type HourTally, type ReportCounters, type ReportStore } from "./store.ts";

export const MIN_PERIOD_HOURS = 1;
export const MAX_PERIOD_HOURS = 30 * 24;
export const DEFAULT_TOP = 10;
export const MAX_TOP = 50;

/** `1h`…`720h` or `1d`…`30d` → hours; BAD_REQUEST naming `period` otherwise. */
export function parsePeriod(period: string): number {
  const m = /^(\d{1,4})([hd])$/.exec(period);
  const hours = m ? Number(m[1]) * (m[2] === "d" ? 24 : 1) : NaN;
  if (!(hours >= MIN_PERIOD_HOURS && hours <= MAX_PERIOD_HOURS)) {
    throw new SecmonError("BAD_REQUEST", "period: must be 1h…720h or 1d…30d, e.g. 24h");
  }
  return hours;
}

export interface TopItem {
  readonly value: string;
  readonly failures: number;
}

/** The body of `GET /api/report`. */
export interface SecurityReport {
  readonly period: string;
  /** Event-time range covered: whole UTC hours, the current one included. */
  readonly from: string;
  readonly to: string;
  readonly summary: {
    readonly sign_ins: number;
    readonly failed_sign_ins: number;
    readonly unique_client_addresses: number;
    /** False when the count is a lower bound (an hour remembered its maximum of addresses). */
    readonly unique_client_addresses_exact: boolean;
    readonly locked_accounts: number;
    readonly password_resets: number;
  };
  /** Failed sign-ins by `user.hash` (pseudonymous), most first. */
  readonly top_failed_identifiers: readonly TopItem[];
  /** Failed sign-ins by client address (IPv6 by prefix), most first. */
  readonly top_failed_addresses: readonly TopItem[];
  /** False when a top list may overcount (more distinct values in an hour than sketch counters). */
  readonly top_counts_exact: boolean;
}

export interface SecurityReporterOptions {
  readonly store: ReportStore;
  readonly clock?: () => number;
  /** Group form of client addresses; pass the rules' own. Default: IPv6 by /64. */
  readonly addressGroup?: AddressGrouper;
  /** Called when the store rejects an add (e.g. count secmon_store_errors). */
  readonly onError?: (err: unknown) => void;
}

interface Tally {
  hour: number;
  counters: ReportCounters;
  clientAddresses: Set<string>;
  failuresByIdentifier: Map<string, number>;
  failuresByAddress: Map<string, number>;
}

/**
 * Feeds the security report (seed 004's `generate_security_report`) from every evaluated batch
 * and answers report queries. Times are event times, bucketed by UTC hour.
 */
export class SecurityReporter {
  readonly store: ReportStore;
  readonly #clock: () => number;
  readonly #addressGroup: AddressGrouper;
  readonly #onError: (err: unknown) => void;

  constructor(options: SecurityReporterOptions) {
    this.store = options.store;
    this.#clock = options.clock ?? Date.now;
    this.#addressGroup = options.addressGroup ?? defaultAddressGroup;
    this.#onError = options.onError ?? (() => {});
  }

  /** Called with every evaluated batch; cheap, never throws. */
  observe(events: readonly SecurityEvent[], ctx?: { readonly batchId: string }): void {
    if (events.length === 0) return;
    const tallies = new Map<number, Tally>();
    let last: Tally | undefined;
    for (const e of events) {
      const hour = e.time - (((e.time % HOUR_MS) + HOUR_MS) % HOUR_MS);
      let t = last !== undefined && last.hour === hour ? last : tallies.get(hour);
      if (!t) {
        t = {
          hour,
          counters: zeroCounters(),
          clientAddresses: new Set(),
          failuresByIdentifier: new Map(),
          failuresByAddress: new Map(),
        };
        tallies.set(hour, t);
      }
      last = t;
      t.counters.events += 1;
      switch (e.name) {
        case EVENT.AUTH_LOGIN: {
          t.counters.sign_ins += 1;
          const raw = e.attributes[ATTR.CLIENT_ADDRESS];
          const address = typeof raw === "string" && raw !== "" ? this.#addressGroup(raw) : undefined;
          if (address !== undefined) t.clientAddresses.add(address);
          if (e.attributes[ATTR.AUTH_OUTCOME] === AUTH_OUTCOME.FAILURE) {
            t.counters.failed_sign_ins += 1;
            const hash = e.attributes[ATTR.USER_HASH];
            if (typeof hash === "string" && hash !== "") {
              t.failuresByIdentifier.set(hash, (t.failuresByIdentifier.get(hash) ?? 0) + 1);
            }
            if (address !== undefined) {
              t.failuresByAddress.set(address, (t.failuresByAddress.get(address) ?? 0) + 1);
            }
          }
          break;
        }
        case EVENT.AUTH_ACCOUNT_LOCKED:
          t.counters.locked_accounts += 1;
          break;
        case EVENT.AUTH_PASSWORD_RESET:
          if (e.attributes[ATTR.AUTH_RESET_STAGE] === AUTH_RESET_STAGE.REQUESTED)
            t.counters.password_resets += 1;
          break;
      }
    }
    const batch: HourTally[] = [...tallies.values()];
    try {
      this.store.add(batch, ctx ? { batchId: ctx.batchId } : undefined).catch(this.#onError);
    } catch (err) {
      this.#onError(err);
    }
  }

  /** The report for `period` (e.g. `24h`) ending with the current hour. BAD_REQUEST for a bad period or top. */
  async report(period: string, top = DEFAULT_TOP): Promise<SecurityReport> {
    const hours = parsePeriod(period);
    if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) {
      throw new SecmonError("BAD_REQUEST", `top: must be an integer from 1 to ${MAX_TOP}`);
    }
    const to = Math.floor(this.#clock() / HOUR_MS) * HOUR_MS + HOUR_MS;
    const from = to - hours * HOUR_MS;
    const s = await this.store.summarize(from, to, top);
    const exactTop = [...s.topFailedIdentifiers, ...s.topFailedAddresses].every((e) => e.error === 0);
    return {
      period,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      summary: {
        sign_ins: s.counters.sign_ins,
        failed_sign_ins: s.counters.failed_sign_ins,
        unique_client_addresses: s.uniqueClientAddresses,
        unique_client_addresses_exact: s.uniqueClientAddressesExact,
        locked_accounts: s.counters.locked_accounts,
        password_resets: s.counters.password_resets,
      },
      top_failed_identifiers: s.topFailedIdentifiers.map((e) => ({ value: e.value, failures: e.count })),
      top_failed_addresses: s.topFailedAddresses.map((e) => ({ value: e.value, failures: e.count })),
      top_counts_exact: exactTop,
    };
  }

  /** Security events whose event time is since UTC midnight of the detector's current day. */
  async eventsToday(): Promise<number> {
    const now = this.#clock();
    const midnight = now - (now % 86_400_000);
    return this.store.countEvents(midnight, midnight + 86_400_000);
  }
}
