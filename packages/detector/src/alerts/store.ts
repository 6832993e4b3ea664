import type { AlertSeverity, AlertStatus } from "@secmon/semconv";
import type { Alert, Firing } from "./types.ts";

/**
 * What `record` did with a firing.
 * - `created`: no alert of this (rule, group) inside its suppression period: a new alert.
 * - `updated`: an open alert (new, investigating) inside suppression absorbed the firing.
 * - `suppressed`: a closed alert (resolved, false_positive) inside suppression absorbed the
 *   firing: its value, last_seen, count and samples move on, its status does not (no reopening,
 *   no notification). Once suppression has passed, the next firing creates a new alert.
 */
export type RecordOutcome = "created" | "updated" | "suppressed";

export interface RecordResult {
  readonly alert: Alert;
  readonly outcome: RecordOutcome;
  /**
   * The firing's batch was recorded already (a sender's retry): `outcome` is what the firing did
   * then, `alert` the alert as it is now, and nothing was counted again.
   */
  readonly repeated?: boolean;
}

/** Filters of `list`; every filter is optional, filters combine with AND, values inside one with OR. */
export interface AlertQuery {
  readonly severity?: readonly AlertSeverity[];
  readonly status?: readonly AlertStatus[];
  readonly rule?: readonly string[];
  /** `created_at` (detector time, ms): from inclusive, to exclusive. */
  readonly createdFrom?: number;
  readonly createdTo?: number;
  /** `last_seen` (event time, ms): from inclusive, to exclusive. */
  readonly lastSeenFrom?: number;
  readonly lastSeenTo?: number;
  /** Page size, 1…MAX_PAGE_LIMIT; DEFAULT_PAGE_LIMIT when absent. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

/** One page, newest alert first (order of creation); `nextCursor` absent on the last page. */
export interface AlertPage {
  readonly alerts: readonly Alert[];
  readonly nextCursor?: string;
}

/** An operator's change to an alert. */
export interface AlertPatch {
  readonly status?: AlertStatus;
  /** A person or team; `null` unassigns. */
  readonly assignee?: string | null;
  /**
   * Only with a closed status (moving to or staying in resolved / false_positive). `by` defaults
   * to the actor. Moving to a closed status without one records `{ at, by: actor, note: "" }`.
   */
  readonly resolution?: { readonly note: string; readonly by?: string };
  /** Optimistic concurrency: the `updated_at` the operator saw; a different one is a CONFLICT. */
  readonly expectedUpdatedAt?: string;
}

export interface UpdateResult {
  readonly before: Alert;
  readonly alert: Alert;
}

export type OpenCounts = Record<AlertSeverity, number>;

/**
 * Where alerts live. Every method is one atomic store operation, so that an implementation
 * shared by several detector replicas (Redis) keeps deduplication and concurrency exact:
 * callers never read-then-write.
 *
 * Errors: SecmonError NOT_FOUND, CONFLICT, BAD_REQUEST as documented; STORE_UNAVAILABLE when the
 * backing store cannot be reached.
 */
export interface AlertStore {
  /**
   * Deduplicates a firing against the latest alert of its (rule, group) (`firing.groupKey`), or
   * creates an alert. The alert absorbs the firing while `firing.lastSeen` is less than
   * `firing.suppressionSeconds` after the event time that created the alert (event time, so a
   * replay deduplicates as live traffic did). `now` is detector time (ms) for created_at/updated_at.
   */
  record(firing: Firing, now: number): Promise<RecordResult>;
  /** The alert, or undefined. */
  get(id: string): Promise<Alert | undefined>;
  /** Filtered, paginated, newest first. BAD_REQUEST for an invalid cursor or limit. */
  list(query: AlertQuery): Promise<AlertPage>;
  /**
   * Applies an operator's patch (see `applyPatch` for the rules). NOT_FOUND, BAD_REQUEST for an
   * invalid change, CONFLICT when `expectedUpdatedAt` is not the current `updated_at`.
   */
  update(id: string, patch: AlertPatch, actor: string, now: number): Promise<UpdateResult>;
  /** Alerts whose status is new or investigating, by severity. */
  countOpen(): Promise<OpenCounts>;
  /**
   * Drops closed alerts whose `updated_at` is older than the retention, then the oldest alerts
   * beyond the bound (closed first). Returns how many were dropped.
   */
  purge(now: number): Promise<number>;
  /** Resolves when the store is reachable; rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
}
