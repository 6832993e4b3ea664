import { ALERT_SEVERITIES, ALERT_STATUSES, type AlertSeverity } from "@secmon/semconv";
import { SecmonError } from "../errors.ts";
import {
  ConnectionUse,
  callScript,
  defineScript,
  toStoreError,
  type RedisConnection,
} from "../state/redis/connection.ts";
import { alertsBase } from "../state/redis/keys.ts";
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
import { decodeCursor, encodeCursor } from "./memory-store.ts";
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

/*
 * Alert keys, all under one hash tag (`<prefix>{a}:`, one Cluster slot) so that a script can
 * update an alert, its deduplication record and its indexes in one atomic step:
 *   alert:<id>            hash: doc (the alert JSON), rule, sev, status, created, last, updated
 *                         (ms), updated_at (ISO, the concurrency token), gk, cev (event time of
 *                         the creating firing: suppression runs from it)
 *   dedup:<group key>     string: id of the latest alert of that (rule, group)
 *   ix:all                zset (lex): every id; ids are ULIDs, so lex order is creation order
 *   ix:rule:<rule>        zset (lex): ids per rule
 *   ix:ss:<status>:<sev>  zset (lex): ids per status and severity (list filters, open counts)
 *   ix:closed             zset: closed ids by updated time (retention)
 *   ix:closedid           zset (lex): closed ids (dropped first past max_alerts)
 * Open alerts never expire (bounded by max_alerts); closed ones get a TTL of the retention plus
 * a day as a backstop to `purge`, which normally drops them first.
 */

const COMMON_LUA = String.raw`
local base = ARGV[1]
local function akey(id) return base .. 'alert:' .. id end
local function dkey(gk) return base .. 'dedup:' .. gk end
local function sskey(status, sev) return base .. 'ix:ss:' .. status .. ':' .. sev end
local function isClosed(st) return st == 'resolved' or st == 'false_positive' end
local function drop(id)
  local k = akey(id)
  local f = redis.call('HMGET', k, 'rule', 'sev', 'status', 'gk')
  redis.call('ZREM', base .. 'ix:all', id)
  redis.call('ZREM', base .. 'ix:closed', id)
  redis.call('ZREM', base .. 'ix:closedid', id)
  if f[1] then
    redis.call('ZREM', base .. 'ix:rule:' .. f[1], id)
    redis.call('ZREM', sskey(f[3], f[2]), id)
    if redis.call('GET', dkey(f[4])) == id then redis.call('DEL', dkey(f[4])) end
    redis.call('DEL', k)
  else
    for _, st in ipairs({ 'resolved', 'false_positive' }) do
      for _, sv in ipairs({ 'critical', 'high', 'medium', 'low' }) do redis.call('ZREM', sskey(st, sv), id) end
    end
  end
end
-- drops the oldest alerts past max (closed first); returns how many
local function evict(max)
  local excess = redis.call('ZCARD', base .. 'ix:all') - max
  local dropped = 0
  if excess <= 0 then return 0 end
  for _, id in ipairs(redis.call('ZRANGE', base .. 'ix:closedid', 0, excess - 1)) do
    drop(id)
    dropped = dropped + 1
  end
  excess = excess - dropped
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', base .. 'ix:all', 0, excess - 1)) do
      drop(id)
      dropped = dropped + 1
    end
  end
  return dropped
end
`;

/** KEYS[1] ix:all; ARGV base, group key → false | { id, doc | false, cev | false, batch memo | false } */
const PEEK = defineScript(
  "secmonAlertPeek",
  String.raw`
local base = ARGV[1]
local id = redis.call('GET', base .. 'dedup:' .. ARGV[2])
if not id then return false end
local f = redis.call('HMGET', base .. 'alert:' .. id, 'doc', 'cev', 'bat')
return { id, f[1], f[2], f[3] }
`,
);

/**
 * KEYS[1] ix:all; ARGV base, mode (create | update), id, group key, expected (create: the
 * dedup record's id or ''; update: the alert's updated_at), doc, rule, sev, status, created ms,
 * last seen ms, updated ms, updated_at, cev, closed TTL ms, max alerts, batch memo ('' keeps it)
 * → 'ok' | 'retry' (changed meanwhile) | 'gone' (update of a missing alert)
 */
const WRITE = defineScript(
  "secmonAlertWrite",
  COMMON_LUA +
    String.raw`
local mode, id, gk, expect = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local doc, rule, sev, status = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local created, last, updated, updatedAt, cev = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local closedTtl, max = tonumber(ARGV[15]), tonumber(ARGV[16])
local bat = ARGV[17]
local k = akey(id)
-- a new alert and an open one have no TTL and are in no closed index
local wasClosed = false
if mode == 'create' then
  local cur = redis.call('GET', dkey(gk)) or ''
  if cur ~= expect then return 'retry' end
  redis.call('HSET', k, 'doc', doc, 'rule', rule, 'sev', sev, 'status', status, 'created', created,
    'last', last, 'updated', updated, 'updated_at', updatedAt, 'gk', gk, 'cev', cev, 'bat', bat)
  redis.call('SET', dkey(gk), id)
  redis.call('ZADD', base .. 'ix:all', 0, id)
  redis.call('ZADD', base .. 'ix:rule:' .. rule, 0, id)
  redis.call('ZADD', sskey(status, sev), 0, id)
else
  local cur = redis.call('HMGET', k, 'updated_at', 'sev', 'status', 'gk')
  if not cur[1] then return 'gone' end
  if cur[1] ~= expect then return 'retry' end
  gk = cur[4]
  wasClosed = isClosed(cur[3])
  redis.call('HSET', k, 'doc', doc, 'sev', sev, 'status', status, 'last', last, 'updated', updated,
    'updated_at', updatedAt)
  if bat ~= '' then redis.call('HSET', k, 'bat', bat) end
  if cur[2] ~= sev or cur[3] ~= status then
    redis.call('ZREM', sskey(cur[3], cur[2]), id)
    redis.call('ZADD', sskey(status, sev), 0, id)
  end
end
if isClosed(status) then
  redis.call('ZADD', base .. 'ix:closed', updated, id)
  redis.call('ZADD', base .. 'ix:closedid', 0, id)
  redis.call('PEXPIRE', k, closedTtl)
  if redis.call('GET', dkey(gk)) == id then redis.call('PEXPIRE', dkey(gk), closedTtl) end
elseif wasClosed then
  -- reopened: open alerts never expire
  redis.call('ZREM', base .. 'ix:closed', id)
  redis.call('ZREM', base .. 'ix:closedid', id)
  redis.call('PERSIST', k)
  if redis.call('GET', dkey(gk)) == id then redis.call('PERSIST', dkey(gk)) end
end
if mode == 'create' then evict(max) end
return 'ok'
`,
);

/** KEYS[1] ix:all; ARGV base, cutoff ms (closed alerts updated before it go), max → dropped */
const PURGE = defineScript(
  "secmonAlertPurge",
  COMMON_LUA +
    String.raw`
local dropped = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'ix:closed', '-inf', '(' .. ARGV[2])) do
  drop(id)
  dropped = dropped + 1
end
return dropped + evict(tonumber(ARGV[3]))
`,
);

/**
 * KEYS[1] ix:all; ARGV base, limit, cursor id or '', budget, created from, created to, last
 * from, last to ('' = open), then three lists (count, values…): severities, statuses, rules.
 * Walks the narrowest indexes newest first, checks every filter on the alert hash, and stops
 * after `budget` ids examined (then the page may be short and its cursor resumes the walk).
 * → { next cursor id or '', doc, doc, … }
 */
const LIST = defineScript(
  "secmonAlertList",
  String.raw`
local base = ARGV[1]
local limit, cursor, budget = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local cFrom, cTo, lFrom, lTo = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 9
local function list()
  local n = tonumber(ARGV[i]); local out = {}; local set = {}
  for j = 1, n do out[j] = ARGV[i + j]; set[ARGV[i + j]] = true end
  i = i + n + 1
  return out, set, n
end
local sevs, sevSet, nSev = list()
local statuses, stSet, nSt = list()
local rules, ruleSet, nRule = list()
local ALL_SEV = { 'critical', 'high', 'medium', 'low' }
local ALL_ST = { 'new', 'investigating', 'resolved', 'false_positive' }
local sources = {}
if nRule > 0 then
  for _, r in ipairs(rules) do sources[#sources + 1] = base .. 'ix:rule:' .. r end
elseif nSev > 0 or nSt > 0 then
  for _, st in ipairs(nSt > 0 and statuses or ALL_ST) do
    for _, sv in ipairs(nSev > 0 and sevs or ALL_SEV) do sources[#sources + 1] = base .. 'ix:ss:' .. st .. ':' .. sv end
  end
else
  sources[1] = base .. 'ix:all'
end
local function match(id, src)
  local f = redis.call('HMGET', base .. 'alert:' .. id, 'sev', 'status', 'rule', 'created', 'last')
  if not f[1] then
    redis.call('ZREM', src, id)
    redis.call('ZREM', base .. 'ix:all', id)
    return false
  end
  if nSev > 0 and not sevSet[f[1]] then return false end
  if nSt > 0 and not stSet[f[2]] then return false end
  if nRule > 0 and not ruleSet[f[3]] then return false end
  local created, last = tonumber(f[4]), tonumber(f[5])
  if cFrom and created < cFrom then return false end
  if cTo and created >= cTo then return false end
  if lFrom and last < lFrom then return false end
  if lTo and last >= lTo then return false end
  return true
end
local found, seen = {}, {}
local floorId = nil
for _, src in ipairs(sources) do
  local max = cursor == '' and '+' or '(' .. cursor
  local mine = 0
  local done = false
  while not done do
    local chunk = redis.call('ZREVRANGEBYLEX', src, max, '-', 'LIMIT', 0, 256)
    if #chunk == 0 then break end
    for _, id in ipairs(chunk) do
      if budget <= 0 then
        if floorId == nil or id > floorId then floorId = id end
        done = true
        break
      end
      budget = budget - 1
      if match(id, src) then
        if not seen[id] then seen[id] = true; found[#found + 1] = id end
        mine = mine + 1
        if mine > limit then done = true; break end
      end
    end
    if #chunk < 256 then break end
    max = '(' .. chunk[#chunk]
  end
end
table.sort(found, function(a, b) return a > b end)
local out = { '' }
local n = 0
for _, id in ipairs(found) do
  if floorId ~= nil and id < floorId then break end
  if n == limit then out[1] = found[n]; break end
  n = n + 1
  out[n + 1] = redis.call('HGET', base .. 'alert:' .. id, 'doc')
end
if out[1] == '' and floorId ~= nil then out[1] = floorId end
return out
`,
);

export interface RedisAlertStoreOptions {
  readonly connection: RedisConnection;
  /** Closed alerts older than this (by updated_at) are purged. Default 30 days. */
  readonly retentionSeconds?: number;
  /** Most alerts kept. Default 10 000. */
  readonly maxAlerts?: number;
  readonly newId?: AlertIdFactory;
  /** Alerts examined per `list` call at most (default 10 000). */
  readonly listBudget?: number;
}

/**
 * A (rule, group)'s latest alert as this process last committed or read it: the id its
 * deduplication record holds, the alert, the event time of its creating firing (suppression runs
 * from it) and its batch memo. Committing against it checks it is still current.
 */
interface Latest {
  readonly dedupId: string;
  readonly alert: Alert | undefined;
  readonly createdEventTime: number;
  readonly memo: string;
}

const NO_ALERT: Latest = { dedupId: "", alert: undefined, createdEventTime: 0, memo: "" };

/** Groups whose latest alert a store keeps in process (a firing of one of them reads nothing). */
const MAX_LATEST = 1024;

/** Optimistic writes: a write that lost a race re-reads and tries again this often. */
const MAX_ATTEMPTS = 50;
const ID_PATTERN = /^alt_[0-9A-Za-z]{1,64}$/;

/** Backoff between optimistic attempts: random, growing to ~20 ms, so racing replicas spread out. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20, 2 * attempt)));
}

/**
 * AlertStore on Redis, shared by every detector replica. Deduplication is exact across replicas:
 * `record` reads the (rule, group)'s latest alert (or takes what this process last committed for
 * it), merges or creates with the pure logic of build.ts, and commits with a script that checks
 * nothing changed in between (the deduplication record for a create, `updated_at` for an update)
 * and otherwise reads again and retries: two replicas never create two alerts for one firing; the
 * loser's firing merges into the winner's alert.
 */
export class RedisAlertStore implements AlertStore {
  readonly #conn: RedisConnection;
  readonly #base: string;
  readonly #retentionMs: number;
  readonly #maxAlerts: number;
  readonly #newId: AlertIdFactory;
  readonly #budget: number;
  readonly #recording = new Map<string, Promise<void>>();
  /** Latest alert per group key as committed here, least recently committed first. */
  readonly #latest = new Map<string, Latest>();
  readonly #use: ConnectionUse;

  static fromConfig(
    connection: RedisConnection,
    config: Pick<AlertsConfig, "retention_seconds" | "max_alerts">,
  ): RedisAlertStore {
    return new RedisAlertStore({
      connection,
      retentionSeconds: config.retention_seconds,
      maxAlerts: config.max_alerts,
    });
  }

  constructor(options: RedisAlertStoreOptions) {
    this.#conn = options.connection;
    this.#use = new ConnectionUse(options.connection);
    this.#base = alertsBase(options.connection.prefix);
    this.#retentionMs = (options.retentionSeconds ?? 30 * 86_400) * 1000;
    this.#maxAlerts = options.maxAlerts ?? 10_000;
    this.#newId = options.newId ?? createAlertIdFactory();
    this.#budget = options.listBudget ?? 10_000;
  }

  /** Opens the shared connection. */
  start(): Promise<void> {
    return this.#use.start();
  }

  /** Releases the shared connection; idempotent, safe before start. */
  async stop(): Promise<void> {
    if (await this.#use.stop()) await this.#conn.close();
  }

  /**
   * Records of one (rule, group) run one at a time in this process (the optimistic commit then
   * only races other replicas); a lost race is retried after a short random pause.
   */
  async record(firing: Firing, now: number): Promise<RecordResult> {
    const key = firing.groupKey;
    const previous = this.#recording.get(key) ?? Promise.resolve();
    const mine = previous.then(() => this.#record(firing, now));
    const tail = mine.then(
      () => {},
      () => {},
    );
    this.#recording.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.#recording.get(key) === tail) this.#recording.delete(key);
    }
  }

  async #record(firing: Firing, now: number): Promise<RecordResult> {
    const key = firing.groupKey;
    let latest = this.#latest.get(key);
    // a commit against what this process last wrote that fails was stale, not a race: no pause
    const cached = latest !== undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (latest === undefined) {
        if (attempt > (cached ? 1 : 0)) await pause(attempt);
        latest = await this.#peek(key);
      }
      const current = latest.alert;
      if (current && firing.batchId !== undefined) {
        // a sender's retry of a batch this alert already took: the same answer, nothing counted again
        const recalled = recalledOutcome(latest.memo, firing.batchId);
        if (recalled !== undefined) return { alert: current, outcome: recalled, repeated: true };
      }
      let written: Latest & { readonly alert: Alert };
      let outcome: RecordResult["outcome"];
      let result: string;
      if (current && firing.lastSeen - latest.createdEventTime < firing.suppressionSeconds * 1000) {
        const alert = mergeFiring(current, firing, now);
        outcome = isClosed(alert.status) ? "suppressed" : "updated";
        written = { ...latest, alert, memo: rememberBatch(latest.memo, firing.batchId, outcome) };
        result = await this.#write("update", alert, key, current.updated_at, 0, written.memo);
      } else {
        const alert = alertFromFiring(firing, this.#newId(now), now);
        outcome = "created";
        written = {
          dedupId: alert.id,
          alert,
          createdEventTime: firing.lastSeen,
          memo: rememberBatch("", firing.batchId, outcome),
        };
        result = await this.#write("create", alert, key, latest.dedupId, firing.lastSeen, written.memo);
      }
      if (result === "ok") {
        this.#remember(key, written);
        return { alert: written.alert, outcome };
      }
      this.#latest.delete(key);
      latest = undefined;
    }
    throw new SecmonError("CONFLICT", `alert of ${key} kept changing; retry`);
  }

  /** The group's latest alert as Redis has it. */
  async #peek(groupKey: string): Promise<Latest> {
    const peek = (await this.#call(PEEK, [groupKey], "record")) as
      [string, string | null, string | null, string | null] | null;
    if (!peek) return NO_ALERT;
    return {
      dedupId: peek[0],
      // a deduplication record whose alert is gone (purged): a create still replaces it
      alert: peek[1] ? (JSON.parse(peek[1]) as Alert) : undefined,
      createdEventTime: Number(peek[2]),
      memo: peek[3] ?? "",
    };
  }

  /** Keeps what was just committed for the group (the most recent MAX_LATEST groups). */
  #remember(groupKey: string, latest: Latest): void {
    this.#latest.delete(groupKey);
    this.#latest.set(groupKey, latest);
    if (this.#latest.size > MAX_LATEST) {
      const oldest = this.#latest.keys().next().value;
      if (oldest !== undefined) this.#latest.delete(oldest);
    }
  }

  async get(id: string): Promise<Alert | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const doc = await this.#do("get", (c) => c.hget(`${this.#base}alert:${id}`, "doc"));
    return doc ? (JSON.parse(doc) as Alert) : undefined;
  }

  async list(query: AlertQuery): Promise<AlertPage> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw new SecmonError("BAD_REQUEST", `limit: must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
    }
    const cursor = query.cursor === undefined ? "" : decodeCursor(query.cursor);
    const opt = (n: number | undefined) => (n === undefined ? "" : String(n));
    const list = (values: readonly string[] | undefined) => [String(values?.length ?? 0), ...(values ?? [])];
    const reply = (await this.#call(
      LIST,
      [
        String(limit),
        cursor,
        String(this.#budget),
        opt(query.createdFrom),
        opt(query.createdTo),
        opt(query.lastSeenFrom),
        opt(query.lastSeenTo),
        ...list(query.severity),
        ...list(query.status),
        ...list(query.rule),
      ],
      "list",
    )) as string[];
    const [next, ...docs] = reply;
    const alerts = docs.map((d) => JSON.parse(d) as Alert);
    return next ? { alerts, nextCursor: encodeCursor(next) } : { alerts };
  }

  async update(id: string, patch: AlertPatch, actor: string, now: number): Promise<UpdateResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(attempt);
      const before = await this.get(id);
      if (!before) throw new SecmonError("NOT_FOUND", `alert ${id}`);
      const alert = applyPatch(before, patch, actor, now);
      const outcome = await this.#write("update", alert, "", before.updated_at, 0, "");
      if (outcome === "ok") return { before, alert };
      if (outcome === "gone") throw new SecmonError("NOT_FOUND", `alert ${id}`);
    }
    throw new SecmonError("CONFLICT", `alert ${id} kept changing; retry`);
  }

  async countOpen(): Promise<OpenCounts> {
    const counts = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<AlertSeverity, number>;
    const replies = await this.#do("count", (c) => {
      const p = c.pipeline();
      for (const status of ["new", "investigating"] as const) {
        for (const sev of ALERT_SEVERITIES) p.zcard(`${this.#base}ix:ss:${status}:${sev}`);
      }
      return p.exec();
    });
    let i = 0;
    for (let s = 0; s < 2; s++) {
      for (const sev of ALERT_SEVERITIES) {
        const [err, n] = replies?.[i++] ?? [new Error("no reply"), 0];
        if (err) throw toStoreError(err, "alert store count");
        counts[sev] += Number(n);
      }
    }
    return counts;
  }

  async purge(now: number): Promise<number> {
    const n = await this.#call(PURGE, [String(now - this.#retentionMs), String(this.#maxAlerts)], "purge");
    return Number(n);
  }

  async ping(): Promise<void> {
    await this.#conn.ping();
  }

  /** Commits one alert: 'ok', or 'retry' / 'gone' when its precondition failed. */
  async #write(
    mode: "create" | "update",
    alert: Alert,
    groupKey: string,
    expected: string,
    createdEventTime: number,
    batches: string,
  ): Promise<string> {
    const reply = await this.#call(
      WRITE,
      [
        mode,
        alert.id,
        groupKey,
        expected,
        JSON.stringify(alert),
        alert.rule,
        alert.severity,
        alert.status,
        String(Date.parse(alert.created_at)),
        String(Date.parse(alert.last_seen)),
        String(Date.parse(alert.updated_at)),
        alert.updated_at,
        String(createdEventTime),
        String(this.#retentionMs + 86_400_000),
        String(this.#maxAlerts),
        batches,
      ],
      mode,
    );
    return String(reply);
  }

  #call(script: Parameters<typeof callScript>[1], args: readonly string[], what: string): Promise<unknown> {
    return this.#do(what, (c) => callScript(c, script, [`${this.#base}ix:all`], [this.#base, ...args]));
  }

  async #do<T>(what: string, fn: (client: RedisConnection["client"]) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#conn.client);
    } catch (err) {
      throw toStoreError(err, `alert store ${what}`);
    }
  }
}

/** Statuses and severities the scripts spell out (kept in step with semconv by a test). */
export const SCRIPT_VOCABULARY = { severities: ALERT_SEVERITIES, statuses: ALERT_STATUSES } as const;
