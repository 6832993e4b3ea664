import { defineScript } from "./connection.ts";

/**
 * The batch script: applies the ops of one batch (or, on Redis Cluster, of one hash slot of it)
 * atomically and answers their results, exactly like MemoryWindowStore. It is idempotent per
 * applied-batch marker: a second call with the same marker answers the stored results.
 *
 * KEYS[1]   the applied-batch marker; KEYS[2..] the state keys the ops name
 * ARGV[1]   the ops as JSON: [[code, key, key2, bucketMs, windowMs, latenessMs, ttlMs, times,
 *           amounts | first member index, maxMembers], …]; code 1 window_add, 2 window_read,
 *           3 distinct_add, 4 distinct_read; key/key2 index KEYS; members are ARGV entries
 *           (binary-safe, never inside JSON)
 * ARGV[2]   marker TTL (ms); ARGV[3] extra TTL (ms) for state keys
 * returns   "value,at,oldest,late,…" per op (empty at/oldest: null), %.17g numbers
 *
 * A numeric window key is a string "newest,aux,start,amount,start,amount,…"; a distinct window is
 * the same string (aux: the cutoff members were last pruned to, amounts: members per bucket) plus
 * a sorted set member → start of the bucket it was last seen in.
 */
export const WINDOW_SCRIPT = defineScript(
  "secmonWindows",
  String.raw`
local done = redis.call('GET', KEYS[1])
if done then return done end
local ops = cjson.decode(ARGV[1])
local markerTtl = tonumber(ARGV[2])
local extraTtl = tonumber(ARGV[3])
local floor = math.floor
local NEG = -1e308
local function fmt(n) return string.format('%.17g', n) end

local function load(key)
  local raw = redis.call('GET', key)
  local b = {}
  if not raw then return NEG, NEG, b end
  local i, newest, aux, s = 0, NEG, NEG, 0
  for tok in string.gmatch(raw, '[^,]+') do
    i = i + 1
    if i == 1 then newest = tonumber(tok)
    elseif i == 2 then aux = tonumber(tok)
    elseif i % 2 == 1 then s = tonumber(tok)
    else b[s] = tonumber(tok) end
  end
  return newest, aux, b
end

local function save(key, newest, aux, b, ttl)
  local parts = { fmt(newest), fmt(aux) }
  for s, a in pairs(b) do
    parts[#parts + 1] = fmt(s)
    parts[#parts + 1] = fmt(a)
  end
  redis.call('SET', key, table.concat(parts, ','), 'PX', ttl)
end

local function prune(b, cutoff)
  for s in pairs(b) do
    if s < cutoff then b[s] = nil end
  end
end

-- sum of the buckets starting in [from, to], and the oldest non-empty one
local function sumRange(b, from, to)
  local sum, oldest = 0, nil
  for s, a in pairs(b) do
    if s >= from and s <= to then
      sum = sum + a
      if a ~= 0 and (oldest == nil or s < oldest) then oldest = s end
    end
  end
  return sum, oldest
end

local out = {}
local function result(best, at, oldest, late)
  if at == nil then
    out[#out + 1] = '0,,,' .. fmt(late)
  else
    out[#out + 1] = fmt(best) .. ',' .. fmt(at) .. ',' .. (oldest == nil and '' or fmt(oldest)) .. ',' .. fmt(late)
  end
end

local function readOnly(times, newest, b, bucketMs, span, lateness)
  local late, best, at, bestOldest = 0, -1, nil, nil
  for i = 1, #times do
    local t = times[i]
    if t < newest - lateness then
      late = late + 1
    else
      local s = floor(t / bucketMs) * bucketMs
      local v, o = sumRange(b, s - span, s)
      if v >= best then best = v; at = t; bestOldest = o end
    end
  end
  result(best, at, bestOldest, late)
end

for _, op in ipairs(ops) do
  local code, key = op[1], KEYS[op[2]]
  local bucketMs, windowMs, lateness, ttl = op[4], op[5], op[6], op[7]
  local times = op[8]
  local span = math.ceil(windowMs / bucketMs) * bucketMs
  local keyTtl = ttl + extraTtl
  if code == 1 then
    local amounts = op[9]
    local newest, aux, b = load(key)
    local late, best, at, bestOldest = 0, -1, nil, nil
    local evalBucket, sum, oldest = nil, 0, nil
    local dirty = false
    for i = 1, #times do
      local t = times[i]
      local amount = amounts[i] or 0
      if t < newest - lateness then
        late = late + 1
      else
        if t > newest then
          newest = t
          prune(b, t - ttl)
        end
        local s = floor(t / bucketMs) * bucketMs
        b[s] = (b[s] or 0) + amount
        dirty = true
        local current = floor(newest / bucketMs) * bucketMs
        if current ~= evalBucket then
          evalBucket = current
          sum, oldest = sumRange(b, current - span, current)
        elseif s >= current - span then
          sum = sum + amount
          if oldest == nil or s < oldest then oldest = s end
        end
        if sum >= best then best = sum; at = newest; bestOldest = oldest end
      end
    end
    if dirty then save(key, newest, aux, b, keyTtl) end
    result(best, at, bestOldest, late)
  elseif code == 2 then
    local newest, _, b = load(key)
    readOnly(times, newest, b, bucketMs, span, lateness)
  elseif code == 3 then
    local mkey = KEYS[op[3]]
    local m0 = op[9]
    local max = math.max(1, op[10])
    local newest, prunedTo, h = load(key)
    local card = redis.call('ZCARD', mkey)
    local late, best, at, bestOldest = 0, -1, nil, nil
    local evalBucket, count, oldest = nil, 0, nil
    local dirty = false
    for i = 1, #times do
      local t = times[i]
      local member = ARGV[m0 + i - 1]
      if t < newest - lateness then
        late = late + 1
      else
        dirty = true
        if t > newest then
          newest = t
          local cutoff = t - ttl
          local to = floor(cutoff / bucketMs) * bucketMs
          if to > prunedTo then
            prunedTo = to
            card = card - redis.call('ZREMRANGEBYSCORE', mkey, '-inf', '(' .. fmt(cutoff))
            prune(h, cutoff)
          end
        end
        local s = floor(t / bucketMs) * bucketMs
        local current = floor(newest / bucketMs) * bucketMs
        local fl = current - span
        local prevRaw = redis.call('ZSCORE', mkey, member)
        local prev = nil
        if prevRaw then prev = tonumber(prevRaw) end
        local evicted = false
        local delta = 0
        if prev == nil then
          redis.call('ZADD', mkey, fmt(s), member)
          card = card + 1
          h[s] = (h[s] or 0) + 1
          if s >= fl then delta = 1 end
          if card > max then
            local popped = redis.call('ZPOPMIN', mkey, card - max + floor(max / 10))
            for j = 2, #popped, 2 do
              local ps = tonumber(popped[j])
              if h[ps] ~= nil then h[ps] = h[ps] - 1 end
            end
            card = card - #popped / 2
            evicted = true
          end
        elseif prev < s then
          redis.call('ZADD', mkey, fmt(s), member)
          if h[prev] ~= nil then h[prev] = h[prev] - 1 end
          h[s] = (h[s] or 0) + 1
          if prev < fl and s >= fl then delta = 1 end
        end
        if current ~= evalBucket or evicted or (prev ~= nil and prev == oldest and prev < s) then
          evalBucket = current
          count, oldest = sumRange(h, fl, current)
        elseif delta > 0 then
          count = count + delta
          if oldest == nil or s < oldest then oldest = s end
        end
        if count >= best then best = count; at = newest; bestOldest = oldest end
      end
    end
    if dirty then
      save(key, newest, prunedTo, h, keyTtl)
      redis.call('PEXPIRE', mkey, keyTtl)
    end
    result(best, at, bestOldest, late)
  elseif code == 4 then
    local newest, _, h = load(key)
    readOnly(times, newest, h, bucketMs, span, lateness)
  else
    return redis.error_reply('ERR user_script unknown op ' .. tostring(code))
  end
end

local answer = table.concat(out, ';')
redis.call('SET', KEYS[1], answer, 'PX', markerTtl)
return answer
`,
);
