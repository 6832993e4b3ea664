import {
  ConnectionUse,
  callScript,
  defineScript,
  toStoreError,
  type RedisConnection,
} from "../state/redis/connection.ts";
import { reportBase } from "../state/redis/keys.ts";
import type { TopEntry } from "./space-saving.ts";
import {
  COUNTER_KEYS,
  HOUR_MS,
  zeroCounters,
  type HourTally,
  type ReportStore,
  type ReportSummary,
} from "./store.ts";

/*
 * Report keys, all under one hash tag (`<prefix>{r}:`, one Cluster slot), per UTC hour (ms):
 *   c:<hour>   hash: the counters, plus `floor_i` / `floor_a` of the two sketches
 *   u:<hour>   HyperLogLog of client addresses (PFADD; PFCOUNT over hours is the union)
 *   ti:<hour>  zset: failed sign-ins by user.hash, a space-saving sketch (≤ 2 × capacity)
 *   ei:<hour>  hash: each sketch value's overestimate (absent: exact)
 *   ta:<hour>, ea:<hour>: the same by client address
 *   b:<batch id> applied-batch marker (applied_batch_ttl_seconds)
 * Every key of an hour expires when the hour leaves the retention.
 */

/**
 * KEYS[1] c:0 (routing); ARGV base, capacity, applied-batch marker key ('' for none), its TTL
 * ms, then per tally: hour, ttl ms, the counters (in COUNTER_KEYS order), n addresses,
 * addresses…, n identifiers, (value, count)…, n failed addresses, (value, count)…
 * → 1 applied, 0 already applied (the marker existed: nothing is counted again)
 */
const ADD = defineScript(
  "secmonReportAdd",
  String.raw`
local base, cap = ARGV[1], tonumber(ARGV[2])
if ARGV[3] ~= '' and not redis.call('SET', ARGV[3], '1', 'NX', 'PX', ARGV[4]) then return 0 end
local COUNTERS = { 'events', 'sign_ins', 'failed_sign_ins', 'locked_accounts', 'password_resets' }
local function sketch(zk, ek, ck, ff, v, n)
  if redis.call('ZSCORE', zk, v) then
    redis.call('ZINCRBY', zk, n, v)
    return
  end
  local floor = tonumber(redis.call('HGET', ck, ff) or '0')
  redis.call('ZADD', zk, floor + n, v)
  if floor > 0 then redis.call('HSET', ek, v, floor) end
  local card = redis.call('ZCARD', zk)
  if card > 2 * cap then
    local gone = redis.call('ZRANGE', zk, 0, card - cap - 1, 'WITHSCORES')
    for j = 1, #gone, 2 do
      local c = tonumber(gone[j + 1])
      if c > floor then floor = c end
      redis.call('HDEL', ek, gone[j])
    end
    redis.call('ZREMRANGEBYRANK', zk, 0, card - cap - 1)
    redis.call('HSET', ck, ff, floor)
  end
end
local i = 5
while i <= #ARGV do
  local hour, ttl = ARGV[i], ARGV[i + 1]
  i = i + 2
  local ck, uk = base .. 'c:' .. hour, base .. 'u:' .. hour
  for _, name in ipairs(COUNTERS) do
    local n = tonumber(ARGV[i])
    if n ~= 0 then redis.call('HINCRBY', ck, name, n) end
    i = i + 1
  end
  local keys = { ck }
  local nAddr = tonumber(ARGV[i])
  i = i + 1
  if nAddr > 0 then
    local batch = {}
    for j = 0, nAddr - 1 do batch[#batch + 1] = ARGV[i + j] end
    for j = 1, #batch, 1000 do redis.call('PFADD', uk, unpack(batch, j, math.min(j + 999, #batch))) end
    keys[#keys + 1] = uk
  end
  i = i + nAddr
  for _, s in ipairs({ { 'ti:', 'ei:', 'floor_i' }, { 'ta:', 'ea:', 'floor_a' } }) do
    local zk, ek = base .. s[1] .. hour, base .. s[2] .. hour
    local n = tonumber(ARGV[i])
    i = i + 1
    for j = 0, n - 1 do sketch(zk, ek, ck, s[3], ARGV[i + 2 * j], tonumber(ARGV[i + 2 * j + 1])) end
    i = i + 2 * n
    if n > 0 then keys[#keys + 1] = zk; keys[#keys + 1] = ek end
  end
  for _, k in ipairs(keys) do redis.call('PEXPIRE', k, ttl) end
end
return 1
`,
);

/**
 * KEYS[1] c:0; ARGV base, from hour, to hour, top
 * → { counters…, unique addresses, n, (value, count, error)… identifiers, n, … addresses }
 */
const SUMMARIZE = defineScript(
  "secmonReportSummarize",
  String.raw`
local base, from, to, top = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local COUNTERS = { 'events', 'sign_ins', 'failed_sign_ins', 'locked_accounts', 'password_resets' }
local totals = { 0, 0, 0, 0, 0 }
local hours, hlls = {}, {}
local h = from
while h < to do
  local hs = string.format('%d', h)
  local c = redis.call('HMGET', base .. 'c:' .. hs, unpack(COUNTERS))
  local any = false
  for j = 1, 5 do
    if c[j] then totals[j] = totals[j] + tonumber(c[j]); any = true end
  end
  if any or redis.call('EXISTS', base .. 'u:' .. hs) == 1 then hours[#hours + 1] = hs end
  if redis.call('EXISTS', base .. 'u:' .. hs) == 1 then hlls[#hlls + 1] = base .. 'u:' .. hs end
  h = h + 3600000
end
local out = {}
for j = 1, 5 do out[j] = string.format('%d', totals[j]) end
out[6] = #hlls > 0 and redis.call('PFCOUNT', unpack(hlls)) or 0
local tmp = base .. 'tmp'
for _, s in ipairs({ { 'ti:', 'ei:' }, { 'ta:', 'ea:' } }) do
  local keys = {}
  for _, hs in ipairs(hours) do
    if redis.call('EXISTS', base .. s[1] .. hs) == 1 then keys[#keys + 1] = base .. s[1] .. hs end
  end
  local entries = {}
  if #keys > 0 then
    redis.call('ZUNIONSTORE', tmp, #keys, unpack(keys))
    local firstK = redis.call('ZREVRANGE', tmp, top - 1, top - 1, 'WITHSCORES')
    local min = firstK[2] or '-inf'
    entries = redis.call('ZREVRANGEBYSCORE', tmp, '+inf', min, 'WITHSCORES')
    redis.call('DEL', tmp)
  end
  out[#out + 1] = #entries / 2
  for j = 1, #entries, 2 do
    local v = entries[j]
    local err = 0
    for _, hs in ipairs(hours) do
      local e = redis.call('HGET', base .. s[2] .. hs, v)
      if e then err = err + tonumber(e) end
    end
    out[#out + 1] = v
    out[#out + 1] = entries[j + 1]
    out[#out + 1] = string.format('%d', err)
  end
end
return out
`,
);

/** KEYS[1] c:0; ARGV base, from hour, to hour → events */
const COUNT_EVENTS = defineScript(
  "secmonReportEvents",
  String.raw`
local base, h, to = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = 0
while h < to do
  local v = redis.call('HGET', base .. 'c:' .. string.format('%d', h), 'events')
  if v then n = n + tonumber(v) end
  h = h + 3600000
end
return n
`,
);

export interface RedisReportStoreOptions {
  readonly connection: RedisConnection;
  /** Counters per top-k sketch. Default 100. */
  readonly topKCapacity?: number;
  /** Hours kept (the longest report period plus the current hour). Default 30 days + 1 h. */
  readonly retentionHours?: number;
  /** Detector time (ms), for the expiry of hour buckets. Default Date.now. */
  readonly clock?: () => number;
  /** How long an applied batch id is remembered (ms). Default: the connection's applied_batch_ttl_seconds. */
  readonly appliedBatchTtlMs?: number;
}

/**
 * ReportStore on Redis, shared by every replica: one script call per batch adds every hour's
 * counters (HINCRBY), client addresses (PFADD) and failure sketches (space-saving on sorted
 * sets). Unique addresses are a HyperLogLog estimate (about 0.8 % standard error), so the report
 * marks them as not exact.
 */
export class RedisReportStore implements ReportStore {
  readonly #conn: RedisConnection;
  readonly #base: string;
  readonly #capacity: number;
  readonly #retentionMs: number;
  readonly #clock: () => number;
  readonly #batchTtlMs: number;
  readonly #use: ConnectionUse;

  constructor(options: RedisReportStoreOptions) {
    this.#conn = options.connection;
    this.#use = new ConnectionUse(options.connection);
    this.#base = reportBase(options.connection.prefix);
    this.#capacity = options.topKCapacity ?? 100;
    this.#retentionMs = (options.retentionHours ?? 30 * 24 + 1) * HOUR_MS;
    this.#clock = options.clock ?? Date.now;
    this.#batchTtlMs =
      options.appliedBatchTtlMs ?? options.connection.config.applied_batch_ttl_seconds * 1000;
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
   * Adds a batch's tallies in one script call. With a batch id, the call also sets an
   * applied-batch marker (`{r}:b:<batch id>`, for `applied_batch_ttl_seconds`) and a call whose
   * marker exists changes nothing: a sender's retry of an accepted request counts once.
   */
  async add(tallies: readonly HourTally[], options: { readonly batchId?: string } = {}): Promise<void> {
    const now = this.#clock();
    const marker = options.batchId === undefined ? "" : `${this.#base}b:${options.batchId}`;
    const args: (string | number)[] = [this.#capacity, marker, this.#batchTtlMs];
    for (const t of tallies) {
      const ttl = t.hour + HOUR_MS + this.#retentionMs - now;
      if (ttl <= 0) continue;
      args.push(t.hour, ttl);
      for (const k of COUNTER_KEYS) args.push(t.counters[k]);
      args.push(t.clientAddresses.size, ...t.clientAddresses);
      for (const m of [t.failuresByIdentifier, t.failuresByAddress]) {
        args.push(m.size);
        for (const [v, n] of m) args.push(v, n);
      }
    }
    if (args.length === 3) return;
    await this.#call(ADD, args, "add");
  }

  async summarize(fromHour: number, toHour: number, top: number): Promise<ReportSummary> {
    const reply = (await this.#call(SUMMARIZE, [fromHour, toHour, top], "summarize")) as (string | number)[];
    const counters = zeroCounters();
    COUNTER_KEYS.forEach((k, i) => (counters[k] = Number(reply[i])));
    let i = COUNTER_KEYS.length;
    const unique = Number(reply[i++]);
    const tops: TopEntry[][] = [];
    for (let s = 0; s < 2; s++) {
      const n = Number(reply[i++]);
      const entries: TopEntry[] = [];
      for (let j = 0; j < n; j++, i += 3) {
        entries.push({ value: String(reply[i]), count: Number(reply[i + 1]), error: Number(reply[i + 2]) });
      }
      entries.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      tops.push(entries.slice(0, top));
    }
    return {
      counters,
      uniqueClientAddresses: unique,
      uniqueClientAddressesExact: false,
      topFailedIdentifiers: tops[0]!,
      topFailedAddresses: tops[1]!,
    };
  }

  async countEvents(fromHour: number, toHour: number): Promise<number> {
    return Number(await this.#call(COUNT_EVENTS, [fromHour, toHour], "count"));
  }

  async #call(script: Parameters<typeof callScript>[1], args: readonly (string | number)[], what: string) {
    try {
      return await callScript(this.#conn.client, script, [`${this.#base}c:0`], [this.#base, ...args]);
    } catch (err) {
      throw toStoreError(err, `report store ${what}`);
    }
  }
}
