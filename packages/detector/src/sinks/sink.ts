import type { AlertEventType, AlertSeverity } from "@secmon/semconv";
import { severityRank } from "../alerts/build.ts";
import type { AlertChange } from "../alerts/types.ts";
import type { Delivery } from "../outbox/types.ts";

export type { Delivery };

/** The outcome of one attempt. Sinks return failures, they never throw them. */
export type AttemptResult =
  | { readonly ok: true; readonly status?: number }
  | {
      readonly ok: false;
      /** Network error, timeout, 408, 429, 5xx: worth another try. */
      readonly retryable: boolean;
      readonly status?: number;
      /** The receiver's Retry-After, in ms. */
      readonly retryAfterMs?: number;
      /** Safe to show to an operator (no secrets). */
      readonly detail: string;
    };

/**
 * A destination: formats a delivery and makes one attempt. Retries, timeouts between tries,
 * concurrency, filters and dead letters belong to the dispatcher, so a new sink (Slack,
 * PagerDuty, Alertmanager, e-mail, OTLP) implements only this.
 */
export interface Sink {
  readonly name: string;
  readonly type: string;
  /** One attempt. `signal` aborts it when the detector stops. */
  send(delivery: Delivery, signal: AbortSignal): Promise<AttemptResult>;
  /**
   * One attempt for several deliveries sent as one message (e-mail batches); the result holds
   * for all of them. Only called for routes with `batch`.
   */
  sendBatch?(deliveries: readonly Delivery[], signal: AbortSignal): Promise<AttemptResult>;
  /** Releases resources (idempotent). */
  close?(): Promise<void>;
}

/** Which changes a sink receives. */
export interface SinkFilter {
  readonly minSeverity: AlertSeverity;
  /** Empty: every rule. */
  readonly includeRules: readonly string[];
  readonly excludeRules: readonly string[];
  readonly events: readonly AlertEventType[];
}

export function passes(filter: SinkFilter, change: Pick<AlertChange, "type" | "alert">): boolean {
  const { alert } = change;
  if (severityRank(alert.severity) > severityRank(filter.minSeverity)) return false;
  if (!filter.events.includes(change.type)) return false;
  if (filter.includeRules.length > 0 && !filter.includeRules.includes(alert.rule)) return false;
  return !filter.excludeRules.includes(alert.rule);
}

/** How the dispatcher retries a sink's failed attempts. */
export interface RetryPolicy {
  /** Total time a delivery may be retried, from its first attempt; 0: one attempt only. */
  readonly maxRetryMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const NO_RETRY: RetryPolicy = { maxRetryMs: 0, initialBackoffMs: 0, maxBackoffMs: 0 };

/** Deliveries of a batching sink go out together, at most one message per window. */
export interface BatchPolicy {
  readonly windowMs: number;
  /** Most deliveries in one message; the rest wait for the next window. */
  readonly maxItems: number;
}

/** A sink as the dispatcher drives it. */
export interface SinkRoute {
  readonly sink: Sink;
  readonly filter: SinkFilter;
  readonly retry: RetryPolicy;
  readonly maxConcurrency: number;
  /** Deliveries the outbox may hold for this sink; past it a new one becomes a dead letter (queue_full). */
  readonly queueCapacity: number;
  /** Longest one attempt may take (its lease in the outbox is longer). Default 60 s. */
  readonly timeoutMs?: number;
  /** Dead letters kept for this sink. Default 1000. */
  readonly maxDeadLetters?: number;
  readonly batch?: BatchPolicy;
}

/** Exponential backoff with full jitter: uniform in [0, min(max, initial × 2^(retry−1))]. */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as seconds or an HTTP date → ms from `now`; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
