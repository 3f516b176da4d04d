import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimChain, type SimChainOptions } from '../src/simnet/chain.ts';
import { createSimnetServer } from '../src/simnet/server.ts';
import { createRpcBudget, DEFAULT_BURST_SECONDS } from '../src/sui/budget.ts';
import { EndpointRefusedError } from '../src/sui/errors.ts';
import type { CheckpointRecord } from '../src/sui/records.ts';
import { createRedisRateLimiter } from '../src/sui/shared-budget.ts';
import { createSuiSource, type SuiSource } from '../src/sui/source.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { captureLogs } from './helpers/logs.ts';
import { createTestRedisNamespace } from './helpers/redis.ts';
import { backfillToCompletion, startStack, type Stack } from './helpers/stack.ts';

const CHAIN: SimChainOptions = { checkpoints: 1_500, txPerCheckpoint: 4, packageTrafficFraction: 0.3 };

/** A URL on which nothing listens. */
async function closedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function readAll(source: SuiSource, from: bigint, to: bigint): Promise<CheckpointRecord[]> {
  const records: CheckpointRecord[] = [];
  for await (const checkpoint of source.getCheckpoints(from, to, { concurrency: 4 })) records.push(checkpoint);
  return records;
}

/**
 * A stack with one worker shared by a describe's tests, each test starting from empty tables, clean
 * knobs and no captured log lines.
 */
function useWorkerStack(env: Record<string, string>) {
  const captured = captureLogs();
  const suite = { stack: undefined as unknown as Stack, captured };
  beforeAll(async () => {
    suite.stack = await startStack({ chain: CHAIN, env, logger: captured.logger });
    await suite.stack.startWorker();
  });
  afterAll(async () => {
    await suite.stack?.close();
  });
  beforeEach(async () => {
    await suite.stack.clearBackfills();
    suite.stack.simnet.setKnobs({ unavailableRate: 0, hangRate: 0, truncateRate: 0, maxResponseBytes: 0 });
    suite.stack.simnet.resetStats();
    captured.lines.length = 0;
  });
  return suite;
}

const backfill = (stack: Stack, body: Record<string, unknown>) => backfillToCompletion(stack, body, 120_000);

describe('a backfill through a faulty node', () => {
  // A short deadline so hung calls (held 30 s) end quickly, yet one a loaded machine answering in
  // time meets; retries enough that 13% of failed attempts never exhaust them.
  const suite = useWorkerStack({ RPC_TIMEOUT_MS: '1000', RPC_MAX_RETRIES: '10' });

  it('10% UNAVAILABLE, 2% hanging past the deadline, 1% truncated: exactly what the chain holds', { timeout: 120_000 }, async () => {
    const { stack, captured } = suite;
    stack.simnet.setKnobs({ unavailableRate: 0.1, hangRate: 0.02, hangMs: 30_000, truncateRate: 0.01 });
    const dex = stack.chain.package('dex');
    const from = stack.chain.publishCheckpoint(dex.originalId);
    const to = from + 599n;
    await backfill(stack, { packageId: dex.originalId, toCheckpoint: to.toString() });
    const { faults, responses } = stack.simnet.stats();
    expect(faults.unavailable).toBeGreaterThan(20);
    expect(faults.hang).toBeGreaterThan(3);
    expect(faults.truncate).toBeGreaterThan(0);
    expect(responses.DATA_LOSS).toBe(faults.truncate);
    expect(await stack.objects()).toEqual(stack.truth(dex.originalId, 'outer', from, to));
    // Deadlines are "too slow for a chunk": the chunk shrank, saying why.
    expect(captured.lines.some((line) => line.msg === 'backfill chunk size halved' && line.reason === 'deadline')).toBe(true);
  });
});

describe('a node that caps its response size', () => {
  // The default deadline: here a chunk may shrink only because a response was too large.
  const suite = useWorkerStack({});

  it('oversized checkpoints: read by digests then small batches, the chunk shrinks and grows back, the log says why', { timeout: 120_000 }, async () => {
    const { stack, captured } = suite;
    // About 2% of the checkpoints are over 16 kB with the lean mask; every transaction alone is under it.
    stack.simnet.setKnobs({ maxResponseBytes: 16_000 });
    const dex = stack.chain.package('dex');
    const from = stack.chain.publishCheckpoint(dex.originalId);
    const to = stack.chain.tip();
    await backfill(stack, { packageId: dex.originalId, match: 'anywhere' });
    const { requests, responses } = stack.simnet.stats();
    expect(responses.OUT_OF_RANGE).toBeGreaterThan(5);
    expect(requests.BatchGetTransactions).toBeGreaterThan(responses.OUT_OF_RANGE);
    expect(await stack.objects()).toEqual(stack.truth(dex.originalId, 'anywhere', from, to));

    const halved = captured.lines.filter((line) => line.msg === 'backfill chunk size halved');
    expect(halved.length).toBeGreaterThan(0);
    expect(halved[0]).toMatchObject({ from: 100, to: 50, reason: 'response_too_large' });
    expect(String(halved[0].detail)).toMatch(/OUT_OF_RANGE: Error, encoded message length too large: found \d+ bytes, the limit is: 16000 bytes$/);
    expect(captured.lines.some((line) => line.msg === 'backfill chunk size grown' && line.reason === 'successes')).toBe(true);
    // Batches of transactions are held to the same limit, and shrink to fit it.
    expect(captured.lines.some((line) => line.msg === 'transaction batch size changed' && line.reason === 'response_too_large')).toBe(true);
    expect((await stack.common.metrics.rpcCheckpointFallbacks.get()).values[0].value).toBeGreaterThan(5);
  });
});

describe('pruned history', () => {
  it('is refused at intake naming the lowest available checkpoint; with an archival endpoint the backfill is exact', { timeout: 120_000 }, async () => {
    const lowest = 500;
    const pruned = await startStack({ chain: CHAIN, knobs: { lowestAvailableCheckpoint: lowest } });
    try {
      const dex = pruned.chain.package('dex');
      expect(pruned.chain.publishCheckpoint(dex.originalId)).toBeLessThan(lowest);
      const refused = await pruned.call('POST', '/v1/backfills', { packageId: dex.originalId });
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('range_not_served');
      expect(refused.body.error.message).toContain(`below the lowest available checkpoint ${lowest} of ${pruned.simnet.url}`);
      expect(refused.body.error.message).toContain('SUI_ARCHIVE_GRPC_URL');
      const explicit = await pruned.call('POST', '/v1/backfills', { packageId: dex.originalId, fromCheckpoint: 100, toCheckpoint: 900 });
      expect(explicit.status).toBe(422);
      expect(explicit.body.error.message).toContain(`checkpoint 100 is below the lowest available checkpoint ${lowest}`);
    } finally {
      await pruned.close();
    }

    const archive = await createSimnetServer({ chain: createSimChain(CHAIN) });
    const stack = await startStack({ chain: CHAIN, knobs: { lowestAvailableCheckpoint: lowest }, env: { SUI_ARCHIVE_GRPC_URL: archive.url } });
    try {
      await stack.startWorker();
      const dex = stack.chain.package('dex');
      const from = stack.chain.publishCheckpoint(dex.originalId);
      const to = 800n;
      stack.simnet.resetStats();
      const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.originalId, match: 'anywhere', toCheckpoint: Number(to) });
      expect(posted.status).toBe(202);
      expect(posted.body.fromCheckpoint).toBe(from.toString());
      const done = await stack.waitForStatus(posted.body.id, ['completed', 'failed']);
      expect(done.status).toBe('completed');
      expect(await stack.objects()).toEqual(stack.truth(dex.originalId, 'anywhere', from, to));
      // Below the lowest: the archive. Once the full node said where its history starts, it is
      // not asked again for what it pruned (at most one round of calls in flight found out).
      expect(archive.stats().requests.GetCheckpoint).toBeGreaterThanOrEqual(lowest - Number(from));
      const primary = stack.simnet.stats().requests.GetCheckpoint;
      expect(primary).toBeGreaterThanOrEqual(Number(to) - lowest + 1);
      expect(primary).toBeLessThan(Number(to) - lowest + 1 + 40);
      expect(stack.source.endpoints().map((endpoint) => [endpoint.role, endpoint.lowestAvailableCheckpoint])).toEqual([
        ['primary', String(lowest)],
        ['archive', '0'],
      ]);
    } finally {
      await stack.close();
      await archive.close();
    }
  });
});

describe('a full node that never answers, one that pruned, and an archive', () => {
  it('the refusal names the node that said where its history starts; the backfill from the publish reads below it at the archive, exactly', { timeout: 30_000 }, async () => {
    const lowest = 1_000;
    const dead = await closedUrl();
    const pruned = await createSimnetServer({ chain: createSimChain(CHAIN), lowestAvailableCheckpoint: lowest });
    const archive = await createSimnetServer({ chain: createSimChain(CHAIN) });
    try {
      const withoutArchive = await startStack({ chain: CHAIN, env: { SUI_GRPC_URL: `${dead},${pruned.url}` } });
      try {
        const dex = withoutArchive.chain.package('dex');
        const refused = await withoutArchive.call('POST', '/v1/backfills', { packageId: dex.originalId, fromCheckpoint: 120 });
        expect([refused.status, refused.body]).toEqual([
          422,
          {
            error: {
              code: 'range_not_served',
              message: `checkpoint 120 is below the lowest available checkpoint ${lowest} of ${pruned.url}; configure an archival endpoint (SUI_ARCHIVE_GRPC_URL) that serves this history`,
            },
          },
        ]);
      } finally {
        await withoutArchive.close();
      }

      // A short cool-down: the dead node is probed again and again during the walk.
      const stack = await startStack({ chain: CHAIN, env: { SUI_GRPC_URL: `${dead},${pruned.url}`, SUI_ARCHIVE_GRPC_URL: archive.url, RPC_ENDPOINT_COOLDOWN_MS: '300' } });
      try {
        await stack.startWorker();
        const dex = stack.chain.package('dex');
        const from = stack.chain.publishCheckpoint(dex.originalId);
        expect(from).toBeLessThan(lowest);
        const to = 1_300n;
        pruned.resetStats();
        archive.resetStats();
        const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.originalId, match: 'anywhere', toCheckpoint: Number(to) });
        expect([posted.status, posted.body.fromCheckpoint]).toEqual([202, from.toString()]);
        const done = await stack.waitForStatus(posted.body.id, ['completed', 'failed'], 20_000);
        expect([done.status, done.lastError]).toEqual(['completed', null]);
        expect(await stack.objects()).toEqual(stack.truth(dex.originalId, 'anywhere', from, to));
        // Below the pruned node's lowest: the archive, never the pruned node (it had said where its
        // history starts at intake). From there on the pruned node, never the archive.
        const below = lowest - Number(from);
        const above = Number(to) - lowest + 1;
        const { requests: atArchive } = archive.stats();
        expect(atArchive.GetCheckpoint).toBeGreaterThanOrEqual(below);
        expect(atArchive.GetCheckpoint).toBeLessThan(below + 40);
        const { requests: atPruned, responses } = pruned.stats();
        expect(atPruned.GetCheckpoint).toBeGreaterThanOrEqual(above);
        expect(atPruned.GetCheckpoint).toBeLessThan(above + 40);
        expect(responses.NOT_FOUND).toBeUndefined();
        expect(stack.source.endpoints().map(({ url, role, state, lowestAvailableCheckpoint }) => [url, role, state === 'up', lowestAvailableCheckpoint])).toEqual([
          [dead, 'primary', false, null],
          [pruned.url, 'primary', true, String(lowest)],
          [archive.url, 'archive', true, '0'],
        ]);
      } finally {
        await stack.close();
      }
    } finally {
      await pruned.close();
      await archive.close();
    }
  });
});

describe('several full nodes', () => {
  const COOLDOWN_MS = 6_000;

  it('one refusing connections and one answering only UNAVAILABLE are put aside; calls go to the healthy one; they are tried again after the cool-down', { timeout: 60_000 }, async () => {
    const chain = createSimChain({ ...CHAIN, checkpoints: 400 });
    const down = await createSimnetServer({ chain, unavailableRate: 1 });
    const healthy = await createSimnetServer({ chain });
    const closed = await closedUrl();
    try {
      const reference = await readAll(createSuiSource({ url: healthy.url, timeoutMs: 5_000 }), 100n, 249n);
      healthy.resetStats();
      // A cool-down no slow read outlasts: the endpoints are still aside when the state is checked.
      const source = createSuiSource({ url: [closed, down.url, healthy.url], timeoutMs: 2_000, maxRetries: 4, retryBaseMs: 1, retryMaxMs: 10, cooldownMs: COOLDOWN_MS });
      expect(source.describeEndpoint()).toBe(`${closed}, ${down.url}, ${healthy.url}`);

      expect(await readAll(source, 100n, 199n)).toEqual(reference.slice(0, 100));
      // Three failures in a row put an endpoint aside; a few more were already in flight.
      expect(down.stats().requests.GetCheckpoint).toBeLessThanOrEqual(8);
      expect(healthy.stats().requests.GetCheckpoint).toBe(100);
      expect(source.endpoints().map((endpoint) => [endpoint.url, endpoint.state])).toEqual([
        [closed, 'down'],
        [down.url, 'down'],
        [healthy.url, 'up'],
      ]);

      // After the cool-down each is probed; the one that answers again is preferred again.
      down.setKnobs({ unavailableRate: 0 });
      await sleep(COOLDOWN_MS + 100);
      const before = down.stats().requests.GetCheckpoint;
      expect(await readAll(source, 200n, 249n)).toEqual(reference.slice(100));
      expect(down.stats().requests.GetCheckpoint - before).toBeGreaterThan(40);
      expect(source.endpoints().map((endpoint) => [endpoint.url, endpoint.state])).toEqual([
        [closed, 'down'],
        [down.url, 'up'],
        [healthy.url, 'up'],
      ]);
    } finally {
      await down.close();
      await healthy.close();
    }
  });
});

describe('an endpoint refusing our credentials', () => {
  it('among several: is put aside and the calls go to the others; alone: fails the call at once, naming it redacted', { timeout: 60_000 }, async () => {
    const chain = createSimChain({ ...CHAIN, checkpoints: 400 });
    const refusing = await createSimnetServer({ chain, refuseCredentials: true });
    const healthy = await createSimnetServer({ chain });
    const expiredKey = `${refusing.url}/?apikey=EXPIRED`;
    try {
      const reference = await readAll(createSuiSource({ url: healthy.url, timeoutMs: 5_000 }), 100n, 199n);
      healthy.resetStats();
      const source = createSuiSource({ url: [expiredKey, healthy.url], timeoutMs: 5_000, cooldownMs: 60_000 });
      expect(await readAll(source, 100n, 199n)).toEqual(reference);
      // Three refusals put it aside; the calls in flight then (readAll keeps 4) were refused too.
      expect(refusing.stats().requests.GetCheckpoint).toBeGreaterThanOrEqual(3);
      expect(refusing.stats().requests.GetCheckpoint).toBeLessThanOrEqual(6);
      expect(refusing.stats().responses).toEqual({ UNAUTHENTICATED: refusing.stats().requests.GetCheckpoint });
      expect(healthy.stats().requests.GetCheckpoint).toBe(100);
      const [aside, used] = source.endpoints();
      expect([aside.url, aside.state, used.url, used.state]).toEqual([`${refusing.url}/…`, 'down', healthy.url, 'up']);
      // Which of the first calls was refused last depends on the order they were answered in.
      expect(aside.lastError).toMatch(/^getCheckpoint\(1\d\d\) at http:\/\/127\.0\.0\.1:\d+\/…: the endpoint refused our credentials \(UNAUTHENTICATED: simnet: invalid API key\); check the API key in its URL$/);
      const dex = chain.package('dex');
      expect((await source.resolvePackage(dex.originalId)).originalId).toBe(dex.originalId);

      refusing.resetStats();
      const alone = createSuiSource({ url: expiredKey, timeoutMs: 5_000, maxRetries: 6 });
      const started = performance.now();
      const error = await alone.getCheckpoint(10n).then(() => undefined, (caught: unknown) => caught);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(error).toBeInstanceOf(EndpointRefusedError);
      expect(error).toMatchObject({
        retryable: false,
        message: `getCheckpoint(10) at ${refusing.url}/…: the endpoint refused our credentials (UNAUTHENTICATED: simnet: invalid API key); check the API key in its URL`,
      });
      expect(refusing.stats().requests).toEqual({ GetCheckpoint: 1 });
    } finally {
      await refusing.close();
      await healthy.close();
    }
  });
});

describe('a budget shared through Redis', () => {
  it('two processes sharing R requests/s together stay under R', { timeout: 30_000 }, async () => {
    const RATE = 40;
    const SECONDS = 3;
    const chain = createSimChain({ ...CHAIN, checkpoints: 400 });
    const server = await createSimnetServer({ chain });
    const namespace = createTestRedisNamespace();
    const connections = [new Redis(TEST_REDIS_URL), new Redis(TEST_REDIS_URL)];
    try {
      // Each "process" has its own budget allowing the whole rate, and its own Redis connection.
      const sources = connections.map((redis) =>
        createSuiSource({
          url: server.url,
          timeoutMs: 5_000,
          budget: createRpcBudget({ requestsPerSecond: RATE, maxInFlight: 8, shared: createRedisRateLimiter(redis, `${namespace.prefix}:rpc:budget`) }),
        }),
      );
      const stop = new AbortController();
      const drive = async (source: SuiSource) => {
        try {
          for await (const _ of source.getCheckpoints(1n, 399n, { concurrency: 8, signal: stop.signal }));
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
      };
      const started = performance.now();
      const running = sources.map(drive);
      await sleep(SECONDS * 1_000);
      stop.abort(new Error('measured'));
      await Promise.all(running);
      const elapsed = (performance.now() - started) / 1_000;
      const total = server.stats().requests.GetCheckpoint;
      // The shared bucket's promise over the time the walks really ran: its rate plus one burst
      // (half a second of tokens), and two for the rounding of Redis' clock against ours.
      expect(total).toBeLessThanOrEqual(RATE * elapsed + RATE * DEFAULT_BURST_SECONDS + 2);
      expect(total).toBeGreaterThan(RATE * SECONDS * 0.85);
      for (const source of sources) expect(source.stats().calls).toBeGreaterThan(total * 0.25);
    } finally {
      for (const redis of connections) redis.disconnect();
      await namespace.cleanup();
      await server.close();
    }
  });

  it('replicas asking different rates (no rate stored, other environments) share the lowest rate asked lately', async () => {
    const namespace = createTestRedisNamespace();
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const key = `${namespace.prefix}:rpc:budget`;
      const fast = createRedisRateLimiter(redis, key);
      const slow = createRedisRateLimiter(redis, key);
      expect(await fast.take(1, 40, 20)).toEqual({ granted: 1, waitMs: 0, requestsPerSecond: 40 });
      // From the slow replica's first ask on, both draw at its rate, from a bucket of its burst.
      expect(await slow.take(1, 10, 5)).toEqual({ granted: 1, waitMs: 0, requestsPerSecond: 10 });
      const drained = await fast.take(20, 40, 20);
      expect(drained).toMatchObject({ requestsPerSecond: 10 });
      expect(drained.granted).toBeGreaterThanOrEqual(4);
      expect(drained.granted).toBeLessThanOrEqual(5);
      const empty = await fast.take(1, 40, 20);
      expect(empty).toMatchObject({ granted: 0, requestsPerSecond: 10 });
      // One token at 10/s, not at 40/s.
      expect(empty.waitMs).toBeGreaterThan(25);
      expect(empty.waitMs).toBeLessThanOrEqual(100);

      // Once the slow replica's ask has expired (it stopped, or idles), the fast one's rate applies again.
      const asked = await redis.hgetall(`${key}:rates`);
      const slowId = Object.keys(asked).find((id) => asked[id].startsWith('10 '))!;
      expect(Object.values(asked).map((value) => value.split(' ').slice(0, 2).join(' ')).sort()).toEqual(['10 5', '40 20']);
      await redis.hset(`${key}:rates`, slowId, '10 5 0');
      expect(await fast.take(1, 40, 20)).toMatchObject({ requestsPerSecond: 40 });
      expect(Object.keys(await redis.hgetall(`${key}:rates`))).toHaveLength(1);
    } finally {
      redis.disconnect();
      await namespace.cleanup();
    }
  });
});
