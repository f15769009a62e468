/**
 * The Lua scripts of the Redis backplane. Each runs atomically on the server, which is what
 * gives concurrent publishers on different nodes distinct consecutive offsets, and each
 * touches only the keys it is given (all under one hash tag). Time comes from the server's
 * TIME, so every node stamps publications and liveness deadlines with the same clock.
 */
import { createHash } from 'node:crypto';

export class RedisScript {
  readonly sha: string;
  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/** What the scripts need from a connection: EVALSHA, and EVAL when the server lost its script cache. */
export interface ScriptRunner {
  /** Replies with bulk strings as Buffers (binary payloads) or as strings. */
  run(script: RedisScript, keys: string[], args: (string | Buffer | number)[], buffers: boolean): Promise<unknown>;
}

const HELPERS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n)
  return string.format('%d', n)
end
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
local function offset_of(id)
  return tonumber(string.match(id, '^(%d+)-'))
end
-- Drops the oldest entries whose age passed their TTL ('x' = server ms it lapses, 0 = never),
-- as the memory history does before every call; returns the oldest retained offset, or nil.
local function drop_expired(stream, now)
  while true do
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #head == 0 then return nil end
    local x = tonumber(field(head[1][2], 'x') or '0')
    if x == 0 or x > now then return offset_of(head[1][1]) end
    redis.call('XDEL', stream, head[1][1])
  end
end
-- A topic whose epoch or offset is gone lost its history (expiry, eviction, restart): it
-- starts again at offset 0 in a new epoch, so no client mistakes new offsets for old ones.
local function current(stream, offset_key, epoch_key, candidate, idle_ms)
  local epoch = redis.call('GET', epoch_key)
  local last = redis.call('GET', offset_key)
  if epoch and last then return epoch, tonumber(last) end
  -- Inside the script this is the SET NX of a fresh topic; an epoch left without its offset
  -- is replaced too, since offsets restarting under an old epoch would lie to recovery.
  redis.call('DEL', stream)
  redis.call('SET', epoch_key, candidate, 'PX', idle_ms)
  redis.call('SET', offset_key, '0', 'PX', idle_ms)
  return candidate, 0
end
`;

/**
 * KEYS: stream, offset, epoch[, idempotency key]. ARGV: historySize, ttlMs (0: no age limit),
 * idleMs, epoch candidate, data, binary ('1'/'0')[, idempotency ttlMs]. Returns {epoch, offset,
 * publishedAt}, or {epoch, offset} of the first append when the idempotency key is there
 * (nothing appended): the look-up and the append are one atomic step.
 * The entry id is `<offset>-0`, so a read by offset is an XRANGE by id. Keys live ttlMs from
 * the last append (idleMs when nothing is kept and there is no TTL; forever when entries are
 * kept without a TTL), which is when the memory history would drop the stream too.
 */
export const APPEND = new RedisScript(
  'history-append',
  `${HELPERS}
local stream, offset_key, epoch_key, idem_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local size, ttl, idle = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if idem_key then
  local first = redis.call('HMGET', idem_key, 'e', 'o')
  if first[1] then return {first[1], tonumber(first[2])} end
end
local now = now_ms()
local epoch = current(stream, offset_key, epoch_key, ARGV[4], idle)
local offset = redis.call('INCR', offset_key)
if idem_key then
  redis.call('HSET', idem_key, 'e', epoch, 'o', offset)
  redis.call('PEXPIRE', idem_key, ARGV[7])
end
if size > 0 then
  drop_expired(stream, now)
  local expires = 0
  if ttl > 0 then expires = now + ttl end
  redis.call('XADD', stream, 'MAXLEN', '=', size, int(offset) .. '-0',
    'd', ARGV[5], 'b', ARGV[6], 't', int(now), 'x', int(expires))
else
  redis.call('DEL', stream)
end
local keep = ttl
if keep == 0 and size == 0 then keep = idle end
for _, key in ipairs({stream, offset_key, epoch_key}) do
  if keep > 0 then redis.call('PEXPIRE', key, keep) else redis.call('PERSIST', key) end
end
return {epoch, offset, now}
`,
);

/**
 * KEYS: stream, offset, epoch. ARGV: first offset wanted, limit (-1: all, 0: none), expected
 * epoch ('' for any), epoch candidate, idleMs. Returns {epoch, lastOffset, oldestRetained,
 * {{offset, data, binary, publishedAt}...}}; no entries when the expected epoch differs.
 * A topic never seen gets its epoch here, so the position a subscriber is given stays valid
 * when the first publication arrives.
 */
export const READ = new RedisScript(
  'history-read',
  `${HELPERS}
local stream, offset_key, epoch_key = KEYS[1], KEYS[2], KEYS[3]
local limit, idle = tonumber(ARGV[2]), tonumber(ARGV[5])
local now = now_ms()
local epoch, last = current(stream, offset_key, epoch_key, ARGV[4], idle)
local oldest = drop_expired(stream, now) or (last + 1)
local out = {}
if limit ~= 0 and (ARGV[3] == '' or ARGV[3] == epoch) then
  local entries
  if limit > 0 then
    entries = redis.call('XRANGE', stream, ARGV[1] .. '-0', '+', 'COUNT', limit)
  else
    entries = redis.call('XRANGE', stream, ARGV[1] .. '-0', '+')
  end
  for i, entry in ipairs(entries) do
    local f = entry[2]
    out[i] = {offset_of(entry[1]), field(f, 'd'), field(f, 'b'), tonumber(field(f, 't'))}
  end
end
return {epoch, last, oldest, out}
`,
);

/**
 * KEYS: live key, nodes set. ARGV: ttlMs, nodeId, holder record (the claiming instance and who
 * it is). The key answers isLive; the set, scored by the server time the key lapses, answers
 * liveNodes without scanning the keyspace. The set itself lives as long as the longest
 * liveness in it. The key is a claim on the node id: set only when absent or already this
 * instance's (SET NX semantics, atomic as every script), else the holder's record is returned
 * and nothing changes. Returns 1 when claimed or refreshed.
 */
export const ANNOUNCE = new RedisScript(
  'liveness-announce',
  `${HELPERS}
local ttl = tonumber(ARGV[1])
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[3] then return held end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('ZADD', KEYS[2], int(now_ms() + ttl), ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`,
);

/** KEYS: live key, nodes set. ARGV: nodeId, holder record. Only the instance that claimed the id withdraws. */
export const LEAVE = new RedisScript(
  'liveness-leave',
  `
if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
`,
);

/** KEYS: nodes set. Drops lapsed members (server time) and returns the rest. */
export const LIVE_NODES = new RedisScript(
  'liveness-nodes',
  `${HELPERS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now_ms()))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
);
