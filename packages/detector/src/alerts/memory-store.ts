import { ALERT_SEVERITIES, type AlertSeverity } from "@secmon/semconv";
import { SecmonError } from "../errors.ts";
import {
  alertFromFiring,
  applyPatch,
  createAlertIdFactory,
  isClosed,
  mergeFiring,
  recalledOutcome,
  rememberBatch,
  type AlertIdFactory,
} from "./build.ts";
import {
  DEFAULT_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  type AlertPage,
  type AlertPatch,
  type AlertQuery,
  type AlertStore,
  type OpenCounts,
  type RecordResult,
  type UpdateResult,
} from "./store.ts";
import type { AlertsConfig } from "./config.ts";
import type { Alert, Firing } from "./types.ts";

export interface MemoryAlertStoreOptions {
  /** Closed alerts older than this (by updated_at) are purged. Default 30 days. */
  readonly retentionSeconds?: number;
  /** Most alerts kept. Default 10 000. */
  readonly maxAlerts?: number;
  /** Id generator (tests may pass a deterministic one). */
  readonly newId?: AlertIdFactory;
}

interface Entry {
  alert: Alert;
  readonly dedupKey: string;
  /** Event time (ms) of the firing that created the alert: suppression runs from here. */
  readonly createdEventTime: number;
  /** The batches whose firings it took, with the outcome (see rememberBatch). */
  batches: string;
}

/**
 * AlertStore in process memory: one detector replica, lost on restart. Each method runs to
 * completion without awaiting, so every operation is atomic.
 */
export class MemoryAlertStore implements AlertStore {
  readonly #retentionMs: number;
  readonly #maxAlerts: number;
  readonly #newId: AlertIdFactory;
  /** Insertion order = id order (monotonic ids): ascending, oldest first. */
  readonly #entries = new Map<string, Entry>();
  #order: string[] = [];
  /** groupKey → id of the latest alert of that (rule, group). */
  readonly #latest = new Map<string, string>();

  /** A store bounded by the `alerts` config section. */
  static fromConfig(config: Pick<AlertsConfig, "retention_seconds" | "max_alerts">): MemoryAlertStore {
    return new MemoryAlertStore({ retentionSeconds: config.retention_seconds, maxAlerts: config.max_alerts });
  }

  constructor(options: MemoryAlertStoreOptions = {}) {
    this.#retentionMs = (options.retentionSeconds ?? 30 * 86_400) * 1000;
    this.#maxAlerts = options.maxAlerts ?? 10_000;
    this.#newId = options.newId ?? createAlertIdFactory();
  }

  async record(firing: Firing, now: number): Promise<RecordResult> {
    const latestId = this.#latest.get(firing.groupKey);
    const entry = latestId === undefined ? undefined : this.#entries.get(latestId);
    if (entry && firing.batchId !== undefined) {
      // a sender's retry of a batch this alert already took: the same answer, nothing counted again
      const recalled = recalledOutcome(entry.batches, firing.batchId);
      if (recalled !== undefined) return { alert: entry.alert, outcome: recalled, repeated: true };
    }
    if (entry && firing.lastSeen - entry.createdEventTime < firing.suppressionSeconds * 1000) {
      entry.alert = mergeFiring(entry.alert, firing, now);
      const outcome = isClosed(entry.alert.status) ? "suppressed" : "updated";
      entry.batches = rememberBatch(entry.batches, firing.batchId, outcome);
      return { alert: entry.alert, outcome };
    }
    const id = this.#newId(now);
    // ids must keep ascending for the ordered index; a custom factory that breaks this is a bug.
    const last = this.#order.at(-1);
    if (last !== undefined && id <= last) {
      throw new SecmonError("INTERNAL", `alert id ${id} does not sort after ${last}`);
    }
    const alert = alertFromFiring(firing, id, now);
    this.#entries.set(id, {
      alert,
      dedupKey: firing.groupKey,
      createdEventTime: firing.lastSeen,
      batches: rememberBatch("", firing.batchId, "created"),
    });
    this.#order.push(id);
    this.#latest.set(firing.groupKey, id);
    if (this.#entries.size > this.#maxAlerts) this.#evictOverflow();
    return { alert, outcome: "created" };
  }

  async get(id: string): Promise<Alert | undefined> {
    return this.#entries.get(id)?.alert;
  }

  async list(query: AlertQuery): Promise<AlertPage> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw new SecmonError("BAD_REQUEST", `limit: must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
    }
    let start = this.#order.length - 1;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      // the first index whose id sorts below the cursor's, walking down
      start = lowerBound(this.#order, after) - 1;
    }
    const match = matcher(query);
    const alerts: Alert[] = [];
    let i = start;
    for (; i >= 0 && alerts.length < limit; i--) {
      const entry = this.#entries.get(this.#order[i] as string);
      if (entry && match(entry.alert)) alerts.push(entry.alert);
    }
    let more = false;
    for (; i >= 0; i--) {
      const entry = this.#entries.get(this.#order[i] as string);
      if (entry && match(entry.alert)) {
        more = true;
        break;
      }
    }
    const lastAlert = alerts.at(-1);
    return more && lastAlert ? { alerts, nextCursor: encodeCursor(lastAlert.id) } : { alerts };
  }

  async update(id: string, patch: AlertPatch, actor: string, now: number): Promise<UpdateResult> {
    const entry = this.#entries.get(id);
    if (!entry) throw new SecmonError("NOT_FOUND", `alert ${id}`);
    const before = entry.alert;
    entry.alert = applyPatch(before, patch, actor, now);
    return { before, alert: entry.alert };
  }

  async countOpen(): Promise<OpenCounts> {
    const counts = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<AlertSeverity, number>;
    for (const { alert } of this.#entries.values()) {
      if (!isClosed(alert.status)) counts[alert.severity] += 1;
    }
    return counts;
  }

  async purge(now: number): Promise<number> {
    const cutoff = now - this.#retentionMs;
    let dropped = 0;
    for (const [id, entry] of this.#entries) {
      if (isClosed(entry.alert.status) && Date.parse(entry.alert.updated_at) < cutoff) {
        this.#drop(id, entry);
        dropped += 1;
      }
    }
    if (dropped > 0) this.#order = this.#order.filter((id) => this.#entries.has(id));
    return dropped + this.#evictOverflow();
  }

  async ping(): Promise<void> {}

  /** Number of alerts held (for tests and gauges). */
  get size(): number {
    return this.#entries.size;
  }

  #evictOverflow(): number {
    let excess = this.#entries.size - this.#maxAlerts;
    if (excess <= 0) return 0;
    const dropped = excess;
    // oldest closed alerts first, then the oldest open ones
    for (const closedOnly of [true, false]) {
      for (const id of this.#order) {
        if (excess === 0) break;
        const entry = this.#entries.get(id);
        if (!entry || (closedOnly && !isClosed(entry.alert.status))) continue;
        this.#drop(id, entry);
        excess -= 1;
      }
    }
    this.#order = this.#order.filter((id) => this.#entries.has(id));
    return dropped;
  }

  #drop(id: string, entry: Entry): void {
    this.#entries.delete(id);
    if (this.#latest.get(entry.dedupKey) === id) this.#latest.delete(entry.dedupKey);
  }
}

function matcher(q: AlertQuery): (a: Alert) => boolean {
  return (a) => {
    if (q.severity && q.severity.length > 0 && !q.severity.includes(a.severity)) return false;
    if (q.status && q.status.length > 0 && !q.status.includes(a.status)) return false;
    if (q.rule && q.rule.length > 0 && !q.rule.includes(a.rule)) return false;
    if (q.createdFrom !== undefined || q.createdTo !== undefined) {
      const t = Date.parse(a.created_at);
      if (q.createdFrom !== undefined && t < q.createdFrom) return false;
      if (q.createdTo !== undefined && t >= q.createdTo) return false;
    }
    if (q.lastSeenFrom !== undefined || q.lastSeenTo !== undefined) {
      const t = Date.parse(a.last_seen);
      if (q.lastSeenFrom !== undefined && t < q.lastSeenFrom) return false;
      if (q.lastSeenTo !== undefined && t >= q.lastSeenTo) return false;
    }
    return true;
  };
}

/** First index whose id is >= `id` in the ascending array. */
function lowerBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const CURSOR_PREFIX = "c1.";

/** Cursors are opaque to clients: `c1.` + base64url of the last alert id of the page. */
export function encodeCursor(id: string): string {
  return CURSOR_PREFIX + Buffer.from(id, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  if (cursor.startsWith(CURSOR_PREFIX)) {
    const id = Buffer.from(cursor.slice(CURSOR_PREFIX.length), "base64url").toString("utf8");
    if (/^alt_[0-9A-Za-z]{1,64}$/.test(id)) return id;
  }
  throw new SecmonError("BAD_REQUEST", "cursor: not a cursor returned by this API");
}
