import { defineScript } from "./connection.ts";

/**
 * The batch script: applies the ops of one batch (or, on Redis Cluster, of one shard of it)
 * atomically and answers their results, exactly like MemoryWindowStore. It is idempotent per
 * applied-batch marker: a second call with the same marker answers the stored results.
 *
 * KEYS[1]   the applied-batch marker (its hash tag is the shard's: every key the script touches
 *           is in that slot)
 * ARGV[1]   the key prefix; ARGV[2] the shard's hash tag, braces included
 * ARGV[3]   the ops as one flat array of little-endian doubles; per op: code, rule (index
 *           into ARGV[5]), group (index into the rule's groups), n, then n times (ms after
 *           ARGV[4]), then per code: 1 window_add: n amounts; 2 window_read: nothing;
 *           3 distinct_add: the ARGV index of its first member, max members; 4 distinct_read:
 *           nothing. Members are ARGV entries (binary-safe).
 * ARGV[4]   the base time (ms) of the times
 * ARGV[5]   the rules as JSON: [[rule id, kind (0 count/sum, 1 distinct), bucketMs, windowMs,
 *           latenessMs, ttlMs, [group, …]], …]; a group is its key without `<rule id>|`
 * ARGV[6]   marker TTL (ms); ARGV[7] extra TTL (ms) of state keys
 * returns   MessagePack: base, then an array of 4 per op: value, at − base (false when no
 *           point was evaluated), the buckets from at's bucket back to the oldest non-empty one
 *           (false when the window was empty), late. The marker keeps the same bytes (small
 *           integers: about 7 bytes per op).
 *
 * State of a rule in a shard (all keys under the shard's hash tag `{…}`), kind w (count, sum)
 * or d (distinct):
 * - `c:{…}:<kind>:<rule>`: the rule's clock, the newest event time of all its groups. As in the
 *   memory store, a group whose newest event is a TTL behind the clock is gone.
 * - `<kind>:{…}:<rule>:<epoch>`: hashes of group → state, one per epoch of a TTL of event
 *   time; a group lives in the epoch of its newest event (moved when that changes). A call
 *   reads the two epochs within a TTL of the clock with one HMGET each for all the rule's
 *   groups of the batch (the older only for those not found in the newer, and only if it
 *   exists) and writes each epoch back with one HSET. An epoch's hash expires once its groups
 *   are all a TTL behind the clock (plus the extra TTL). A state is a list of little-endian doubles (struct.pack):
 *   count / sum: newest, then bucket start and amount, … ascending; distinct: newest,
 *   pruned-to, members, first seen, then bucket start and members last seen in it, ….
 * - `dm:{…}:<group>:<first seen>` (distinct): sorted set member → start of the bucket it was
 *   last seen in; the group's state keeps how many members were last seen in each bucket, so
 *   that a window's count needs no command. PEXPIRE with every write of its group.
 */
export const WINDOW_SCRIPT = defineScript(
  "secmonWindows",
  String.raw`
local done = redis.call('GET', KEYS[1])
if done then return done end
local prefix, tag = ARGV[1], ARGV[2]
local base = tonumber(ARGV[4])
local rules = cjson.decode(ARGV[5])
local markerTtl = tonumber(ARGV[6])
local extraTtl = tonumber(ARGV[7])
local floor, ceil, fmt, tostr, insert = math.floor, math.ceil, string.format, tostring, table.insert
local pack = cmsgpack.pack
local spack, sunpack, rep = struct.pack, struct.unpack, string.rep
local call = redis.call
local NEG = -1e308
local CHUNK = 500

-- bucket starts as ZADD scores (text), formatted once per call
local scores = {}

local function num(v)
  if v == floor(v) and v > -1e14 and v < 1e14 then return tostr(v) end
  return fmt('%.17g', v)
end

-- results, 4 per op: value, at − base, buckets from at's bucket back to the oldest, late
local out = {}
local no = 0
local function result(best, at, oldest, bucketMs, late)
  if at == nil then
    out[no + 1], out[no + 2], out[no + 3] = 0, false, false
  else
    out[no + 1], out[no + 2] = best, at - base
    if oldest == nil then out[no + 3] = false else out[no + 3] = (floor(at / bucketMs) * bucketMs - oldest) / bucketMs end
  end
  out[no + 4] = late
  no = no + 4
end

-- a state is stored as little-endian doubles (struct): far cheaper than MessagePack in Lua
local formats = {}
local function encode(st)
  local n = #st
  if n == 3 then return spack('<ddd', st[1], st[2], st[3]) end
  local f = formats[n]
  if not f then f = '<' .. rep('d', n); formats[n] = f end
  return spack(f, unpack(st))
end
local function decode(raw)
  local n = #raw / 8
  if n == 3 then
    local a, b, c = sunpack('<ddd', raw)
    return { a, b, c }
  end
  local f = formats[n]
  if not f then f = '<' .. rep('d', n); formats[n] = f end
  local st = { sunpack(f, raw) }
  st[n + 1] = nil -- struct.unpack also returns the next position
  return st
end

-- the ops: doubles, decoded a chunk at a time (a C call each; far cheaper than JSON)
local ops = {}
do
  local raw = ARGV[3]
  local total = #raw / 8
  local pos, nops = 1, 0
  while nops < total do
    local k = math.min(7000, total - nops)
    local f = formats[k]
    if not f then f = '<' .. rep('d', k); formats[k] = f end
    if nops == 0 and k == total then
      ops = { sunpack(f, raw) }
      ops[k + 1] = nil -- struct.unpack also returns the next position
    else
      local part = { sunpack(f, raw, pos) }
      for i = 1, k do ops[nops + i] = part[i] end
    end
    nops = nops + k
    pos = pos + 8 * k
  end
end

-- Buckets are kept inside a state from index o on as start, amount pairs, ascending: a count /
-- sum state is { newest, s1, a1, … } (o = 2); a distinct state is { newest, pruned-to,
-- members, first seen, s1, n1, … } (o = 5), n = members last seen in the bucket.
local W0, D0 = 2, 5

-- sum of the buckets starting in [from, to], and the oldest non-empty one
local function sumRange(w, o, from, to)
  local sum, oldest = 0, nil
  for i = #w - 1, o, -2 do
    local s = w[i]
    if s < from then break end
    if s <= to then
      local a = w[i + 1]
      if a ~= 0 then
        sum = sum + a
        oldest = s
      end
    end
  end
  return sum, oldest
end

-- adds amount to the bucket starting at s; a decrement of a bucket already pruned is dropped
local function addToBucket(w, o, s, amount)
  local i = #w - 1
  if i < o or w[i] < s then
    -- a bucket after the last one (most points)
    if amount >= 0 then
      w[i + 2] = s
      w[i + 3] = amount
    end
    return
  end
  while i >= o and w[i] > s do i = i - 2 end
  if i >= o and w[i] == s then
    w[i + 1] = w[i + 1] + amount
  elseif amount >= 0 then
    insert(w, i + 2, amount)
    insert(w, i + 2, s)
  end
end

-- drops the buckets that start before cutoff
local function pruneBuckets(w, o, cutoff)
  local n = 0
  while o + n <= #w and w[o + n] < cutoff do n = n + 2 end
  if n > 0 then
    local len = #w
    for i = o, len - n do w[i] = w[i + n] end
    for i = len - n + 1, len do w[i] = nil end
  end
end

-- rules: geometry, clock, and the states of their groups in the epochs within a TTL of the clock
for _, r in ipairs(rules) do
  r.distinct = r[2] == 1
  r.bucket, r.lateness, r.ttl = r[3], r[5], r[6]
  r.span = ceil(r[4] / r[3]) * r[3]
  r.epochMs = r.ttl
  local kind = r.distinct and 'd' or 'w'
  r.h = prefix .. kind .. ':' .. tag .. ':' .. r[1] .. ':'
  r.clockKey = prefix .. 'c:' .. tag .. ':' .. kind .. ':' .. r[1]
  r.members = prefix .. 'dm:' .. tag .. ':' .. r[1] .. '|'
  -- numbers as command arguments are formatted with printf: the constant TTL once per rule
  r.membersTtl = num(r.ttl + r.epochMs + extraTtl)
  r.states, r.home, r.dirty, r.dlist, r.nd = {}, {}, {}, {}, 0
  local fields = r[7]
  local clock = tonumber(call('GET', r.clockKey))
  r.clock = clock or NEG
  if clock then
    -- newest epoch first; an older one is asked only for the groups not found yet (if it exists)
    local states, home = r.states, r.home
    local want, nwant = nil, #fields -- want nil: every group
    local e = floor(clock / r.epochMs)
    local oldest = floor((clock - r.ttl) / r.epochMs)
    while e >= oldest and nwant > 0 do
      local key = r.h .. e
      local missing, nm = {}, 0
      if want ~= nil and call('EXISTS', key) == 0 then
        missing, nm = want, nwant
      else
        for i = 1, nwant, CHUNK do
          local last = math.min(i + CHUNK - 1, nwant)
          local got
          if want == nil then
            got = call('HMGET', key, unpack(fields, i, last))
          else
            local names = {}
            for j = i, last do names[j - i + 1] = fields[want[j]] end
            got = call('HMGET', key, unpack(names))
          end
          local k = 0
          for j = i, last do
            k = k + 1
            local raw = got[k]
            local g = j
            if want then g = want[j] end
            if raw then
              if #raw == 24 then
                local x, y, z = sunpack('<ddd', raw)
                states[g] = { x, y, z }
              else
                states[g] = decode(raw)
              end
              home[g] = e
            else
              nm = nm + 1
              missing[nm] = g
            end
          end
        end
      end
      want, nwant = missing, nm
      e = e - 1
    end
  end
end

-- the group's state, unless its newest event is a TTL behind the rule's clock (gone)
local function stateOf(r, group)
  local st = r.states[group]
  if st and st[1] + r.ttl < r.clock then
    r.states[group] = nil
    st = nil
  end
  return st
end

local function wrote(r, group, st)
  r.states[group] = st
  if not r.dirty[group] then
    r.dirty[group] = true
    local nd = r.nd + 1
    r.nd = nd
    r.dlist[nd] = group
  end
  if st[1] > r.clock then r.clock = st[1] end
end

-- a read op (codes 2 and 4): the state (buckets from index o) evaluated at each of the op's n
-- times, unchanged → best, at, its oldest bucket, late
local function readAt(st, o, t0, n, lateness, bucketMs, span)
  local late, best, at, bestOldest = 0, -1, nil, nil
  for i = 1, n do
    local t = base + ops[t0 + i]
    if t < st[1] - lateness then
      late = late + 1
    else
      local s = floor(t / bucketMs) * bucketMs
      local v, oldest = sumRange(st, o, s - span, s)
      if v >= best then best = v; at = t; bestOldest = oldest end
    end
  end
  return best, at, bestOldest, late
end

local p = 1
local nops = #ops
local lastRule, r, bucketMs, lateness, ttl, span, rstates, rdirty = nil, nil, 0, 0, 0, 0, nil, nil
while p <= nops do
  local code, ri, group, n = ops[p], ops[p + 1], ops[p + 2], ops[p + 3]
  if ri ~= lastRule then
    lastRule = ri
    r = rules[ri]
    bucketMs, lateness, ttl, span, rstates, rdirty = r.bucket, r.lateness, r.ttl, r.span, r.states, r.dirty
  end
  local t0 = p + 3 -- times are ops[t0 + 1 .. t0 + n]
  local late, best, at, bestOldest = 0, -1, nil, nil
  local w = nil
  if code == 1 or code == 2 then
    w = rstates[group]
    if w and w[1] + ttl < r.clock then
      rstates[group] = nil
      w = nil
    end
  end
  local fast = 0
  if code == 1 and n == 1 and ops[p + 5] >= 0 then
    local t = base + ops[p + 4]
    if w == nil then fast = 1 elseif t >= w[1] and (#w == 1 or w[W0] >= t - ttl) then fast = 2 end
  end
  if fast > 0 then
    local t = base + ops[p + 4]
    local amount = ops[p + 5]
    local s = floor(t / bucketMs) * bucketMs
    if fast == 1 then
      -- the common case of a new group with one point, without the general machinery
      w = { t, s, amount }
      rstates[group] = w
      if not rdirty[group] then
        rdirty[group] = true
        local nd = r.nd + 1
        r.nd = nd
        r.dlist[nd] = group
      end
      if t > r.clock then r.clock = t end
      out[no + 1], out[no + 2], out[no + 4] = amount, t - base, 0
      if amount ~= 0 then out[no + 3] = 0 else out[no + 3] = false end
      no = no + 4
      p = p + 6
    else
      -- one in-order point on a group whose buckets all stay: add, then evaluate once
      w[1] = t
      local len = #w
      if len == 1 then
        w[2], w[3] = s, amount
        len = 3
      elseif w[len - 1] == s then
        w[len] = w[len] + amount
      elseif w[len - 1] < s then
        w[len + 1] = s
        w[len + 2] = amount
        len = len + 2
      else
        addToBucket(w, W0, s, amount)
        len = #w
      end
      local from = s - span
      local sum, oldest = 0, nil
      for i = len - 1, W0, -2 do
        local bs = w[i]
        if bs < from then break end
        if bs <= s then
          local a = w[i + 1]
          if a ~= 0 then
            sum = sum + a
            oldest = bs
          end
        end
      end
      if sum >= -1 then
        out[no + 1], out[no + 2] = sum, t - base
        if oldest == nil then out[no + 3] = false else out[no + 3] = (s - oldest) / bucketMs end
      else
        out[no + 1], out[no + 2], out[no + 3] = 0, false, false
      end
      out[no + 4] = 0
      no = no + 4
      if not rdirty[group] then
        rdirty[group] = true
        local nd = r.nd + 1
        r.nd = nd
        r.dlist[nd] = group
      end
      if t > r.clock then r.clock = t end
      p = p + 6
    end
  elseif code == 1 then
    w = w or { NEG }
    local changed = false
    local evalBucket, sum, oldest = nil, 0, nil
    for i = 1, n do
      local t = base + ops[t0 + i]
      local amount = ops[t0 + n + i]
      if t < w[1] - lateness then
        late = late + 1
      else
        if t > w[1] then
          w[1] = t
          if #w > 1 and w[W0] < t - ttl then pruneBuckets(w, W0, t - ttl) end
        end
        local s = floor(t / bucketMs) * bucketMs
        if #w < W0 then
          -- the first bucket takes any amount (as in the memory store)
          w[W0], w[W0 + 1] = s, amount
        else
          addToBucket(w, W0, s, amount)
        end
        changed = true
        local current = floor(w[1] / bucketMs) * bucketMs
        if current ~= evalBucket then
          evalBucket = current
          sum, oldest = sumRange(w, W0, current - span, current)
        elseif s >= current - span then
          sum = sum + amount
          if oldest == nil or s < oldest then oldest = s end
        end
        if sum >= best then best = sum; at = w[1]; bestOldest = oldest end
      end
    end
    if changed then wrote(r, group, w) end
    result(best, at, bestOldest, bucketMs, late)
    p = t0 + 2 * n + 1
  elseif code == 2 then
    best, at, bestOldest, late = readAt(w or { NEG }, W0, t0, n, lateness, bucketMs, span)
    result(best, at, bestOldest, bucketMs, late)
    p = t0 + n + 1
  elseif code == 3 then
    local m0, max = ops[t0 + n + 1], math.max(1, ops[t0 + n + 2])
    -- a new group starts a new member set (its first-seen time in the key): members that an
    -- earlier group of the same key left there are gone with it, without a DEL
    local d = stateOf(r, group) or { NEG, NEG, 0, base + ops[t0 + 1] }
    local mkey = r.members .. r[7][group] .. ':' .. num(d[4])
    local evalBucket, count, oldest = nil, 0, nil
    local changed = false
    for i = 1, n do
      local t = base + ops[t0 + i]
      local member = ARGV[m0 + i - 1]
      if t < d[1] - lateness then
        late = late + 1
      else
        changed = true
        if t > d[1] then
          d[1] = t
          local cutoff = t - ttl
          local to = floor(cutoff / bucketMs) * bucketMs
          if to > d[2] then
            d[2] = to
            -- members older than the cutoff exist only if the histogram has a bucket before it
            if d[3] > 0 and #d >= D0 and d[D0] < cutoff then
              d[3] = d[3] - call('ZREMRANGEBYSCORE', mkey, '-inf', '(' .. num(cutoff))
            end
            pruneBuckets(d, D0, cutoff)
          end
        end
        local s = floor(t / bucketMs) * bucketMs
        local current = floor(d[1] / bucketMs) * bucketMs
        local fl = current - span
        -- most members are new: ZADD NX answers whether it was, and only an old one is looked up
        local prev = nil
        local score = scores[s]
        if not score then score = num(s); scores[s] = score end
        if call('ZADD', mkey, 'NX', score, member) == 0 then prev = tonumber(call('ZSCORE', mkey, member)) end
        local evicted = false
        local delta = 0
        if prev == nil then
          d[3] = d[3] + 1
          addToBucket(d, D0, s, 1)
          if s >= fl then delta = 1 end
          if d[3] > max then
            local popped = call('ZPOPMIN', mkey, d[3] - max + floor(max / 10))
            for j = 2, #popped, 2 do addToBucket(d, D0, tonumber(popped[j]), -1) end
            d[3] = d[3] - #popped / 2
            evicted = true
          end
        elseif prev < s then
          call('ZADD', mkey, score, member)
          addToBucket(d, D0, prev, -1)
          addToBucket(d, D0, s, 1)
          if prev < fl and s >= fl then delta = 1 end
        end
        -- a member leaving the oldest bucket may empty it: recount rather than track it
        if current ~= evalBucket or evicted or (prev ~= nil and prev == oldest and prev < s) then
          evalBucket = current
          count, oldest = sumRange(d, D0, fl, current)
        elseif delta > 0 then
          count = count + delta
          if oldest == nil or s < oldest then oldest = s end
        end
        if count >= best then best = count; at = d[1]; bestOldest = oldest end
      end
    end
    if changed then
      -- outlives the group's state in its epoch hash
      call('PEXPIRE', mkey, r.membersTtl)
      wrote(r, group, d)
    end
    result(best, at, bestOldest, bucketMs, late)
    p = t0 + n + 3
  elseif code == 4 then
    best, at, bestOldest, late = readAt(stateOf(r, group) or { NEG }, D0, t0, n, lateness, bucketMs, span)
    result(best, at, bestOldest, bucketMs, late)
    p = t0 + n + 1
  else
    return redis.error_reply('ERR user_script unknown op ' .. tostr(code))
  end
end

-- write back: each changed group into the epoch of its newest event (moved out of its old one)
for _, r in ipairs(rules) do
  local put, moved = {}, {}
  local any = false
  local fields = r[7]
  local dlist, states, homes, epochMs = r.dlist, r.states, r.home, r.epochMs
  local lastE, list, nl, sizes = nil, nil, 0, {}
  for di = 1, r.nd do
    local g = dlist[di]
    any = true
    local st = states[g]
    -- a group written, then gone a TTL behind the clock that later ops moved: deleted
    local e = nil
    if st then
      e = floor(st[1] / epochMs)
      if e ~= lastE then
        if lastE ~= nil then sizes[lastE] = nl end
        lastE = e
        list = put[e]
        if not list then list = {}; put[e] = list end
        nl = sizes[e] or 0
      end
      list[nl + 1] = fields[g]
      if #st == 3 then list[nl + 2] = spack('<ddd', st[1], st[2], st[3]) else list[nl + 2] = encode(st) end
      nl = nl + 2
    end
    local home = homes[g]
    if home ~= nil and home ~= e then
      local gone = moved[home]
      if not gone then gone = {}; moved[home] = gone end
      gone[#gone + 1] = fields[g]
    end
  end
  if any then
    for e, list in pairs(put) do
      local key = r.h .. e
      for i = 1, #list, 2 * CHUNK do call('HSET', key, unpack(list, i, math.min(i + 2 * CHUNK - 1, #list))) end
      -- the epoch's groups are gone once the clock is a TTL past its end
      call('PEXPIRE', key, math.max(1, (e + 1) * r.epochMs + r.ttl + extraTtl - r.clock))
    end
    for e, list in pairs(moved) do
      for i = 1, #list, CHUNK do call('HDEL', r.h .. e, unpack(list, i, math.min(i + CHUNK - 1, #list))) end
    end
    call('SET', r.clockKey, num(r.clock), 'PX', r.ttl + r.epochMs + extraTtl)
  end
end

local reply = pack(base, out)
call('SET', KEYS[1], reply, 'PX', markerTtl)
return reply
`,
);
