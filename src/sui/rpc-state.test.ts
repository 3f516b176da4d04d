import { setTimeout as sleep } from 'node:timers/promises';
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

const state = (id: string, publishedAt = new Date()): RpcProcessState => ({
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
  publishedAt: publishedAt.toISOString(),
});

describe('the rpc state board', () => {
  it('lists the states that parse, leaves out and deletes the others, and says so once', async () => {
    const key = `${namespace.prefix}:rpc:processes`;
    const { logger, lines } = captureLogs();
    const board = createRpcStateBoard(redis, key, 3_000, logger);
    await board.publish(state('b'));
    await board.publish(state('a'));
    const { pid: _, ...withoutPid } = state('c');
    const write = async (id: string, text: string) => {
      await redis.multi().set(`${key}:${id}`, text).sadd(key, id).exec();
    };
    await write('c', JSON.stringify(withoutPid));
    await write('d', JSON.stringify({ ...state('d'), inFlight: 'three' }));
    await write('e', '{not json');

    expect(await board.list()).toEqual([state('a'), state('b')].map((expected) => ({ ...expected, publishedAt: expect.any(String) })));
    expect((await redis.smembers(key)).sort()).toEqual(['a', 'b']);
    expect(await redis.exists(`${key}:c`, `${key}:d`, `${key}:e`)).toBe(0);
    await write('f', '[]');
    expect((await board.list()).map((listed) => listed.id)).toEqual(['a', 'b']);
    expect(lines.map(({ msg, id, err }) => ({ msg, id, err }))).toEqual([
      { msg: 'an rpc state in Redis is not one this process reads; left out of GET /v1/config/rpc', id: 'c', err: 'pid: Invalid input: expected number, received undefined' },
    ]);
  });

  it("judges staleness by Redis alone: a publisher's clock hours off is listed while it publishes, and drops out once it stops", async () => {
    const key = `${namespace.prefix}:rpc:clocks`;
    const { logger, lines } = captureLogs();
    const board = createRpcStateBoard(redis, key, 300, logger);
    const behind = state('behind', new Date(Date.now() - 3 * 3_600_000));
    const ahead = state('ahead', new Date(Date.now() + 3 * 3_600_000));
    const publishing = setInterval(() => void board.publish(behind), 100);
    try {
      await board.publish(behind);
      await board.publish(ahead);
      expect(await board.list()).toEqual([ahead, behind]);
      // Well past the threshold: the one still publishing is listed, the silent one is gone.
      await sleep(600);
      expect(await board.list()).toEqual([behind]);
      expect(await redis.smembers(key)).toEqual(['behind']);
    } finally {
      clearInterval(publishing);
    }
    await board.remove('behind');
    expect(await board.list()).toEqual([]);
    expect(await redis.exists(key, `${key}:behind`)).toBe(0);
    expect(lines).toEqual([]);
  });
});
