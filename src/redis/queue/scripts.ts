/**
 * The Lua scripts of a {@link RedisQueue}. Every change of an item's state
 * and the counters that follow it happen in one script run, so the books
 * balance at every moment, whichever process reads them.
 *
 * An item is kept as a few string fields — in a stream entry as field/value
 * pairs, in the delayed set and a group's list as JSON:
 * `i` its id, `d` the item (JSON), `a` attempts made so far, `e` when it was
 * pushed (ms, server time), `s` its sequence number then (a cancel applies
 * to items pushed before it), and when they apply `g` its message group, `x`
 * its TTL deadline (ms, server time), `r` the process awaiting its result
 * (`submit`), `k` its dedupe key, `p` its priority (when not 0), `n` its
 * group's concurrency (when not 1), `w` when its last attempt ended (a
 * retry's wait is measured from it), `h`
 * (delayed set only) a group's head coming back from a retry's backoff.
 *
 * Priority levels: items of priority 0 are in the queue's stream, items
 * of priority p in the stream `…:stream:p<p>` (its consumer group made with
 * it); the sorted set `…:stream:levels` holds the levels used (score −p).
 * Workers read the levels highest first.
 * @internal
 * @module
 */
import { DEAD_LETTER_ADD } from '../dead-letter.js';

/** The stream's consumer group: every worker of the queue reads through it. */
export const GROUP = 'sluice';

/** Helpers every script starts with. @internal */
export const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function flat(t)
  local f = {'i', t.i, 'd', t.d, 'a', t.a, 'e', t.e}
  for _, name in ipairs({'g', 'x', 'r', 'k', 'p', 's', 'n', 'w', 'D'}) do
    if t[name] then f[#f + 1] = name; f[#f + 1] = t[name] end
  end
  return f
end
local function unflat(f)
  local t = {}
  for n = 1, #f, 2 do t[f[n]] = f[n + 1] end
  return t
end
local function xadd(stream, t)
  if t.p then
    local level = stream .. ':p' .. t.p
    if redis.call('ZADD', stream .. ':levels', 'NX', -tonumber(t.p), t.p) == 1 then
      redis.pcall('XGROUP', 'CREATE', level, '${GROUP}', '0', 'MKSTREAM')
    end
    stream = level
  end
  return redis.call('XADD', stream, '*', unpack(flat(t)))
end
local function streams(main)
  local out = {}
  local placed = false
  local levels = redis.call('ZRANGE', main .. ':levels', 0, -1, 'WITHSCORES')
  for n = 1, #levels, 2 do
    if not placed and tonumber(levels[n + 1]) > 0 then
      out[#out + 1] = main
      placed = true
    end
    out[#out + 1] = main .. ':p' .. levels[n]
  end
  if not placed then out[#out + 1] = main end
  return out
end
local function encode(seq, t)
  return seq .. '|' .. cjson.encode(t)
end
local function decode(member)
  return cjson.decode(string.sub(member, string.find(member, '|', 1, true) + 1))
end
local function enter_group(base, stream, t)
  -- out: the group's items in the stream, running or waiting out a backoff; the list: those behind them, in order
  local key = base .. ':group:' .. t.g
  if redis.call('LLEN', key) == 0 and redis.call('HINCRBY', base .. ':groups', t.g, 1) <= tonumber(t.n or '1') then
    xadd(stream, t)
    return
  end
  if redis.call('LLEN', key) == 0 then redis.call('HINCRBY', base .. ':groups', t.g, -1) end
  redis.call('RPUSH', key, cjson.encode(t))
end
local function answer(base, t, json, ttl)
  -- the outcome to every process awaiting it: the pusher's, and those whose pushes replaced its payload
  local to = {}
  if t.r then to[#to + 1] = t.r end
  if t.k then
    local more = redis.call('HGET', base .. ':replyto', t.i)
    if more then
      for p in string.gmatch(more, '[^,]+') do
        if p ~= t.r then to[#to + 1] = p end
      end
    end
  end
  for _, p in ipairs(to) do
    local results = base .. ':results:' .. p
    redis.call('RPUSH', results, json)
    redis.call('PEXPIRE', results, ttl)
  end
end
local function payload(base, t)
  -- a replace-mode item's payload is kept apart (the latest push's), 'w|' while it waits, 'r|' once read
  if not t.D then return t.d end
  local v = redis.call('HGET', base .. ':data', t.i)
  if not v then return t.d end
  return string.sub(v, 3)
end
local function mark_payload(base, t, state)
  if not t.D then return end
  local v = redis.call('HGET', base .. ':data', t.i)
  if v and string.sub(v, 1, 1) ~= state then redis.call('HSET', base .. ':data', t.i, state .. string.sub(v, 2)) end
end
local function reply_to(base, id, process)
  -- a duplicate's (or a replacing) submit: its process gets the live item's outcome too
  local more = redis.call('HGET', base .. ':replyto', id)
  if not more then
    redis.call('HSET', base .. ':replyto', id, process)
  elseif not string.find(',' .. more .. ',', ',' .. process .. ',', 1, true) then
    redis.call('HSET', base .. ':replyto', id, more .. ',' .. process)
  end
end
local function release(base, t, now)
  if t.D then redis.call('HDEL', base .. ':data', t.i) end
  if not t.k then return end
  redis.call('HDEL', base .. ':replyto', t.i)
  -- the key stays a duplicate until its window ends, marked settled (':' live, '=' settled)
  local key = base .. ':dedupe:' .. t.k
  local v = redis.call('GET', key)
  if not v then return end
  local ends, id = string.match(v, '^(%d+)[:=](.*)$')
  if id ~= t.i then return end
  if tonumber(ends) <= now then redis.call('DEL', key) else redis.call('SET', key, ends .. '=' .. id, 'PXAT', ends) end
end
local cancels = nil
local function cancel_reason(base, t)
  if cancels == nil then cancels = redis.call('HLEN', base .. ':cancelled') end
  if cancels == 0 then return nil end
  local v = redis.call('HGET', base .. ':cancelled', t.i)
  if not v then return nil end
  local bar = string.find(v, '|', 1, true)
  if tonumber(t.s or '0') > tonumber(string.sub(v, 1, bar - 1)) then return nil end
  return string.sub(v, bar + 1)
end
local function discard(base, t, now, reason)
  redis.call('HINCRBY', base .. ':counts', 'cancelled', 1)
  redis.call('HDEL', base .. ':cancelled', t.i)
  cancels = cancels - 1
  answer(base, t, '{"i":' .. cjson.encode(t.i) .. ',"e":' .. reason .. '}', 3600000)
  release(base, t, now)
end
local function advance_group(base, stream, t, now)
  -- one of the group's items out left: the next behind it takes its place, or the group has one fewer out
  if not t.g then return end
  local key = base .. ':group:' .. t.g
  while true do
    local next = redis.call('LPOP', key)
    if not next then
      if redis.call('HINCRBY', base .. ':groups', t.g, -1) <= 0 then redis.call('HDEL', base .. ':groups', t.g) end
      return
    end
    local h = cjson.decode(next)
    local reason = cancel_reason(base, h)
    if not reason then
      xadd(stream, h)
      return
    end
    discard(base, h, now, reason)
  end
end
local function pending(main)
  local p = redis.pcall('XPENDING', main, '${GROUP}')
  if type(p) == 'table' and p.err then
    redis.call('XGROUP', 'CREATE', main, '${GROUP}', '0', 'MKSTREAM')
    return 0
  end
  local n = tonumber(p[1])
  for _, level in ipairs(streams(main)) do
    if level ~= main then n = n + tonumber(redis.call('XPENDING', level, '${GROUP}')[1]) end
  end
  return n
end
local function waiting(stream, counts)
  local c = redis.call('HMGET', counts, 'accepted', 'completed', 'deadLettered', 'cancelled', 'returned')
  return tonumber(c[1] or 0) - tonumber(c[2] or 0) - tonumber(c[3] or 0) - tonumber(c[4] or 0) - tonumber(c[5] or 0) - pending(stream)
end
${DEAD_LETTER_ADD}
local function dead_letter(counts, dl, t, reason, now, source)
  local id = string.format('%x', now) .. '-' .. t.i
  local json = '{"id":' .. cjson.encode(id) .. ',"item":' .. t.d .. ',"reason":"' .. reason ..
    '","errors":[],"attempts":' .. t.a .. ',"firstSeenAt":' .. t.e .. ',"deadAt":' .. now ..
    ',"source":' .. cjson.encode(source) .. ',"deaths":[{"source":' .. cjson.encode(source) ..
    ',"reason":"' .. reason .. '","count":1,"time":' .. now .. '}]}'
  local added = dl_add(dl[1], dl[2], dl[3], id, json, tonumber(dl[4]), dl[5])
  redis.call('HINCRBY', counts, 'deadLettered', 1)
  if added[1] == 0 then redis.call('HINCRBY', counts, 'deadLetterRefused', 1) end
  if #added > 1 then redis.call('HINCRBY', counts, 'deadLetterEvicted', #added - 1) end
end
`;

/**
 * KEYS: 1 stream, 2 delayed, 3 counts, 4–6 the dead letter's entries, order, stats.
 * ARGV: 1 item JSON, 2 id ('' → the next sequence number), 3 delay ms,
 * 4 capacity (−1: none), 5 overflow, 6 dedupe key (''), 7 dedupe window ms,
 * 8 group (''), 9 TTL ms (0: none), 10 reply-to (''), 11 key base,
 * 12 source, 13 the dead letter's capacity (−1: none), 14 its overflow,
 * 15 priority (0: the queue's stream; else its level's), 16 its group's
 * concurrency (items of the group out at once; kept with the item when not 1),
 * 17 `1` in `dedupe.mode: 'replace'` (a keyed item's payload kept in `…:data`,
 * replaced by a later push with its key while it waits).
 * Replies {status, id}: `ok`, `dup` (the live item's id), `full` (nothing
 * done: `reject` and `block`), `dropped` (`drop-newest`: accepted and
 * dead-lettered `maxlen`), `replaced` (the live item's id: this payload took its place), `shared` (a
 * submit's duplicate of a live item: its outcome goes to this submit too).
 */
export const PUSH = `${COMMON}
local now = now_ms()
local base = ARGV[11]
local dkey = ARGV[6]
local dedupe = nil
if dkey ~= '' then
  dedupe = base .. ':dedupe:' .. dkey
  local live = redis.call('GET', dedupe)
  if live then
    local mark, live_id = string.match(live, '^%d+([:=])(.*)$')
    redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
    if mark == '=' then return {'dup', live_id} end -- settled: nothing to share
    local v = ARGV[17] == '1' and redis.call('HGET', base .. ':data', live_id)
    if v and string.sub(v, 1, 1) == 'w' then
      -- 'replace': the live item still waits, so this push's payload takes its place
      redis.call('HSET', base .. ':data', live_id, 'w|' .. ARGV[1])
      redis.call('HINCRBY', KEYS[3], 'replaced', 1)
      if ARGV[10] ~= '' then reply_to(base, live_id, ARGV[10]) end
      return {'replaced', live_id}
    end
    -- a duplicate of a live item: a submit shares its outcome (SQS FIFO's deduplication)
    if ARGV[10] ~= '' then
      reply_to(base, live_id, ARGV[10])
      return {'shared', live_id}
    end
    return {'dup', live_id}
  end
end
local capacity = tonumber(ARGV[4])
local full = capacity >= 0 and waiting(KEYS[1], KEYS[3]) >= capacity
local overflow = ARGV[5]
if full and (overflow == 'reject' or overflow == 'block') then return {'full', ''} end
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local id = ARGV[2]
if id == '' then id = tostring(seq) end
local t = {i = id, d = ARGV[1], a = '0', e = tostring(now), s = tostring(seq)}
if ARGV[8] ~= '' then t.g = ARGV[8] end
if ARGV[15] ~= '0' then t.p = ARGV[15] end
if t.g and ARGV[16] ~= '1' then t.n = ARGV[16] end
if tonumber(ARGV[9]) > 0 then t.x = tostring(now + tonumber(ARGV[9])) end
if ARGV[10] ~= '' then t.r = ARGV[10] end
redis.call('HINCRBY', KEYS[3], 'accepted', 1)
local dl = {KEYS[4], KEYS[5], KEYS[6], ARGV[13], ARGV[14]}
if full and overflow == 'drop-newest' then
  dead_letter(KEYS[3], dl, t, 'maxlen', now, ARGV[12])
  return {'dropped', id}
end
if dedupe then
  t.k = dkey
  redis.call('SET', dedupe, (now + tonumber(ARGV[7])) .. ':' .. id)
  if ARGV[17] == '1' then
    -- 'replace' mode: the payload lives apart, where a later push with its key may replace it while it waits
    t.D = '1'
    redis.call('HSET', base .. ':data', id, 'w|' .. t.d)
    t.d = ''
  end
end
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('ZADD', KEYS[2], now + delay, encode(seq, t))
elseif t.g then
  enter_group(base, KEYS[1], t)
else
  xadd(KEYS[1], t)
end
if full then
  -- drop-oldest: the oldest ready item, else the first delayed one
  local old = nil
  local levels = streams(KEYS[1])
  for n = #levels, 1, -1 do
    local r = redis.call('XREADGROUP', 'GROUP', '${GROUP}', 'sluice:overflow', 'COUNT', 1, 'STREAMS', levels[n], '>')
    if r and r[1] and r[1][2][1] then
      local entry = r[1][2][1]
      redis.call('XACK', levels[n], '${GROUP}', entry[1])
      redis.call('XDEL', levels[n], entry[1])
      old = unflat(entry[2])
      advance_group(base, KEYS[1], old, now)
      break
    end
  end
  if not old then
    local first = redis.call('ZPOPMIN', KEYS[2])
    if first[1] then old = decode(first[1]) end
  end
  if old then
    old.d = payload(base, old)
    dead_letter(KEYS[3], dl, old, 'maxlen', now, ARGV[12])
    -- its submit rejects as Queue's does: QueueFullError
    local message = 'RedisQueue: item ' .. old.i .. ' dropped at capacity ' .. ARGV[4] .. " (overflow 'drop-oldest')"
    answer(base, old, '{"i":' .. cjson.encode(old.i) .. ',"e":{"name":"QueueFullError","message":' ..
      cjson.encode(message) .. ',"capacity":' .. ARGV[4] .. '}}', 3600000)
    release(base, old, now)
  end
end
return {'ok', id}
`;

/** The fields of one settle record in {@link SETTLE}'s ARGV. */
export const SETTLE_FIELDS = 8;

/**
 * Settles the attempts of a turn, then reads more for the settling worker.
 * KEYS: 1 stream, 2 delayed, 3 counts, 4–6 the dead letter's entries, order,
 * stats. ARGV: 1 key base, 2 the dead letter's capacity (−1: none), 3 its
 * overflow, 4 how long a result waits for its reader (ms), 5 the consumer,
 * 6 `1` when the queue dedupes in `'replace'` mode (the items read take their
 * latest payload), 7 how many to read for it, then per attempt either `p`, its priority
 * level ('' for 0) and the stream entry's id (done, and nothing else to do:
 * no group, dedupe key or waiting submit) or `f`, its level and 8 fields:
 * the stream entry's id, outcome
 * (`done`, `retry`, `dead`, `release`: back unseen, nothing counted; `defer`: into the delayed set, nothing
 * counted), the retry's (or the deferral's) delay ms, attempts made, whether
 * an attempt failed (`1`), the dead-letter entry's id and JSON, the result
 * for a waiting `submit` (JSON, '').
 * Replies {per attempt 1, or 0 when the entry was no longer pending (its
 * visibility timeout lapsed and another process took it: nothing counted),
 * the entries read, per level stream, highest first}.
 */
export const SETTLE = `${COMMON}
local base = ARGV[1]
local now = now_ms()
local counted = {completed = 0, failed = 0, retried = 0, deadLettered = 0, deadLetterRefused = 0, deadLetterEvicted = 0}
local function settle(stream, id, outcome, delay, attempts, failed, dl_id, dl_json, reply)
  if redis.call('XACK', stream, '${GROUP}', id) == 0 then return 0 end
  local entry = redis.call('XRANGE', stream, id, id)[1]
  redis.call('XDEL', stream, id)
  if not entry then return 0 end
  local t = unflat(entry[2])
  local reason = cancel_reason(base, t)
  if reason then
    -- cancelled while it ran: counted cancelled, whatever the attempt's outcome
    discard(base, t, now, reason)
    advance_group(base, KEYS[1], t, now)
    return reason
  end
  if outcome == 'release' then
    mark_payload(base, t, 'w')
    xadd(KEYS[1], t)
    return 1
  end
  if outcome == 'defer' then
    mark_payload(base, t, 'w')
    -- its group's rate limit had no token: back after the delay, nothing counted, still one of its group's out
    if t.g then t.h = '1' end
    redis.call('ZADD', KEYS[2], now + tonumber(delay), encode(redis.call('HINCRBY', KEYS[3], 'seq', 1), t))
    return 1
  end
  if failed == '1' then counted.failed = counted.failed + 1 end
  if outcome == 'retry' then
    counted.retried = counted.retried + 1
    mark_payload(base, t, 'w')
    t.a = attempts
    t.w = tostring(now) -- its wait for the next attempt starts here (the backoff included), as Queue measures it
    if tonumber(delay) > 0 then
      if t.g then t.h = '1' end
      redis.call('ZADD', KEYS[2], now + tonumber(delay), encode(redis.call('HINCRBY', KEYS[3], 'seq', 1), t))
    else
      xadd(KEYS[1], t)
    end
    return 1
  end
  if outcome == 'done' then
    counted.completed = counted.completed + 1
  else
    local added = dl_add(KEYS[4], KEYS[5], KEYS[6], dl_id, dl_json, tonumber(ARGV[2]), ARGV[3])
    counted.deadLettered = counted.deadLettered + 1
    if added[1] == 0 then counted.deadLetterRefused = counted.deadLetterRefused + 1 end
    counted.deadLetterEvicted = counted.deadLetterEvicted + #added - 1
  end
  advance_group(base, KEYS[1], t, now)
  if reply ~= '' then answer(base, t, reply, ARGV[4]) end
  release(base, t, now)
  return 1
end
local out = {}
cancels = redis.call('HLEN', base .. ':cancelled')
local o = 8
while o <= #ARGV do
  local stream = KEYS[1]
  if ARGV[o + 1] ~= '' then stream = KEYS[1] .. ':p' .. ARGV[o + 1] end
  if ARGV[o] == 'p' and cancels == 0 then
    if redis.call('XACK', stream, '${GROUP}', ARGV[o + 2]) == 1 then
      redis.call('XDEL', stream, ARGV[o + 2])
      counted.completed = counted.completed + 1
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
    o = o + 3
  elseif ARGV[o] == 'p' then
    out[#out + 1] = settle(stream, ARGV[o + 2], 'done', '0', '0', '0', '', '', '')
    o = o + 3
  else
    out[#out + 1] = settle(stream, ARGV[o + 2], ARGV[o + 3], ARGV[o + 4], ARGV[o + 5], ARGV[o + 6], ARGV[o + 7], ARGV[o + 8], ARGV[o + 9])
    o = o + 10
  end
end
for name, k in pairs(counted) do
  if k > 0 then redis.call('HINCRBY', KEYS[3], name, k) end
end
local read = {}
local wanted = tonumber(ARGV[7])
if wanted > 0 then
  for _, stream in ipairs(streams(KEYS[1])) do
    while wanted > 0 do
      local got = redis.call('XREADGROUP', 'GROUP', '${GROUP}', ARGV[5], 'COUNT', wanted, 'STREAMS', stream, '>')
      if not (got and got[1] and #got[1][2] > 0) then break end
      local kept = got[1][2]
      if cancels > 0 or ARGV[6] == '1' then
        kept = {}
        for _, e in ipairs(got[1][2]) do
          local t = unflat(e[2])
          local reason = cancel_reason(base, t)
          if reason then
            redis.call('XACK', stream, '${GROUP}', e[1])
            redis.call('XDEL', stream, e[1])
            discard(base, t, now, reason)
            advance_group(base, KEYS[1], t, now)
          else
            if t.D then
              -- a replace-mode item: its latest payload (field 2 of the entry is d), no longer replaceable
              e[2][4] = payload(base, t)
              mark_payload(base, t, 'r')
            end
            kept[#kept + 1] = e
          end
        end
      end
      if #kept > 0 then read[#read + 1] = {got[1][1], kept} end
      wanted = wanted - #kept
    end
    if wanted <= 0 then break end
  end
end
return {out, read, cancels}
`;

/**
 * Moves items whose delay or backoff is over into the stream (a group's
 * item into its group). KEYS: 1 stream, 2 delayed. ARGV: 1 key base, 2 the
 * most to move. Replies {moved, the next due time or −1, the server's time}.
 */
export const PROMOTE = `${COMMON}
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[2], member)
  local t = decode(member)
  local reason = cancel_reason(ARGV[1], t)
  if reason then
    discard(ARGV[1], t, now, reason)
    -- a group's head waiting out its backoff: the group goes on
    if t.h then advance_group(ARGV[1], KEYS[1], t, now) end
  elseif t.h then
    t.h = nil
    xadd(KEYS[1], t)
  elseif t.g then
    enter_group(ARGV[1], KEYS[1], t)
  else
    xadd(KEYS[1], t)
  end
end
local next = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {#due, next[2] or -1, now, redis.call('HLEN', ARGV[1] .. ':cancelled')}
`;

/** The counters and the number in flight, read together. KEYS: 1 stream, 2 counts. Replies {HGETALL…, pending}. */
export const STATS = `${COMMON}
local c = redis.call('HGETALL', KEYS[2])
c[#c + 1] = 'inFlight'
c[#c + 1] = pending(KEYS[1])
return c
`;

/**
 * Cancels the live item `id`: marks it in `…:cancelled` (hash: id → the
 * sequence number then, and the reason as JSON), so that whichever script
 * meets it next — a worker's read, the delayed set's move, its group's turn,
 * the settle of its running attempt — takes it out, counted `cancelled`
 * (its submit answered with the reason). Items pushed later with the same id
 * are fenced off by their sequence number. KEYS: 1 counts, 2 cancelled.
 * ARGV: 1 id, 2 reason (JSON). Replies 1, or 0 when it was marked already.
 */
export const CANCEL = `
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
return redis.call('HSETNX', KEYS[2], ARGV[1], seq .. '|' .. ARGV[2])
`;

/**
 * The latest payloads of replace-mode items a worker read outside the settle
 * script (a blocking read, a lapsed item taken back), marking them read (no
 * longer replaceable). ARGV: 1 key base, then the items' ids. Replies a
 * payload per id (nil when it has none apart).
 */
export const TAKE = `
local key = ARGV[1] .. ':data'
local out = {}
for n = 2, #ARGV do
  local v = redis.call('HGET', key, ARGV[n])
  if v then
    if string.sub(v, 1, 1) == 'w' then redis.call('HSET', key, ARGV[n], 'r' .. string.sub(v, 2)) end
    out[#out + 1] = string.sub(v, 3)
  else
    out[#out + 1] = false
  end
end
return out
`;
