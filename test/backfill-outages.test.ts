import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../src/db/client.ts';
import { runMigrations } from '../src/db/migrate.ts';
import type { ObjectVersionRow } from '../src/sui/records.ts';
import { chunksOf, tiling, waitFor } from './helpers/backfill-checks.ts';
import type { TestDatabase } from './helpers/db.ts';
import { PROCESS_CASE_MS, REACH_MS, WALK_MS } from './helpers/load.ts';
import { spawnCli, spawnScript, waitForOutput, type Spawned } from './helpers/processes.ts';
import { canRunPostgresCluster, hasRedisServer, startPostgresCluster, startRedisServer, type PostgresCluster, type RedisServer } from './helpers/servers.ts';
import { sortRows, startStack, type Stack } from './helpers/stack.ts';

/**
 * Redis and Postgres restarting under running backfills. Each suite runs its own server on a free
 * port (the machine's shared ones serve other test files meanwhile and are never restarted).
 */

type Posted = { id: string; from: bigint; to: bigint };

async function post(stack: Stack, name: 'dex' | 'book' | 'nft', match: 'outer' | 'anywhere', toCheckpoint = 899): Promise<Posted & { enqueued: boolean }> {
  const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package(name).originalId, match, fromCheckpoint: 100, toCheckpoint });
  expect(response.status).toBe(202);
  return { id: response.body.id, from: BigInt(response.body.fromCheckpoint), to: BigInt(response.body.toCheckpoint), enqueued: response.body.enqueued };
}

/** Every posted backfill's rows exactly (the union of the truths), each walked without overlap. */
async function expectExact(stack: Stack, posted: [Posted, string, 'outer' | 'anywhere'][]) {
  const union = new Map<string, ObjectVersionRow>();
  for (const [request, name, match] of posted) {
    for (const row of stack.truth(stack.chain.package(name as 'dex').originalId, match, request.from, request.to)) union.set(`${row.objectId}:${row.version}`, row);
    const chunks = await chunksOf(stack.database, request.id);
    expect(tiling(chunks, request.from, request.to).ok).toBe(true);
  }
  const objects = await stack.objects();
  expect(objects).toEqual(sortRows([...union.values()]));
  const [{ rows }] = await stack.database.sql<{ rows: number }[]>`select sum(rows_inserted)::int as rows from package_backfill_chunks`;
  expect(rows).toBe(objects.length);
}

describe.skipIf(!hasRedisServer())(`Redis restarting during a backfill${hasRedisServer() ? '' : ' (skipped: redis-server is not installed)'}`, () => {
  let redis: RedisServer;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('the walk goes on, a request accepted meanwhile is enqueued when Redis is back, both finish exactly', async () => {
    stack.simnet.setKnobs({ latencyMs: 25 });
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 25 });
    let down = false;
    try {
      const running = await post(stack, 'dex', 'anywhere');
      await waitFor('two chunks', async () => (await chunksOf(stack.database, running.id)).length >= 2, REACH_MS);
      await redis.stop();
      down = true;
      const during = (await chunksOf(stack.database, running.id)).length;
      await waitFor('the walk to go on without Redis', async () => (await chunksOf(stack.database, running.id)).length > during + 2, REACH_MS);
      // Accepted and safe in Postgres; its job is written by the reconciler once Redis answers (a
      // short range: how it gets its job is the point).
      const accepted = await post(stack, 'book', 'outer', 299);
      expect(accepted.enqueued).toBe(false);
      await redis.start();
      down = false;
      stack.simnet.setKnobs({ latencyMs: 0 });
      // The API's own queue connection is back: a request posted now gets its job at once.
      const after = await post(stack, 'nft', 'outer', 299);
      expect(after.enqueued).toBe(true);

      await stack.waitForStatus(running.id, ['completed'], WALK_MS);
      const done = await stack.waitForStatus(accepted.id, ['completed'], WALK_MS);
      expect(done.attempts).toBe(1);
      expect((await stack.waitForStatus(after.id, ['completed'], WALK_MS)).attempts).toBe(1);
      await expectExact(stack, [
        [running, 'dex', 'anywhere'],
        [accepted, 'book', 'outer'],
        [after, 'nft', 'outer'],
      ]);
    } finally {
      if (down) await redis.start();
      await worker.close();
    }
  }, PROCESS_CASE_MS);

  it('a worker stopped while Redis is down exits 0 within its grace period and a margin; the request is walked on when Redis is back', async () => {
    await stack.clearBackfills();
    stack.simnet.setKnobs({ latencyMs: 25 });
    const grace = 1_000;
    const worker = spawnCli(['worker', '--no-migrate'], { ...stack.env, BACKFILL_CHUNK_SIZE: '25', WORKER_SHUTDOWN_GRACE_MS: String(grace), LOG_LEVEL: 'info' });
    let down = false;
    try {
      await waitForOutput(worker, 'backfill worker started', REACH_MS);
      const running = await post(stack, 'dex', 'anywhere');
      await waitFor('two chunks', async () => (await chunksOf(stack.database, running.id)).length >= 2, REACH_MS);
      await redis.stop();
      down = true;
      const stopping = Date.now();
      worker.kill('SIGTERM');
      const exit = await worker.exited;
      // BullMQ's own close would wait for Redis: the grace period, 3 s for BullMQ, and room for a loaded machine.
      expect({ code: exit.code, inBound: Date.now() - stopping < grace + 3_000 + 4_000 }).toEqual({ code: 0, inBound: true });
      expect(worker.output()).toContain('the BullMQ worker did not close (Redis unreachable?); disconnecting it');

      await redis.start();
      down = false;
      stack.simnet.setKnobs({ latencyMs: 0 });
      const successor = await stack.startWorker();
      try {
        await stack.waitForStatus(running.id, ['completed'], WALK_MS);
        await expectExact(stack, [[running, 'dex', 'anywhere']]);
      } finally {
        await successor.close();
      }
    } finally {
      if (down) await redis.start();
      worker.kill('SIGKILL');
    }
  }, PROCESS_CASE_MS);
});

const canRunPostgres = canRunPostgresCluster();
const postgresTitle = `Postgres restarting during a backfill${canRunPostgres ? '' : ' (skipped: no initdb/pg_ctl under /usr/lib/postgresql, or no postgres user to run them as)'}`;
describe.skipIf(!canRunPostgres)(postgresTitle, () => {
  let cluster: PostgresCluster;
  let stack: Stack;
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    const url = cluster.adminUrl.replace(/\/postgres$/, '/sui_backfill_outage');
    await runMigrations(url);
    const db = createDb(url, { max: 5, applicationName: 'sui-backfill test' });
    const database: TestDatabase = { ...db, url, name: 'sui_backfill_outage', drop: () => db.close() };
    stack = await startStack({ database });
  }, PROCESS_CASE_MS);
  afterAll(async () => {
    await stack?.close();
    await cluster?.destroy();
  });

  it('the worker process rides it out, the API answers 503 meanwhile, and the backfill finishes exactly', async () => {
    stack.simnet.setKnobs({ latencyMs: 25 });
    // A real worker process: it must survive the restart, not only its backfill.
    const worker = spawnCli(['worker', '--no-migrate'], { ...stack.env, BACKFILL_CHUNK_SIZE: '25', LOG_LEVEL: 'info' });
    try {
      await waitForOutput(worker, 'backfill worker started', REACH_MS);
      const request = await post(stack, 'dex', 'anywhere');
      await waitFor('two chunks', async () => (await chunksOf(stack.database, request.id)).length >= 2, REACH_MS);
      await cluster.stop();
      const unavailable = await stack.call('GET', `/v1/backfills/${request.id}`);
      expect(unavailable.status).toBe(503);
      expect(unavailable.body.error.code).toBe('postgres_unavailable');
      const refused = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('book').originalId });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.body).toEqual({ error: { code: 'postgres_unavailable', message: 'Postgres is not available; retry later' } });
      await sleep(1_500);
      await cluster.start();
      stack.simnet.setKnobs({ latencyMs: 0 });

      const done = await stack.waitForStatus(request.id, ['completed'], WALK_MS);
      expect(done.attempts).toBe(1);
      await expectExact(stack, [[request, 'dex', 'anywhere']]);
      expect(worker.output()).toContain('chunk commit failed with a transient Postgres error; retrying');
      const signalled = Date.now();
      worker.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(10_000);
    } finally {
      worker.kill('SIGKILL');
    }
  }, PROCESS_CASE_MS);

  it('an outage longer than a chunk commit retries for is ridden out by the chunk retries, walks on after a pause included', async () => {
    await stack.clearBackfills();
    // Slow enough that the walk is still under way when Postgres stops, on a loaded machine too.
    stack.simnet.setKnobs({ latencyMs: 100 });
    // A commit, and the read of what is left as each walk begins, gives up after well under a second.
    const commitRetry = { maxRetries: 2, baseMs: 100, maxMs: 200, attemptTimeoutMs: 2_000 };
    const worker = spawnScript(SHORT_RETRY_WORKER, [], {
      ...stack.env,
      BACKFILL_CHUNK_SIZE: '25',
      BACKFILL_CHUNK_RETRIES: '8',
      BACKFILL_CHUNK_RETRY_BASE_MS: '250',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      TEST_COMMIT_RETRY: JSON.stringify(commitRetry),
    });
    let down = false;
    try {
      await waitForOutput(worker, 'backfill worker started', REACH_MS);
      const request = await post(stack, 'book', 'anywhere');
      await waitFor('two chunks', async () => (await chunksOf(stack.database, request.id)).length >= 2, REACH_MS);
      await cluster.stop();
      down = true;
      // The walk ran out of a commit's retries, then, walking on, of its read of what is left, twice.
      await waitFor('walks on that could not read what is left', async () => retried(worker, 'ranges').length >= 2, REACH_MS);
      await cluster.start();
      down = false;
      stack.simnet.setKnobs({ latencyMs: 0 });

      const done = await stack.waitForStatus(request.id, ['completed', 'failed'], WALK_MS);
      expect([done.status, done.lastError, done.attempts]).toEqual(['completed', null, 1]);
      await expectExact(stack, [[request, 'book', 'anywhere']]);
      expect(retried(worker, 'commit').length).toBeGreaterThanOrEqual(1);
      expect(retried(worker, 'ranges')[0]).toMatchObject({ from: 100, to: 899, requestId: request.id });
    } finally {
      if (down) await cluster.start();
      worker.kill('SIGKILL');
    }
  }, PROCESS_CASE_MS);
});

const SHORT_RETRY_WORKER = path.resolve(import.meta.dirname, 'helpers/short-retry-worker.ts');
const RETRYING = 'chunk still failed after its retries; walking on from the watermark after a pause';

/** The worker's pauses to walk on after a step at `stage` failed, as it logged them. */
function retried(worker: Spawned, stage: string): Record<string, unknown>[] {
  return worker
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(RETRYING))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.stage === stage);
}
