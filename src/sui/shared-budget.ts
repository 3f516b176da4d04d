import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRateLimiter } from './budget.ts';

/**
 * A token bucket in one Redis hash, refilled and drawn from atomically by a Lua script on Redis'
 * own clock, so replicas on different machines agree on time. Grants up to the tokens asked for
 * (a process asks for as many as it has callers ready), so a busy process pays one round trip per
 * batch rather than per call.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
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
return { granted, wait }
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

/** The shared bucket of every process using `key` (under the deployment's REDIS_PREFIX). */
export function createRedisRateLimiter(redis: Redis, key: string): SharedRateLimiter {
  const run = async (args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(TAKE_SHA, 1, key, ...args);
    } catch (error) {
      // First use on this Redis (or after a restart): send the script itself, which caches it.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return redis.eval(TAKE_SCRIPT, 1, key, ...args);
      throw error;
    }
  };
  return {
    async take(want, requestsPerSecond, capacity) {
      const reply = await run([requestsPerSecond, capacity, want]);
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected reply from the shared budget script: ${JSON.stringify(reply)}`);
      return { granted: Number(reply[0]), waitMs: Number(reply[1]) };
    },
  };
}
