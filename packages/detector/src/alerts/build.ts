/**
 * Pure alert logic shared by every AlertStore implementation: building an alert from a firing,
 * merging a firing into an alert, and applying an operator's patch. A store only decides
 * atomically which of these to run.
 */
import { ALERT_SEVERITIES, ALERT_STATUSES, type AlertSeverity, type AlertStatus } from "@secmon/semconv";
import { monotonicFactory } from "ulidx";
import { SecmonError } from "../errors.ts";
import type { AlertPatch, RecordOutcome } from "./store.ts";
import type { Alert, Firing, Indicator, SampleEvent } from "./types.ts";

/** Most sample events an alert keeps (alerts.md). */
export const MAX_SAMPLE_EVENTS = 10;
/** Most services, trace ids and indicators an alert keeps. */
export const MAX_SERVICES = 20;
export const MAX_TRACE_IDS = 20;
export const MAX_INDICATORS = 20;
export const MAX_ASSIGNEE_LENGTH = 200;
export const MAX_NOTE_LENGTH = 4000;

export const ALERT_ID_PREFIX = "alt_";

export type AlertIdFactory = (now: number) => string;

/** `alt_` + a monotonic ULID seeded with detector time: ids sort in creation order. */
export function createAlertIdFactory(): AlertIdFactory {
  const next = monotonicFactory();
  return (now) => ALERT_ID_PREFIX + next(now);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `updated_at` strictly increases per alert, so that it works as a concurrency token. */
export function nextUpdatedAt(previous: string, now: number): string {
  const prev = Date.parse(previous);
  return iso(Number.isFinite(prev) && now <= prev ? prev + 1 : now);
}

export function isClosed(status: AlertStatus): boolean {
  return status === "resolved" || status === "false_positive";
}

export function severityRank(severity: AlertSeverity): number {
  return ALERT_SEVERITIES.indexOf(severity);
}

/** The alert JSON of alerts.md for a firing that creates an alert. */
export function alertFromFiring(firing: Firing, id: string, now: number): Alert {
  const at = iso(now);
  return {
    id,
    rule: firing.rule,
    title: firing.title,
    severity: firing.severity,
    status: "new",
    group: { ...firing.group },
    ...(firing.value !== undefined ? { value: firing.value } : {}),
    ...(firing.threshold !== undefined ? { threshold: firing.threshold } : {}),
    ...(firing.windowSeconds !== undefined ? { window_seconds: firing.windowSeconds } : {}),
    first_seen: iso(Math.min(firing.firstSeen, firing.lastSeen)),
    last_seen: iso(firing.lastSeen),
    created_at: at,
    updated_at: at,
    count: 1,
    services: unionStrings([], firing.services, MAX_SERVICES),
    indicators: mergeIndicators([], firing.indicators),
    recommended_actions: [...firing.recommendedActions],
    responses: firing.responses.map((r) => ({ ...r })),
    trace_ids: unionStrings([], firing.traceIds, MAX_TRACE_IDS),
    sample_events: mergeSamples([], firing.sampleEvents),
  };
}

/**
 * A firing absorbed by an existing alert: first_seen/last_seen widened, count + 1,
 * services/trace ids/indicators merged (bounded), the 10 most recent sample events kept,
 * severity raised if the firing's is higher. Value, threshold, window and responses come from
 * the firing only when it is at least as new as what the alert shows (`isNewerFiring`), so that
 * a firing of an earlier batch that commits later (another replica, a retry) never moves them
 * back. Status, assignee and resolution are untouched.
 */
export function mergeFiring(alert: Alert, firing: Firing, now: number): Alert {
  const firstSeen = Math.min(Date.parse(alert.first_seen), firing.firstSeen, firing.lastSeen);
  const lastSeen = Math.max(Date.parse(alert.last_seen), firing.lastSeen);
  const severity =
    severityRank(firing.severity) < severityRank(alert.severity) ? firing.severity : alert.severity;
  const newer = isNewerFiring(alert, firing);
  return {
    ...alert,
    severity,
    ...(newer && firing.value !== undefined ? { value: firing.value } : {}),
    ...(newer && firing.threshold !== undefined ? { threshold: firing.threshold } : {}),
    ...(newer && firing.windowSeconds !== undefined ? { window_seconds: firing.windowSeconds } : {}),
    first_seen: iso(firstSeen),
    last_seen: iso(lastSeen),
    updated_at: nextUpdatedAt(alert.updated_at, now),
    count: alert.count + 1,
    services: unionStrings(alert.services, firing.services, MAX_SERVICES),
    indicators: mergeIndicators(alert.indicators, firing.indicators),
    responses:
      newer && firing.responses.length > 0 ? firing.responses.map((r) => ({ ...r })) : alert.responses,
    trace_ids: unionStrings(alert.trace_ids, firing.traceIds, MAX_TRACE_IDS),
    sample_events: mergeSamples(alert.sample_events, firing.sampleEvents),
  };
}

/**
 * Whether `firing` describes the alert's group at least as recently as the alert does: its window
 * ends later in event time (`lastSeen` against `last_seen`), or at the same time with a value at
 * least as large (the same window with more of its events counted, as a replica that evaluated
 * after another sees it). Commit order does not matter: absorbing two firings in either order
 * gives the same value.
 */
function isNewerFiring(alert: Alert, firing: Firing): boolean {
  const shown = Date.parse(alert.last_seen);
  if (firing.lastSeen !== shown) return firing.lastSeen > shown;
  return (firing.value ?? -Infinity) >= (alert.value ?? -Infinity);
}

/** How many batch ids an alert remembers, with what their firing did to it, to answer retries. */
const MAX_REMEMBERED_BATCHES = 16;

const OUTCOME_CODES: Readonly<Record<RecordOutcome, string>> = {
  created: "c",
  updated: "u",
  suppressed: "s",
};
const OUTCOMES_BY_CODE: ReadonlyMap<string, RecordOutcome> = new Map(
  Object.entries(OUTCOME_CODES).map(([outcome, code]) => [code, outcome as RecordOutcome]),
);

/**
 * What the firing of `batchId` did to the alert, from its batch memo (`"<batch id> <c|u|s>"`
 * lines, newest last), or undefined when the batch is not remembered.
 */
export function recalledOutcome(memo: string, batchId: string): RecordOutcome | undefined {
  if (memo === "" || batchId.includes("\n")) return undefined;
  for (const line of memo.split("\n")) {
    const space = line.lastIndexOf(" ");
    if (line.slice(0, space) !== batchId) continue;
    return OUTCOMES_BY_CODE.get(line.slice(space + 1));
  }
  return undefined;
}

/** The memo with `batchId` → `outcome` added (the oldest dropped past MAX_REMEMBERED_BATCHES). */
export function rememberBatch(memo: string, batchId: string | undefined, outcome: RecordOutcome): string {
  if (batchId === undefined || batchId === "" || batchId.includes("\n")) return memo;
  const lines = memo === "" ? [] : memo.split("\n");
  lines.push(`${batchId} ${OUTCOME_CODES[outcome]}`);
  return lines.slice(-MAX_REMEMBERED_BATCHES).join("\n");
}

/** Status moves an operator may make; staying in the same status is always allowed. */
export const STATUS_TRANSITIONS: Readonly<Record<AlertStatus, readonly AlertStatus[]>> = {
  new: ["investigating", "resolved", "false_positive"],
  investigating: ["new", "resolved", "false_positive"],
  resolved: ["investigating"],
  false_positive: ["investigating"],
};

/**
 * Applies an operator's patch; throws BAD_REQUEST naming the field for an invalid change and
 * CONFLICT when `expectedUpdatedAt` is stale. Moving to resolved / false_positive sets
 * `resolution` (`at` now, `by` the actor unless given); reopening removes it.
 */
export function applyPatch(alert: Alert, patch: AlertPatch, actor: string, now: number): Alert {
  if (patch.expectedUpdatedAt !== undefined && patch.expectedUpdatedAt !== alert.updated_at) {
    throw new SecmonError(
      "CONFLICT",
      `alert ${alert.id} was updated at ${alert.updated_at}, not ${patch.expectedUpdatedAt}`,
    );
  }
  if (patch.status === undefined && patch.assignee === undefined && patch.resolution === undefined) {
    throw new SecmonError("BAD_REQUEST", "nothing to change: give status, assignee or resolution");
  }
  const target = patch.status ?? alert.status;
  if (!(ALERT_STATUSES as readonly string[]).includes(target)) {
    throw new SecmonError("BAD_REQUEST", `status: unknown status ${JSON.stringify(target)}`);
  }
  if (target !== alert.status && !STATUS_TRANSITIONS[alert.status].includes(target)) {
    throw new SecmonError("BAD_REQUEST", `status: cannot move from ${alert.status} to ${target}`);
  }
  if (patch.resolution !== undefined && !isClosed(target)) {
    throw new SecmonError("BAD_REQUEST", "resolution: only allowed with status resolved or false_positive");
  }
  if (patch.resolution !== undefined && patch.resolution.note.length > MAX_NOTE_LENGTH) {
    throw new SecmonError("BAD_REQUEST", `resolution.note: longer than ${MAX_NOTE_LENGTH} characters`);
  }
  if (typeof patch.assignee === "string" && patch.assignee.length > MAX_ASSIGNEE_LENGTH) {
    throw new SecmonError("BAD_REQUEST", `assignee: longer than ${MAX_ASSIGNEE_LENGTH} characters`);
  }
  const { assignee: _assignee, resolution: _resolution, ...rest } = alert;
  const assignee = patch.assignee === undefined ? alert.assignee : (patch.assignee ?? undefined);
  let resolution = alert.resolution;
  if (!isClosed(target)) {
    resolution = undefined;
  } else if (patch.resolution !== undefined || target !== alert.status || resolution === undefined) {
    resolution = {
      at: iso(now),
      by: patch.resolution?.by ?? actor,
      note: patch.resolution?.note ?? "",
    };
  }
  return {
    ...rest,
    status: target,
    updated_at: nextUpdatedAt(alert.updated_at, now),
    ...(assignee !== undefined && assignee !== "" ? { assignee } : {}),
    ...(resolution !== undefined ? { resolution } : {}),
  };
}

function unionStrings(current: readonly string[], extra: readonly string[], max: number): string[] {
  const out = [...current];
  for (const s of extra) {
    if (out.length >= max) break;
    if (s !== "" && !out.includes(s)) out.push(s);
  }
  return out;
}

function mergeIndicators(current: readonly Indicator[], extra: readonly Indicator[]): Indicator[] {
  const out = [...current];
  for (const ind of extra) {
    const i = out.findIndex((o) => o.type === ind.type && o.value === ind.value);
    const existing = i >= 0 ? out[i] : undefined;
    if (existing) {
      if (ind.confidence > existing.confidence) out[i] = { ...ind };
    } else if (out.length < MAX_INDICATORS) {
      out.push({ ...ind });
    }
  }
  return out;
}

/**
 * The most recent MAX_SAMPLE_EVENTS events, oldest first, without exact duplicates. Runs for every
 * firing an alert absorbs: attributes are compared as JSON only when everything else is equal.
 */
function mergeSamples(current: readonly SampleEvent[], extra: readonly SampleEvent[]): SampleEvent[] {
  const all = [...current, ...extra].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const out: SampleEvent[] = [];
  for (let i = all.length - 1; i >= 0 && out.length < MAX_SAMPLE_EVENTS; i--) {
    const s = all[i]!;
    if (!out.some((kept) => sameSample(kept, s))) out.push(s);
  }
  return out.reverse();
}

function sameSample(a: SampleEvent, b: SampleEvent): boolean {
  return (
    a.time === b.time &&
    a.event_name === b.event_name &&
    a.service === b.service &&
    a.span_id === b.span_id &&
    (a.attributes === b.attributes || JSON.stringify(a.attributes) === JSON.stringify(b.attributes))
  );
}
