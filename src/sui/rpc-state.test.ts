import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createTestRedisNamespace } from '../../test/helpers/redis.ts';
import { createRpcStateBoard, type RpcProcessState } from './rpc-state.ts';

const namespace = createTestRedisNamespace();
const redis = new Redis(namespace.url);
afterAll(async () => {
  redis.disconnect();
  await namespace.cleanup();
});

const state = (id: string): RpcProcessState => ({
  id,
  process: 'worker',
  host: 'host',
  pid: 42,
  requestsPerSecond: 100,
  effectiveRequestsPerSecond: 50,
  achievedRequestsPerSecond: 12.5,
  maxInFlight: 32,
  inFlight: 3,
  queued: 0,
  throttled: 1,
  backoffMs: 0,
  shared: false,
  endpoints: [{ url: 'https://rpc.example/…', role: 'primary', state: 'up', consecutiveFailures: 0, retryAt: null, lowestAvailableCheckpoint: '1000', lastError: null }],
  publishedAt: new Date().toISOString(),
});

describe('the rpc state board', () => {
  it('lists the states that parse, leaves out and deletes the others, and says so once', async () => {
    const key = `${namespace.prefix}:rpc:processes`;
    const { logger, lines } = captureLogs();
    const board = createRpcStateBoard(redis, key, 3_000, logger);
    await board.publish(state('b'));
    await board.publish(state('a'));
    const { pid: _, ...withoutPid } = state('c');
    await redis.hset(key, 'c', JSON.stringify(withoutPid), 'd', JSON.stringify({ ...state('d'), inFlight: 'three' }), 'e', '{not json');

    expect(await board.list()).toEqual([state('a'), state('b')].map((expected) => ({ ...expected, publishedAt: expect.any(String) })));
    expect(Object.keys(await redis.hgetall(key)).sort()).toEqual(['a', 'b']);
    await redis.hset(key, 'f', '[]');
    expect((await board.list()).map((listed) => listed.id)).toEqual(['a', 'b']);
    expect(lines.map(({ msg, id, err }) => ({ msg, id, err }))).toEqual([
      { msg: 'an rpc state in Redis is not one this process reads; left out of GET /v1/config/rpc', id: 'c', err: 'pid: Invalid input: expected number, received undefined' },
    ]);
  });
});
