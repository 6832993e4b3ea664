import { defineScript } from "./connection.ts";

/**
 * The batch script: applies the ops of one batch (or, on Redis Cluster, of one hash slot of it)
 * atomically and answers their results, exactly like MemoryWindowStore. It is idempotent per
 * applied-batch marker: a second call with the same marker answers the stored results.
 *
 * KEYS[1]   the applied-batch marker; KEYS[2..] the state keys the ops name
 * ARGV[1]   the ops as JSON: [[code, key, key2, geometry, times, amounts | first member index,
 *           maxMembers], …]; code 1 window_add, 2 window_read, 3 distinct_add, 4 distinct_read;
 *           key/key2 index KEYS; members are ARGV entries (binary-safe, never inside JSON)
 * ARGV[2]   marker TTL (ms); ARGV[3] extra TTL (ms) for state keys
 * ARGV[4]   the geometries the ops index, as JSON: [[bucketMs, windowMs, latenessMs, ttlMs], …]
 * returns   value, at, oldest, late per op, flat (integral numbers as integers, others as
 *           %.17g text, null as nil); the marker keeps them MessagePack-encoded
 *
 * A numeric window key is a MessagePack array [newest, aux, start, amount, start, amount, …]; a
 * distinct window is the same array (aux: the cutoff members were last pruned to, amounts: members
 * per bucket) plus a sorted set member → start of the bucket it was last seen in.
 */
export const WINDOW_SCRIPT = defineScript(
  "secmonWindows",
  String.raw`
local done = redis.call('GET', KEYS[1])
if done then return cmsgpack.unpack(done) end
local ops = cjson.decode(ARGV[1])
local geometries = cjson.decode(ARGV[4])
local markerTtl = tonumber(ARGV[2])
local extraTtl = tonumber(ARGV[3])
local floor = math.floor
local NEG = -1e308
local function fmt(n) return string.format('%.17g', n) end

local function load(key)
  local raw = redis.call('GET', key)
  local b = {}
  if not raw then return NEG, NEG, b end
  local t = cmsgpack.unpack(raw)
  for i = 3, #t, 2 do b[t[i]] = t[i + 1] end
  return t[1], t[2], b
end

local function save(key, newest, aux, b, ttl)
  local t = { newest, aux }
  local n = 2
  for s, a in pairs(b) do
    t[n + 1] = s
    t[n + 2] = a
    n = n + 2
  end
  redis.call('SET', key, cmsgpack.pack(t), 'PX', ttl)
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

-- results: integral numbers as they are (an integer reply), others as %.17g text, null as false
local out = {}
local function num(v)
  if v == floor(v) and v > -9007199254740992 and v < 9007199254740992 then return v end
  return fmt(v)
end
local function result(best, at, oldest, late)
  local n = #out
  if at == nil then
    out[n + 1] = 0; out[n + 2] = false; out[n + 3] = false
  else
    out[n + 1] = num(best); out[n + 2] = num(at)
    if oldest == nil then out[n + 3] = false else out[n + 3] = num(oldest) end
  end
  out[n + 4] = late
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

for _, g in ipairs(geometries) do g[5] = math.ceil(g[2] / g[1]) * g[1] end
for _, op in ipairs(ops) do
  local code, key = op[1], KEYS[op[2]]
  local g = geometries[op[4]]
  local bucketMs, lateness, ttl, span = g[1], g[3], g[4], g[5]
  local times = op[5]
  local keyTtl = ttl + extraTtl
  if code == 1 then
    local amounts = op[6]
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
    local m0 = op[6]
    local max = math.max(1, op[7])
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

redis.call('SET', KEYS[1], cmsgpack.pack(out), 'PX', markerTtl)
return out
`,
);
