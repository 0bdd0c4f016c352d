/**
 * The clear script of a {@link RedisQueue} (`clear()`): see scripts.ts for
 * how an item is kept.
 * @internal
 * @module
 */
import { COMMON, GROUP } from './scripts.js';

/**
 * Hands back up to ARGV 2 waiting items (`clear()`), in the order they would
 * run: the ready ones by priority (a group's head with the rest of its
 * group behind it), then the rest of each group whose head is in flight or
 * waiting out a backoff, then the delayed set by due time. Each is counted
 * `returned`, its dedupe key released, its `submit` answered with ARGV 3
 * (the error, JSON); a cancelled one is counted `cancelled` instead. Items
 * a worker has read (pending in the stream) are in flight: not touched.
 * KEYS: 1 stream, 2 delayed, 3 counts. ARGV: 1 key base, 2 the most to hand
 * back this run, 3 the error for a waiting submit, 4 the group scan's
 * cursor ('0' to start). Replies {items (JSON), the cursor to go on with,
 * or '' when every waiting item was handed back}.
 */
export const CLEAR = `${COMMON}
local base = ARGV[1]
local room = tonumber(ARGV[2])
local now = now_ms()
local out = {}
local returned = 0
cancels = redis.call('HLEN', base .. ':cancelled')
local function back(t)
  local reason = cancel_reason(base, t)
  if reason then
    discard(base, t, now, reason)
    return
  end
  returned = returned + 1
  answer(base, t, '{"i":' .. cjson.encode(t.i) .. ',"e":' .. ARGV[3] .. '}', 3600000)
  out[#out + 1] = payload(base, t)
  release(base, t, now)
  room = room - 1
end
local function finish(cursor)
  if returned > 0 then redis.call('HINCRBY', KEYS[3], 'returned', returned) end
  return {out, cursor}
end
local cursor = ARGV[4]
if cursor == '0' then
  -- ready items: read through a consumer of clear's own, then taken out of the stream
  for _, stream in ipairs(streams(KEYS[1])) do
    while room > 0 do
      local got = redis.call('XREADGROUP', 'GROUP', '${GROUP}', 'sluice:clear', 'COUNT', room, 'STREAMS', stream, '>')
      if not (got and got[1] and #got[1][2] > 0) then break end
      for _, e in ipairs(got[1][2]) do
        redis.call('XACK', stream, '${GROUP}', e[1])
        redis.call('XDEL', stream, e[1])
        local t = unflat(e[2])
        back(t)
        -- one of its group's out left: the rest of the group comes in order (handed back in the groups' pass)
        if t.g then advance_group(base, KEYS[1], t, now) end
      end
    end
    if room <= 0 then return finish('0') end
  end
  cursor = 'scan:0'
end
if string.sub(cursor, 1, 5) == 'scan:' then
  -- the groups with items out (running, or waiting out a backoff): every item behind them waits
  local at = string.sub(cursor, 6)
  repeat
    local page = redis.call('HSCAN', base .. ':groups', at, 'COUNT', 100)
    at = page[1]
    for n = 1, #page[2], 2 do
      local key = base .. ':group:' .. page[2][n]
      for _, json in ipairs(redis.call('LRANGE', key, 0, -1)) do back(cjson.decode(json)) end
      redis.call('DEL', key)
    end
    if room <= 0 and at ~= '0' then return finish('scan:' .. at) end
  until at == '0'
end
-- the delayed set by due time: delays, and retries waiting out their backoff (a group's head among them)
local due = redis.call('ZRANGE', KEYS[2], 0, math.max(room, 1) - 1)
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[2], member)
  local t = decode(member)
  back(t)
  -- a group's head: its group goes on with whatever was pushed since
  if t.h then advance_group(base, KEYS[1], t, now) end
end
if redis.call('ZCARD', KEYS[2]) > 0 then return finish('delayed') end
return finish('')
`;
