//! The Lua scripts: each update of a provider's state runs atomically in Redis,
//! on Redis's own clock (`TIME`), so that processes on different machines agree.

/// Admission. KEYS: the request log (a sorted set of `id:tokens` members scored
/// by admission time in ms) and the server view (a hash). ARGV: window ms, max
/// requests (0: none), max tokens (0: none), this request's tokens, a unique id.
/// Returns `{0, now}` when admitted (and logged), `{wait_ms, now}` otherwise.
pub(crate) const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max_requests = tonumber(ARGV[2])
local max_tokens = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local wait = 0
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count = #entries / 2
if max_requests > 0 and count >= max_requests then
  -- The entry whose leaving makes room for one more.
  local score = tonumber(entries[(count - max_requests) * 2 + 2])
  wait = math.max(wait, score + window - now)
end
if max_tokens > 0 and count > 0 then
  local used = 0
  for i = 1, #entries, 2 do
    used = used + tonumber(string.match(entries[i], ':(%d+)$'))
  end
  if used + tokens > max_tokens then
    -- Wait until enough of the oldest have left (all of them for a huge request).
    local left = used
    local until_ms = tonumber(entries[#entries]) + window
    for i = 1, #entries, 2 do
      left = left - tonumber(string.match(entries[i], ':(%d+)$'))
      if left + tokens <= max_tokens then
        until_ms = tonumber(entries[i + 1]) + window
        break
      end
    end
    wait = math.max(wait, until_ms - now)
  end
end
-- The provider's own view: what was left when a response was read, minus what
-- was admitted since the request it answered, until its reset.
for _, unit in ipairs({'requests', 'tokens'}) do
  local view = redis.call('HMGET', KEYS[2], unit .. '_remaining', unit .. '_reset_at', unit .. '_since')
  if view[1] and tonumber(view[2]) > now then
    local used = 0
    local since = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. view[3], '+inf')
    for _, member in ipairs(since) do
      if unit == 'requests' then used = used + 1
      else used = used + tonumber(string.match(member, ':(%d+)$')) end
    end
    local cost = 1
    if unit == 'tokens' then cost = tokens end
    if used + cost > tonumber(view[1]) then
      wait = math.max(wait, tonumber(view[2]) - now)
    end
  end
end
if wait > 0 then
  return {wait, now}
end
redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window + 1000)
return {0, now}
"#;

/// A provider's report of one allowance. KEYS: the server view. ARGV: unit
/// (`requests` or `tokens`), the answered request's admission ms, remaining,
/// reset ms, the window ms. A report about an older admission than the kept one
/// is ignored. Returns 1 when kept.
pub(crate) const REPORT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local unit = ARGV[1]
local since = tonumber(ARGV[2])
local kept = redis.call('HGET', KEYS[1], unit .. '_since')
if kept and tonumber(kept) > since then
  return 0
end
local reset_at = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], unit .. '_remaining', ARGV[3], unit .. '_reset_at', reset_at, unit .. '_since', since)
local ttl = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[4]) + tonumber(ARGV[5]) + 1000
if ttl < wanted then
  redis.call('PEXPIRE', KEYS[1], wanted)
end
return 1
"#;

/// The cool-down check. KEYS: the health hash. Returns `{remaining_ms,
/// failures}`, remaining 0 when not cooling down (a skip is counted otherwise).
pub(crate) const COOLDOWN: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'open_until', 'failures')
local open_until = tonumber(h[1] or '0')
if open_until > now then
  redis.call('HINCRBY', KEYS[1], 'skipped', 1)
  return {open_until - now, tonumber(h[2] or '0')}
end
return {0, tonumber(h[2] or '0')}
"#;

/// An attempt's outcome. KEYS: the health hash. ARGV: 1 failed / 0 answered,
/// the failures that start a cool-down, its length in ms, how long an idle
/// provider's state is kept (ms). Returns the failures in a row.
pub(crate) const HEALTH: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = 0
if ARGV[1] == '1' then
  failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
  if failures >= tonumber(ARGV[2]) and open_until <= now then
    redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[3]))
  end
else
  redis.call('HSET', KEYS[1], 'failures', 0)
  redis.call('HDEL', KEYS[1], 'open_until')
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]))
return failures
"#;
