import type { AlertEventType } from "@secmon/semconv";
import type { Alert } from "../alerts/types.ts";
import { SecmonError } from "../errors.ts";
import {
  callScript,
  ConnectionUse,
  defineScript,
  toStoreError,
  type RedisConnection,
  type ScriptDefinition,
} from "../state/redis/connection.ts";
import { outboxBase } from "../state/redis/keys.ts";
import {
  decodeCursor,
  encodeCursor,
  type ClaimOptions,
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterQuery,
  type DeadLetterStore,
  type Delivery,
  rememberedAlerts,
  revisionOf,
  type EnqueueOutcome,
  type NewDelivery,
  type Outbox,
  type OutboxItem,
  type Retry,
  type SinkBacklog,
} from "./types.ts";

/*
 * Outbox keys, all under one hash tag (`<prefix>{o}:`, one Cluster slot), so that every method
 * is one atomic script. The outbox is bounded (queue_capacity per sink, max_dead_letters per
 * sink), so one slot holds it comfortably.
 *
 *   seq, lseq, revseq  counters: enqueue order of deliveries, order of dead letters, order of
 *                      alert changes taken (rev:)
 *   i:<id>             hash of one delivery: seq, sink, type, aid (alert id), alert (JSON), enq,
 *                      due, att (attempts), first (first attempt), err, st (last status),
 *                      lo (lease owner, '' when not leased), lu (lease until), rev (the alert's
 *                      revision; '' when unknown)
 *   q:<sink>           zset id → seq: the sink's deliveries in enqueue order (depth)
 *   e:<sink>           zset id → enq: the oldest enqueuedAt (backlog)
 *   a:<alert>:<sink>   list of ids: the (sink, alert)'s deliveries in order; the first is the head
 *   h:<sink>           zset head id → when it becomes claimable (due; leased: max(due, lease end))
 *   r:<sink>           zset head id → seq: heads that were claimable at the last claim …
 *   t:<sink>           zset head id → when they became claimable (for nextDue)
 *   o:<owner>          set of ids leased by the owner (release)
 *   S                  set of sinks that hold deliveries
 *   l:<id>             hash of one dead letter: seq, sink, type, aid, meta (the letter's JSON
 *                      without the alert), alert (JSON), rev
 *   rev:<sink>         hash alert id → the highest revision taken for the sink, digits, followed
 *                      by 'c' once its alert.created was taken
 *   revo:<sink>        zset alert id → revseq of its last change: past rememberedAlerts entries
 *                      the least recently changed alerts leave rev:<sink>
 *   L                  zset id → seq: every dead letter (list, newest first)
 *   L:<sink>           zset id → seq: the sink's dead letters (list, bound)
 *   LS                 set of sinks that hold dead letters
 *
 * Only heads (the oldest delivery of each (sink, alert)) are indexed, so a claim never looks at
 * a delivery held back by an older one of its alert: it moves the heads that became claimable
 * from h to r (once each), then takes r in enqueue order. Alert ids never contain `:`.
 */
const COMMON_LUA = String.raw`
local base = ARGV[1]
local function ik(id) return base .. 'i:' .. id end
local function qk(s) return base .. 'q:' .. s end
local function ek(s) return base .. 'e:' .. s end
local function ak(s, a) return base .. 'a:' .. a .. ':' .. s end
local function hk(s) return base .. 'h:' .. s end
local function rk(s) return base .. 'r:' .. s end
local function tk(s) return base .. 't:' .. s end
local function ok(o) return base .. 'o:' .. o end
local function lk(id) return base .. 'l:' .. id end

local function leased(lo) return lo ~= false and lo ~= nil and lo ~= '' end

-- puts the head of (sink, alert) into the index of heads waiting to become claimable
local function indexHead(sink, aid)
  local id = redis.call('LINDEX', ak(sink, aid), 0)
  if not id then return end
  local f = redis.call('HMGET', ik(id), 'due', 'lo', 'lu')
  local at = tonumber(f[1])
  if leased(f[2]) then at = math.max(at, tonumber(f[3])) end
  redis.call('ZADD', hk(sink), at, id)
end

local function unindex(sink, id)
  redis.call('ZREM', hk(sink), id)
  redis.call('ZREM', rk(sink), id)
  redis.call('ZREM', tk(sink), id)
end

local function isHead(sink, aid, id)
  return redis.call('LINDEX', ak(sink, aid), 0) == id
end

-- drops a delivery; the next delivery of its alert becomes the head
local function removeItem(id)
  local f = redis.call('HMGET', ik(id), 'sink', 'aid', 'lo')
  if not f[1] then return false end
  local sink, aid = f[1], f[2]
  local head = isHead(sink, aid, id)
  redis.call('LREM', ak(sink, aid), 1, id)
  unindex(sink, id)
  redis.call('ZREM', qk(sink), id)
  redis.call('ZREM', ek(sink), id)
  if leased(f[3]) then redis.call('SREM', ok(f[3]), id) end
  redis.call('DEL', ik(id))
  if head then indexHead(sink, aid) end
  if redis.call('EXISTS', qk(sink)) == 0 then redis.call('SREM', base .. 'S', sink) end
  return true
end

local function insertItem(id, sink, typ, aid, alert, enq, due, rev)
  local seq = redis.call('INCR', base .. 'seq')
  redis.call('HSET', ik(id), 'seq', seq, 'sink', sink, 'type', typ, 'aid', aid, 'alert', alert,
    'enq', enq, 'due', due, 'att', 0, 'first', 0, 'lo', '', 'lu', 0, 'rev', rev)
  redis.call('ZADD', qk(sink), seq, id)
  redis.call('ZADD', ek(sink), enq, id)
  redis.call('SADD', base .. 'S', sink)
  if redis.call('RPUSH', ak(sink, aid), id) == 1 then redis.call('ZADD', hk(sink), due, id) end
end

local function removeLetter(id)
  local sink = redis.call('HGET', lk(id), 'sink')
  if not sink then return false end
  redis.call('ZREM', base .. 'L', id)
  redis.call('ZREM', base .. 'L:' .. sink, id)
  if redis.call('EXISTS', base .. 'L:' .. sink) == 0 then redis.call('SREM', base .. 'LS', sink) end
  redis.call('DEL', lk(id))
  return true
end
`;

const ITEM_FIELDS = `'id', 'sink', 'type', 'alert', 'enq', 'due', 'att', 'first', 'err', 'st'`;
const ITEM_WIDTH = 10;

/**
 * ARGV base, number of sinks, (sink, max depth, alerts remembered)…, then per delivery: id, sink,
 * type, alert id, alert JSON, enqueuedAt, dueAt, revision, creationWaitUntil ('' for none) → one
 * outcome per delivery. The rule is `enqueueStep`'s (types.ts), which the other outboxes call.
 */
const ENQUEUE = defineScript(
  "secmonOutboxEnqueue",
  COMMON_LUA +
    String.raw`
local function revk(s) return base .. 'rev:' .. s end
local function revok(s) return base .. 'revo:' .. s end
local max, remembered = {}, {}
local nSinks = tonumber(ARGV[2])
for j = 0, nSinks - 1 do
  max[ARGV[3 + 3 * j]] = tonumber(ARGV[4 + 3 * j])
  remembered[ARGV[3 + 3 * j]] = tonumber(ARGV[5 + 3 * j])
end

-- the waiting newest delivery of (sink, alert) continues under a new id: same seq, times, attempts
local function rename(sink, list, last, id)
  redis.call('RENAME', ik(last), ik(id))
  redis.call('LSET', list, -1, id)
  for _, k in ipairs({ qk(sink), ek(sink), hk(sink), rk(sink), tk(sink) }) do
    local score = redis.call('ZSCORE', k, last)
    if score then
      redis.call('ZREM', k, last)
      redis.call('ZADD', k, score, id)
    end
  end
end

-- what the outbox took of (sink, alert): the highest revision, and whether its creation
local function remember(sink, aid, top, created)
  local v = string.format('%.0f', top)
  if created then v = v .. 'c' end
  local added = redis.call('HSET', revk(sink), aid, v) == 1
  redis.call('ZADD', revok(sink), redis.call('INCR', base .. 'revseq'), aid)
  if added then
    local excess = redis.call('ZCARD', revok(sink)) - remembered[sink]
    if excess > 0 then
      for _, old in ipairs(redis.call('ZRANGE', revok(sink), 0, excess - 1)) do
        redis.call('HDEL', revk(sink), old)
      end
      redis.call('ZREMRANGEBYRANK', revok(sink), 0, excess - 1)
    end
  end
end

local out = {}
for i = 3 + 3 * nSinks, #ARGV, 9 do
  local id, sink, typ, aid, alert = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local due, rev = ARGV[i + 6], tonumber(ARGV[i + 7])
  local top, created = -1, false
  local taken = redis.call('HGET', revk(sink), aid)
  if taken then
    top = tonumber(string.match(taken, '^%d+'))
    created = string.sub(taken, -1) == 'c'
  end
  local outcome = nil
  if redis.call('EXISTS', ik(id)) == 1 or redis.call('EXISTS', lk(id)) == 1 or (created and typ == 'alert.created') then
    outcome = 'duplicate'
  else
    local list = ak(sink, aid)
    local last = redis.call('LINDEX', list, -1)
    local waiting = false
    if last then
      local f = redis.call('HMGET', ik(last), 'type', 'lo', 'rev', 'due')
      local r = tonumber(f[3])
      if r and r > top then top = r end
      if f[1] == 'alert.updated' and not leased(f[2]) then waiting = tonumber(f[4]) end
    end
    if rev > top and typ == 'alert.updated' and waiting then
      -- a newer update replaces the waiting one
      rename(sink, list, last, id)
      redis.call('HSET', ik(id), 'alert', alert, 'rev', ARGV[i + 7])
      outcome = 'coalesced'
    elseif rev <= top and typ == 'alert.updated' then
      outcome = 'superseded'
    elseif rev <= top and waiting then
      -- a late creation or status change takes the place of the newer waiting update
      rename(sink, list, last, id)
      redis.call('HSET', ik(id), 'type', typ)
      if tonumber(due) < waiting then
        redis.call('HSET', ik(id), 'due', due)
        if redis.call('ZSCORE', hk(sink), id) then redis.call('ZADD', hk(sink), due, id) end
      end
      outcome = 'coalesced'
    elseif redis.call('ZCARD', qk(sink)) >= (max[sink] or 0) then
      outcome = 'full'
    else
      -- an update whose creation was not taken yet waits a moment for it
      local wait = tonumber(ARGV[i + 8])
      if typ == 'alert.updated' and not created and wait and wait > tonumber(due) then due = ARGV[i + 8] end
      insertItem(id, sink, typ, aid, alert, ARGV[i + 5], due, ARGV[i + 7])
      outcome = 'queued'
    end
    if outcome ~= 'full' and outcome ~= 'superseded' then
      remember(sink, aid, math.max(top, rev), created or typ == 'alert.created')
    end
  end
  out[#out + 1] = outcome
end
return out
`,
);

/** ARGV base, sink, limit, now, lease until, owner, together (1/0) → ITEM_WIDTH fields per item */
const CLAIM = defineScript(
  "secmonOutboxClaim",
  COMMON_LUA +
    String.raw`
local sink, limit, now, leaseUntil, owner = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local together = ARGV[7] == '1'
-- heads that became claimable move to the ready indexes, once
local became = redis.call('ZRANGEBYSCORE', hk(sink), '-inf', now, 'WITHSCORES')
if #became > 0 then
  for j = 1, #became, 2 do
    local id = became[j]
    redis.call('ZADD', rk(sink), redis.call('HGET', ik(id), 'seq'), id)
    redis.call('ZADD', tk(sink), became[j + 1], id)
  end
  redis.call('ZREMRANGEBYSCORE', hk(sink), '-inf', now)
end
local function claimable(f)
  if tonumber(f[1]) > now then return false end
  if not leased(f[2]) then return true end
  return f[2] ~= owner and tonumber(f[3]) <= now
end
-- up to limit claimable heads in enqueue order (with their claimable followers when together)
local picked = {}
local heads = 0
local from = 0
while heads < limit do
  local chunk = redis.call('ZRANGE', rk(sink), from, from + limit + 15)
  if #chunk == 0 then break end
  for _, id in ipairs(chunk) do
    if heads >= limit then break end
    local f = redis.call('HMGET', ik(id), 'due', 'lo', 'lu', 'seq', 'aid')
    if claimable(f) then
      heads = heads + 1
      picked[#picked + 1] = { id, tonumber(f[4]), true }
      if together then
        for _, next in ipairs(redis.call('LRANGE', ak(sink, f[5]), 1, limit - 1)) do
          local g = redis.call('HMGET', ik(next), 'due', 'lo', 'lu', 'seq')
          if not claimable(g) then break end
          picked[#picked + 1] = { next, tonumber(g[4]), false }
        end
      end
    end
  end
  from = from + #chunk
end
table.sort(picked, function(x, y) return x[2] < y[2] end)
local out = {}
for n = 1, math.min(limit, #picked) do
  local id, head = picked[n][1], picked[n][3]
  local k = ik(id)
  local f = redis.call('HMGET', k, 'att', 'first', 'lo', 'due')
  local att = tonumber(f[1])
  if leased(f[3]) and f[3] ~= owner then redis.call('SREM', ok(f[3]), id) end
  local first = f[2]
  if att == 0 then first = ARGV[4] end
  redis.call('HSET', k, 'lo', owner, 'lu', leaseUntil, 'att', att + 1, 'first', first)
  redis.call('SADD', ok(owner), id)
  if head then
    unindex(sink, id)
    redis.call('ZADD', hk(sink), math.max(tonumber(f[4]), tonumber(leaseUntil)), id)
  end
  local item = redis.call('HMGET', k, ${ITEM_FIELDS})
  item[1] = id
  for j = 1, #item do out[#out + 1] = item[j] end
end
return out
`,
);

/** ARGV base, id */
const ACK = defineScript(
  "secmonOutboxAck",
  COMMON_LUA +
    String.raw`
removeItem(ARGV[2])
return 1
`,
);

/** ARGV base, id, owner, due, error, status ('' for none) */
const NACK = defineScript(
  "secmonOutboxNack",
  COMMON_LUA +
    String.raw`
local id, owner = ARGV[2], ARGV[3]
local k = ik(id)
local f = redis.call('HMGET', k, 'lo', 'sink', 'aid')
if f[1] ~= owner then return 0 end
redis.call('HSET', k, 'lo', '', 'lu', 0, 'due', ARGV[4], 'err', ARGV[5])
if ARGV[6] == '' then redis.call('HDEL', k, 'st') else redis.call('HSET', k, 'st', ARGV[6]) end
redis.call('SREM', ok(owner), id)
if isHead(f[2], f[3], id) then
  unindex(f[2], id)
  redis.call('ZADD', hk(f[2]), ARGV[4], id)
end
return 1
`,
);

/** ARGV base, owner */
const RELEASE = defineScript(
  "secmonOutboxRelease",
  COMMON_LUA +
    String.raw`
local owner = ARGV[2]
for _, id in ipairs(redis.call('SMEMBERS', ok(owner))) do
  local k = ik(id)
  local f = redis.call('HMGET', k, 'lo', 'sink', 'aid', 'due')
  if f[1] == owner then
    redis.call('HSET', k, 'lo', '', 'lu', 0)
    if isHead(f[2], f[3], id) then
      unindex(f[2], id)
      redis.call('ZADD', hk(f[2]), f[4], id)
    end
  end
end
redis.call('DEL', ok(owner))
return 1
`,
);

/** ARGV base, sink, owner → the earliest time as text, or false */
const NEXT_DUE = defineScript(
  "secmonOutboxNextDue",
  COMMON_LUA +
    String.raw`
local sink, owner = ARGV[2], ARGV[3]
local best = nil
for _, idx in ipairs({ hk(sink), tk(sink) }) do
  local from = 0
  local found = false
  while not found do
    local chunk = redis.call('ZRANGE', idx, from, from + 31, 'WITHSCORES')
    if #chunk == 0 then break end
    for j = 1, #chunk, 2 do
      if redis.call('HGET', ik(chunk[j]), 'lo') ~= owner then
        local at = tonumber(chunk[j + 1])
        if best == nil or at < best then best = at end
        found = true
        break
      end
    end
    from = from + 32
  end
end
if best == nil then return false end
return string.format('%.17g', best)
`,
);

/** ARGV base → (sink, depth, oldest enqueuedAt)… */
const BACKLOG = defineScript(
  "secmonOutboxBacklog",
  COMMON_LUA +
    String.raw`
local out = {}
for _, sink in ipairs(redis.call('SMEMBERS', base .. 'S')) do
  local depth = redis.call('ZCARD', qk(sink))
  if depth > 0 then
    local oldest = redis.call('ZRANGE', ek(sink), 0, 0, 'WITHSCORES')
    out[#out + 1] = sink
    out[#out + 1] = depth
    out[#out + 1] = oldest[2]
  end
end
return out
`,
);

/** ARGV base, id, sink, type, alert id, meta JSON, alert JSON, max per sink, revision */
const LETTER_ADD = defineScript(
  "secmonOutboxLetterAdd",
  COMMON_LUA +
    String.raw`
local id, sink = ARGV[2], ARGV[3]
removeItem(id)
removeLetter(id)
local seq = redis.call('INCR', base .. 'lseq')
redis.call('HSET', lk(id), 'seq', seq, 'sink', sink, 'type', ARGV[4], 'aid', ARGV[5], 'meta', ARGV[6],
  'alert', ARGV[7], 'rev', ARGV[9])
redis.call('ZADD', base .. 'L', seq, id)
redis.call('ZADD', base .. 'L:' .. sink, seq, id)
redis.call('SADD', base .. 'LS', sink)
local excess = redis.call('ZCARD', base .. 'L:' .. sink) - tonumber(ARGV[8])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', base .. 'L:' .. sink, 0, excess - 1)) do removeLetter(old) end
end
return 1
`,
);

/** ARGV base, sink ('' for all), below ('+inf' or '(<seq>'), count → (seq, meta, alert)… */
const LETTER_LIST = defineScript(
  "secmonOutboxLetterList",
  COMMON_LUA +
    String.raw`
local idx = base .. 'L'
if ARGV[2] ~= '' then idx = base .. 'L:' .. ARGV[2] end
local rows = redis.call('ZREVRANGEBYSCORE', idx, ARGV[3], '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for j = 1, #rows, 2 do
  local f = redis.call('HMGET', lk(rows[j]), 'meta', 'alert')
  out[#out + 1] = rows[j + 1]
  out[#out + 1] = f[1]
  out[#out + 1] = f[2]
end
return out
`,
);

/** ARGV base, id → { meta, alert } or false */
const LETTER_GET = defineScript(
  "secmonOutboxLetterGet",
  COMMON_LUA +
    String.raw`
local f = redis.call('HMGET', lk(ARGV[2]), 'meta', 'alert')
if not f[1] then return false end
return f
`,
);

/** ARGV base, id → 1 | 0 */
const LETTER_REMOVE = defineScript(
  "secmonOutboxLetterRemove",
  COMMON_LUA +
    String.raw`
if removeLetter(ARGV[2]) then return 1 end
return 0
`,
);

/** ARGV base → (sink, count)… */
const LETTER_COUNTS = defineScript(
  "secmonOutboxLetterCounts",
  COMMON_LUA +
    String.raw`
local out = {}
for _, sink in ipairs(redis.call('SMEMBERS', base .. 'LS')) do
  out[#out + 1] = sink
  out[#out + 1] = redis.call('ZCARD', base .. 'L:' .. sink)
end
return out
`,
);

/** ARGV base, id, now → { sink, type, alert } or false */
const REPLAY = defineScript(
  "secmonOutboxReplay",
  COMMON_LUA +
    String.raw`
local id, now = ARGV[2], ARGV[3]
local f = redis.call('HMGET', lk(id), 'sink', 'type', 'aid', 'alert', 'rev')
if not f[1] then return false end
removeLetter(id)
removeItem(id)
insertItem(id, f[1], f[2], f[3], f[4], now, now, f[5] or '')
return { f[1], f[2], f[4] }
`,
);

export interface RedisOutboxOptions {
  /** The shared connection of the `state.redis` section; opened in start, released in stop. */
  readonly connection: RedisConnection;
}

/**
 * The outbox in Redis, shared by every detector replica on the same `state.redis` (same
 * prefix): a delivery created by one replica may be sent by another, leases keep two replicas
 * from sending one delivery at once, and a replica that dies mid-attempt leaves a lease that
 * expires, after which another replica sends it. Each method is one Lua script on keys under one
 * hash tag. Durable as far as Redis is: with `appendonly yes` and `appendfsync always` an
 * acknowledged write survives a crash of Redis too (docs/scaling.md).
 */
export class RedisOutbox implements Outbox {
  readonly durable: boolean = true;
  readonly shared: boolean = true;
  readonly deadLetters: DeadLetterStore;
  readonly #conn: RedisConnection;
  readonly #base: string;
  readonly #use: ConnectionUse;

  constructor(options: RedisOutboxOptions) {
    this.#conn = options.connection;
    this.#use = new ConnectionUse(options.connection);
    this.#base = outboxBase(options.connection.prefix);
    this.deadLetters = {
      add: (letter, max) => this.#addLetter(letter, max),
      get: (id) => this.#getLetter(id),
      list: (query) => this.#listLetters(query),
      remove: async (id) => Number(await this.#call(LETTER_REMOVE, [id], "dead_letter_remove")) === 1,
      counts: async () => {
        const reply = (await this.#call(LETTER_COUNTS, [], "dead_letter_counts")) as (string | number)[];
        const out: Record<string, number> = {};
        for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = Number(reply[i + 1]);
        return out;
      },
    };
  }

  start(): Promise<void> {
    return this.#use.start();
  }

  async stop(): Promise<void> {
    if (await this.#use.stop()) await this.#conn.close();
  }

  async enqueue(
    deliveries: readonly NewDelivery[],
    limits: { readonly maxDepth: (sink: string) => number },
  ): Promise<EnqueueOutcome[]> {
    this.#open();
    if (deliveries.length === 0) return [];
    const sinks = [...new Set(deliveries.map((d) => d.sink))];
    const args: (string | number)[] = [sinks.length];
    for (const sink of sinks) {
      const maxDepth = limits.maxDepth(sink);
      args.push(sink, maxDepth, rememberedAlerts(maxDepth));
    }
    for (const d of deliveries) {
      const rev = revisionOf(d.alert);
      const wait = d.creationWaitUntil ?? "";
      args.push(d.id, d.sink, d.type, d.alert.id, JSON.stringify(d.alert), d.enqueuedAt, d.dueAt, rev, wait);
    }
    return (await this.#call(ENQUEUE, args, "enqueue")) as EnqueueOutcome[];
  }

  async claim(o: ClaimOptions): Promise<OutboxItem[]> {
    this.#open();
    if (o.limit <= 0) return [];
    const reply = (await this.#call(
      CLAIM,
      [o.sink, o.limit, o.now, o.now + o.leaseMs, o.owner, o.together ? 1 : 0],
      "claim",
    )) as (string | null)[];
    const items: OutboxItem[] = [];
    for (let i = 0; i < reply.length; i += ITEM_WIDTH) items.push(toItem(reply, i));
    return items;
  }

  async ack(id: string): Promise<void> {
    await this.#call(ACK, [id], "ack");
  }

  async nack(id: string, owner: string, retry: Retry): Promise<void> {
    await this.#call(NACK, [id, owner, retry.dueAt, retry.error, retry.status ?? ""], "nack");
  }

  async release(owner: string): Promise<void> {
    await this.#call(RELEASE, [owner], "release");
  }

  async nextDue(sink: string, owner: string): Promise<number | undefined> {
    const reply = await this.#call(NEXT_DUE, [sink, owner], "next_due");
    return reply === null || reply === undefined ? undefined : Number(reply);
  }

  async backlog(): Promise<Record<string, SinkBacklog>> {
    const reply = (await this.#call(BACKLOG, [], "backlog")) as (string | number)[];
    const rows: [string, SinkBacklog][] = [];
    for (let i = 0; i < reply.length; i += 3) {
      rows.push([String(reply[i]), { depth: Number(reply[i + 1]), oldestEnqueuedAt: Number(reply[i + 2]) }]);
    }
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return Object.fromEntries(rows);
  }

  async replay(id: string, now: number): Promise<Delivery | undefined> {
    const reply = (await this.#call(REPLAY, [id, now], "replay")) as [string, string, string] | null;
    if (!reply) return undefined;
    return {
      id,
      sink: reply[0],
      type: reply[1] as AlertEventType,
      alert: JSON.parse(reply[2]) as Alert,
      enqueuedAt: now,
    };
  }

  async #addLetter(letter: DeadLetter, maxPerSink: number): Promise<void> {
    const { alert, ...meta } = letter;
    await this.#call(
      LETTER_ADD,
      [
        letter.id,
        letter.sink,
        letter.type,
        alert.id,
        JSON.stringify(meta),
        JSON.stringify(alert),
        Math.max(0, maxPerSink),
        revisionOf(alert),
      ],
      "dead_letter",
    );
  }

  async #getLetter(id: string): Promise<DeadLetter | undefined> {
    const reply = (await this.#call(LETTER_GET, [id], "dead_letter_get")) as [string, string] | null;
    return reply ? toLetter(reply[0], reply[1]) : undefined;
  }

  async #listLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    let below = "+inf";
    if (query.cursor !== undefined) {
      const seq = decodeCursor(query.cursor);
      if (seq === undefined)
        throw new SecmonError("BAD_REQUEST", "cursor: not a cursor returned by this API");
      below = `(${seq}`;
    }
    const reply = (await this.#call(
      LETTER_LIST,
      [query.sink ?? "", below, query.limit + 1],
      "dead_letter_list",
    )) as string[];
    const rows: { seq: number; letter: DeadLetter }[] = [];
    for (let i = 0; i < reply.length; i += 3) {
      rows.push({ seq: Number(reply[i]), letter: toLetter(reply[i + 1]!, reply[i + 2]!) });
    }
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      dead_letters: page.map((r) => r.letter),
      ...(rows.length > page.length && last ? { next_cursor: encodeCursor(last.seq) } : {}),
    };
  }

  #open(): void {
    if (this.#use.state !== "started") {
      throw new SecmonError(
        "SHUTTING_DOWN",
        this.#use.state === "stopped" ? "the outbox is closed" : "the outbox is not started",
      );
    }
  }

  async #call(script: ScriptDefinition, args: readonly (string | number)[], what: string): Promise<unknown> {
    this.#open();
    try {
      return await callScript(this.#conn.client, script, [`${this.#base}seq`], [this.#base, ...args]);
    } catch (err) {
      throw toStoreError(err, `outbox ${what}`);
    }
  }
}

function toItem(reply: readonly (string | null)[], i: number): OutboxItem {
  const err = reply[i + 8];
  const status = reply[i + 9];
  return {
    id: reply[i]!,
    sink: reply[i + 1]!,
    type: reply[i + 2] as AlertEventType,
    alert: JSON.parse(reply[i + 3]!) as Alert,
    enqueuedAt: Number(reply[i + 4]),
    dueAt: Number(reply[i + 5]),
    attempts: Number(reply[i + 6]),
    firstAttemptAt: Number(reply[i + 7]),
    ...(err !== null && err !== undefined ? { lastError: err } : {}),
    ...(status !== null && status !== undefined ? { lastStatus: Number(status) } : {}),
  };
}

/** The stored letter: its JSON without the alert, and the alert's JSON, in DeadLetter's key order. */
function toLetter(meta: string, alert: string): DeadLetter {
  const { id, sink, type, ...rest } = JSON.parse(meta) as Omit<DeadLetter, "alert">;
  return { id, sink, type, alert: JSON.parse(alert) as Alert, ...rest };
}
