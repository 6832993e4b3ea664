import type { AlertSeverity, AlertStatus, ResponseAction } from "@secmon/semconv";
import type { Attributes } from "../event.ts";

/** An indicator of compromise carried by an alert. */
export interface Indicator {
  readonly type: "ip" | "network" | "user" | "user_hash" | "service" | string;
  readonly value: string;
  readonly confidence: number;
}

/** A response the detector asks services to carry out. `until` is ISO-8601, absent when open-ended. */
export interface ResponseRequest {
  readonly action: ResponseAction;
  readonly target: string;
  readonly until?: string;
}

/** One event as kept in an alert: already scrubbed, as received. */
export interface SampleEvent {
  readonly time: string;
  readonly event_name: string;
  readonly service: string;
  readonly attributes: Attributes;
  readonly trace_id?: string;
  readonly span_id?: string;
}

export interface Resolution {
  readonly at: string;
  readonly by: string;
  readonly note: string;
}

/** The alert, exactly as alerts.md shows it (API, webhook bodies and alert log records). */
export interface Alert {
  readonly id: string;
  readonly rule: string;
  readonly title: string;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly group: Readonly<Record<string, string>>;
  readonly value?: number;
  readonly threshold?: number;
  readonly window_seconds?: number;
  readonly first_seen: string;
  readonly last_seen: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly count: number;
  readonly services: readonly string[];
  readonly indicators: readonly Indicator[];
  readonly recommended_actions: readonly string[];
  readonly responses: readonly ResponseRequest[];
  readonly trace_ids: readonly string[];
  readonly sample_events: readonly SampleEvent[];
  readonly assignee?: string;
  readonly resolution?: Resolution;
}

/**
 * What the engine hands to alerting when a rule fires for a group: at most one firing per
 * (rule, group) per evaluated part of a batch (a batch wider in event time than the smallest
 * suppression period is evaluated in parts, see Engine.evaluate). Times are ms since the epoch.
 */
export interface Firing {
  readonly rule: string;
  readonly severity: AlertSeverity;
  readonly title: string;
  /** Group attribute → value, as shown to people (IPv6 groups as their prefix, e.g. `2001:db8::/64`). */
  readonly group: Readonly<Record<string, string>>;
  /** Canonical, stable string of `rule` + `group`; the deduplication key. */
  readonly groupKey: string;
  readonly value?: number;
  readonly threshold?: number;
  readonly windowSeconds?: number;
  /** Event time of the oldest event counted in the window (or of the trigger when unknown). */
  readonly firstSeen: number;
  /** Event time of the event that made the rule fire. */
  readonly lastSeen: number;
  readonly services: readonly string[];
  readonly indicators: readonly Indicator[];
  readonly recommendedActions: readonly string[];
  readonly responses: readonly ResponseRequest[];
  readonly traceIds: readonly string[];
  /** At most 10, from the events of the batch that matched. */
  readonly sampleEvents: readonly SampleEvent[];
  /** Deduplication period on event time. */
  readonly suppressionSeconds: number;
  /** Detector time at which the batch holding the trigger was received. */
  readonly receivedAt: number;
  /**
   * The batch (request) that raised it. A store answers the same firing of a retried batch with
   * the outcome it recorded the first time, without counting it again.
   */
  readonly batchId?: string;
}

/** What alerting did with a firing or an operator's change; drives sinks and metrics. */
export interface AlertChange {
  readonly type: "alert.created" | "alert.updated" | "alert.status_changed";
  readonly alert: Alert;
  /** The firing behind a created/updated change (absent for operator changes). */
  readonly firing?: Firing;
}

export type { AlertSeverity, AlertStatus };
