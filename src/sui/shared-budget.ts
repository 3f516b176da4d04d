import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createProcessId } from '../common/process-id.ts';
import type { SharedRateLimiter } from './budget.ts';

/**
 * A token bucket in one Redis hash, refilled and drawn from atomically by a Lua script on Redis'
 * own clock, so replicas on different machines agree on time. Grants up to the tokens asked for
 * (a process asks for as many as it has callers ready), so a busy process pays one round trip per
 * batch rather than per call.
 *
 * Each replica says the rate and burst it asks for (a second hash, one field per replica, each
 * expiring on Redis' clock) and the bucket runs at the lowest of those asked lately: replicas
 * whose RPC_REQUESTS_PER_SECOND differ (no rate stored) share the most cautious one, rather than
 * refilling one bucket at mixed rates. With a rate stored, every replica asks the same.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
redis.call('HSET', KEYS[2], ARGV[4], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. tostring(now + tonumber(ARGV[5])))
local asked = redis.call('HGETALL', KEYS[2])
for i = 1, #asked, 2 do
  local r, c, expires = string.match(asked[i + 1], '^(%S+) (%S+) (%S+)$')
  if expires == nil or tonumber(expires) == nil or tonumber(expires) < now then
    redis.call('HDEL', KEYS[2], asked[i])
  else
    rate = math.min(rate, tonumber(r))
    capacity = math.min(capacity, tonumber(c))
  end
end
redis.call('PEXPIRE', KEYS[2], 60000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
return { granted, wait, tostring(rate) }
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

/**
 * How long the rate a replica asked with counts after its last ask: a replica that stopped, or
 * idles (an API replica between intakes), soon no longer holds the others to its rate, so a rate
 * raised with PUT /v1/config/rpc applies within seconds. A busy replica asks at least every second
 * or so; a slow one less often, so its ask lasts at least three of its intervals.
 */
const ASKED_FOR_MS = 2_000;
const askedForMs = (requestsPerSecond: number) => Math.max(ASKED_FOR_MS, Math.ceil(3_000 / requestsPerSecond));

/** The shared bucket of every process using `key` (under the deployment's REDIS_PREFIX); `key:rates` holds the rates asked. */
export function createRedisRateLimiter(redis: Redis, key: string): SharedRateLimiter {
  const replica = createProcessId();
  const keys = [key, `${key}:rates`];
  const run = async (args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(TAKE_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      // First use on this Redis (or after a restart): send the script itself, which caches it.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return redis.eval(TAKE_SCRIPT, keys.length, ...keys, ...args);
      throw error;
    }
  };
  return {
    async take(want, requestsPerSecond, capacity) {
      const reply = await run([requestsPerSecond, capacity, want, replica, askedForMs(requestsPerSecond)]);
      if (!Array.isArray(reply) || reply.length !== 3) throw new Error(`unexpected reply from the shared budget script: ${JSON.stringify(reply)}`);
      return { granted: Number(reply[0]), waitMs: Number(reply[1]), requestsPerSecond: Number(reply[2]) };
    },
  };
}
