import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { startWorker } from '../src/backfill/process.ts';
import { createDb } from '../src/db/client.ts';
import { hash, unit } from '../src/simnet/prng.ts';
import { chunksOf, isChain, tiling, transitionsOf, waitFor, walkers } from './helpers/backfill-checks.ts';
import { CASE_MS, PROCESS_CASE_MS, REACH_MS, WALK_MS } from './helpers/load.ts';
import { captureLogs } from './helpers/logs.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { startStack, type Stack } from './helpers/stack.ts';

/** Where the kills land: TEST_SEED replays a run, else a new one is drawn (every seed must pass); printed either way. */
const SEED = process.env.TEST_SEED === undefined ? randomInt(1_000_000) : Number(process.env.TEST_SEED);

let stack: Stack;
let processes: Spawned[] = [];
beforeAll(async () => {
  stack = await startStack({ chain: { checkpoints: 1_500 } });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(async () => {
  stack.simnet.setKnobs({ latencyMs: 0 });
  await stack.clearBackfills();
  // A job an earlier test left delayed (a redelivered copy outliving its walk) would come due in
  // this one: harmless, except behind a table the test holds locked, where it takes a worker's slot.
  await stack.queue.queue.obliterate({ force: true });
});
afterEach(async () => {
  for (const spawned of processes) {
    spawned.child.kill('SIGCONT');
    spawned.kill('SIGKILL');
  }
  await Promise.all(processes.map((spawned) => spawned.exited));
  processes = [];
});

function spawnWorker(env: Record<string, string>): Spawned {
  const spawned = spawnCli(['worker', '--no-migrate'], { ...stack.env, WORKER_CONCURRENCY: '1', LOG_LEVEL: 'info', ...env });
  processes.push(spawned);
  return spawned;
}

const pidOf = (workerId: string) => Number(workerId.split(':').at(-2));

async function holder(requestId: string): Promise<{ workerId: string | null; status: string; heartbeatAt: Date | null }> {
  const [row] = await stack.database.sql<{ worker_id: string | null; status: string; heartbeat_ms: number | null }[]>`
    select worker_id, status, (extract(epoch from heartbeat_at) * 1000)::float8 as heartbeat_ms from package_backfill_requests where id = ${requestId}`;
  return { workerId: row.worker_id, status: row.status, heartbeatAt: row.heartbeat_ms === null ? null : new Date(row.heartbeat_ms) };
}

/** A backfill of the package's whole history, or of a range where the test needs fewer checkpoints. */
async function post(name: 'dex' | 'book', match: 'outer' | 'anywhere', range: { fromCheckpoint?: number; toCheckpoint?: number } = {}) {
  const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package(name).originalId, match, ...range });
  expect(response.status).toBe(202);
  return { id: response.body.id as string, from: BigInt(response.body.fromCheckpoint), to: BigInt(response.body.toCheckpoint) };
}

/** Samples the watermark until stopped: it must never move back. */
function sampleWatermark(requestId: string) {
  const samples: bigint[] = [];
  let running = true;
  const sample = async () => {
    const [row] = await stack.database.sql<{ hi: string }[]>`select checkpoint_hi_inclusive as hi from package_backfill_watermarks where request_id = ${requestId}`;
    if (row) samples.push(BigInt(row.hi));
  };
  const done = (async () => {
    while (running) {
      await sample();
      await sleep(20);
    }
    // The loop may have slept through the last commit; the final value is read after it.
    await sample();
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('crashes while backfills run', () => {
  it(`kill -9 of the walking worker mid-chunk, three times, with two replicas: exact rows, nothing walked twice (TEST_SEED=${SEED})`, async () => {
    console.log(`kill -9 test: the kills land at points drawn from seed ${SEED}; replay with TEST_SEED=${SEED}`);
    const STALE = 1_500;
    const env = { BACKFILL_CHUNK_SIZE: '25', STALE_AFTER_MS: String(STALE), HEARTBEAT_INTERVAL_MS: '250', RECONCILE_INTERVAL_MS: '500' };
    stack.simnet.setKnobs({ latencyMs: 25 });
    const live = new Map<number, Spawned>();
    for (const spawned of [spawnWorker(env), spawnWorker(env)]) live.set(spawned.child.pid!, spawned);
    await Promise.all([...live.values()].map((spawned) => waitForOutput(spawned, 'backfill worker started', REACH_MS)));

    const request = await post('dex', 'anywhere');
    const watermark = sampleWatermark(request.id);
    const killed: string[] = [];
    let done;
    try {
      for (let kill = 0; kill < 3; kill++) {
        // The current holder has committed a chunk of its own; kill it at a seeded point of the next one.
        const walker = await waitFor('a live holder with a committed chunk', async () => {
          const { workerId, status } = await holder(request.id);
          expect(status).not.toBe('completed');
          if (!workerId || status !== 'running' || !live.has(pidOf(workerId))) return undefined;
          const own = (await chunksOf(stack.database, request.id)).filter((chunk) => chunk.workerId === workerId);
          return own.length > 0 ? { workerId, lastChunk: own[own.length - 1] } : undefined;
        }, REACH_MS);
        const [{ ms }] = await stack.database.sql<{ ms: number }[]>`select avg(duration_ms)::int as ms from package_backfill_chunks where request_id = ${request.id}`;
        await sleep(unit(hash(SEED, kill)) * ms);
        const victim = live.get(pidOf(walker.workerId))!;
        victim.kill('SIGKILL');
        await victim.exited;
        live.delete(victim.child.pid!);
        killed.push(walker.workerId);
        const replacement = spawnWorker(env);
        live.set(replacement.child.pid!, replacement);
      }
      // No kill lands in the last walk: it may as well run at full speed.
      stack.simnet.setKnobs({ latencyMs: 0 });
      done = await stack.waitForStatus(request.id, ['completed'], WALK_MS);
    } finally {
      await watermark.stop();
    }

    const expected = stack.truth(stack.chain.package('dex').originalId, 'anywhere', request.from, request.to);
    const objects = await stack.objects();
    expect(objects).toEqual(expected);
    const chunks = await chunksOf(stack.database, request.id);
    expect(chunks.reduce((sum, chunk) => sum + chunk.rowsInserted, 0)).toBe(objects.length);
    expect(done.rowsInserted).toBe(objects.length);
    // A killed chunk never committed, so the committed ones tile the range exactly.
    expect(tiling(chunks, request.from, request.to)).toEqual({ ok: true, ranges: expect.any(Array) });
    expect(watermark.samples.length).toBeGreaterThan(10);
    expect(watermark.samples).toEqual([...watermark.samples].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(watermark.samples.at(-1)).toBe(request.to);

    // Each killed worker walked one stretch; each takeover came after its heartbeat went stale.
    const sequence = walkers(chunks);
    expect(sequence.slice(0, 3)).toEqual(killed);
    expect(sequence).toHaveLength(4);
    expect(new Set(sequence).size).toBe(4);
    expect(done.attempts).toBe(4);
    const transitions = await transitionsOf(stack.database, request.id);
    expect(isChain(transitions)).toBe(true);
    expect(transitions.map((t) => [t.from, t.to, t.actor])).toEqual([
      [null, 'queued', 'api'],
      ['queued', 'running', `worker:${killed[0]}`],
      ['running', 'running', `worker:${killed[1]}`],
      ['running', 'running', `worker:${killed[2]}`],
      ['running', 'running', `worker:${sequence[3]}`],
      ['running', 'completed', `worker:${sequence[3]}`],
    ]);
    for (let i = 0; i < 3; i++) {
      const takeover = transitions[2 + i];
      expect(takeover.reason).toMatch(new RegExp(`^took over from ${killed[i]}, silent since `));
      const lastOfVictim = chunks.filter((chunk) => chunk.workerId === killed[i]).at(-1)!;
      expect(takeover.at.getTime() - lastOfVictim.finishedAt.getTime()).toBeGreaterThanOrEqual(STALE);
    }
  }, PROCESS_CASE_MS);

  it('a frozen (SIGSTOP) worker is taken over only once its heartbeat is stale, and after SIGCONT writes nothing', async () => {
    // BullMQ redelivers the job after the lock (half of this) expires, checked every quarter: at the
    // latest 3/4 of the way, leaving 1.5 s before staleness, so the redelivery is always seen waiting.
    const STALE = 6_000;
    const env = { BACKFILL_CHUNK_SIZE: '25', STALE_AFTER_MS: String(STALE), HEARTBEAT_INTERVAL_MS: '250', RECONCILE_INTERVAL_MS: '500' };
    stack.simnet.setKnobs({ latencyMs: 25 });
    const replicas = [spawnWorker(env), spawnWorker(env)];
    await Promise.all(replicas.map((spawned) => waitForOutput(spawned, 'backfill worker started', REACH_MS)));
    const request = await post('book', 'anywhere', { fromCheckpoint: 100, toCheckpoint: 899 });

    const frozenId = await waitFor('a holder with two chunks', async () => {
      const { workerId } = await holder(request.id);
      if (!workerId) return undefined;
      return (await chunksOf(stack.database, request.id)).length >= 2 ? workerId : undefined;
    }, REACH_MS);
    const frozen = replicas.find((spawned) => spawned.child.pid === pidOf(frozenId))!;
    const other = replicas.find((spawned) => spawned !== frozen)!;
    frozen.kill('SIGSTOP');
    // A heartbeat the frozen worker sent just before lands meanwhile, however slow Postgres is.
    await sleep(1_000);
    const { heartbeatAt: lastBeat } = await holder(request.id);

    const takenOverBy = await waitFor('the takeover', async () => {
      const { workerId } = await holder(request.id);
      return workerId && workerId !== frozenId ? workerId : undefined;
    }, REACH_MS);
    // BullMQ redelivered the job when the frozen worker's lock expired, before the heartbeat went
    // stale: the other replica waited instead of walking.
    expect(other.output()).toContain('request is held by a worker whose heartbeat is fresh; job delayed until it would be stale');
    const transitions = await transitionsOf(stack.database, request.id);
    const takeover = transitions.find((t) => t.from === 'running' && t.to === 'running')!;
    expect(takeover.actor).toBe(`worker:${takenOverBy}`);
    expect(takeover.at.getTime() - lastBeat!.getTime()).toBeGreaterThanOrEqual(STALE);

    frozen.kill('SIGCONT');
    await waitForOutput(frozen, 'no longer held by this walk', REACH_MS);
    stack.simnet.setKnobs({ latencyMs: 0 });
    await stack.waitForStatus(request.id, ['completed'], WALK_MS);

    const chunks = await chunksOf(stack.database, request.id);
    expect(walkers(chunks)).toEqual([frozenId, takenOverBy]);
    expect(chunks.filter((chunk) => chunk.workerId === frozenId).every((chunk) => chunk.finishedAt.getTime() <= lastBeat!.getTime())).toBe(true);
    expect(chunks.filter((chunk) => chunk.workerId === takenOverBy).every((chunk) => chunk.finishedAt.getTime() >= takeover.at.getTime())).toBe(true);
    expect(tiling(chunks, request.from, request.to).ok).toBe(true);
    const objects = await stack.objects();
    expect(objects).toEqual(stack.truth(stack.chain.package('book').originalId, 'anywhere', request.from, request.to));
    expect(chunks.reduce((sum, chunk) => sum + chunk.rowsInserted, 0)).toBe(objects.length);

    for (const spawned of replicas) spawned.kill('SIGTERM');
    expect((await Promise.all(replicas.map((spawned) => spawned.exited))).map((exit) => exit.code)).toEqual([0, 0]);
  }, PROCESS_CASE_MS);

  it('SIGTERM finishes the chunk in flight, or abandons it after the grace period, hands the request back and exits 0 in bounded time', async () => {
    const env = { BACKFILL_CHUNK_SIZE: '40', HEARTBEAT_INTERVAL_MS: '250' };
    stack.simnet.setKnobs({ latencyMs: 150 });
    const request = await post('dex', 'outer', { fromCheckpoint: 100, toCheckpoint: 899 });

    // Generous grace: the chunk in flight commits, then the request goes back to the queue.
    const patient = spawnWorker({ ...env, WORKER_SHUTDOWN_GRACE_MS: '10000' });
    await waitFor('a first chunk', async () => (await chunksOf(stack.database, request.id)).length >= 1, REACH_MS);
    await sleep(100);
    patient.kill('SIGTERM');
    expect((await patient.exited).code).toBe(0);
    const afterPatient = await chunksOf(stack.database, request.id);
    let transitions = await transitionsOf(stack.database, request.id);
    expect(transitions.at(-1)).toMatchObject({ from: 'running', to: 'queued', reason: 'worker shutting down' });
    expect(transitions.at(-1)!.at.getTime()).toBeGreaterThanOrEqual(afterPatient.at(-1)!.finishedAt.getTime());
    expect((await holder(request.id)).status).toBe('queued');

    // Short grace and chunks far slower than it: the chunk in flight is abandoned, never committed.
    stack.simnet.setKnobs({ latencyMs: 1_500 });
    const hasty = spawnWorker({ ...env, WORKER_SHUTDOWN_GRACE_MS: '200' });
    await waitFor('the hasty worker to hold the request', async () => {
      const { workerId } = await holder(request.id);
      return workerId !== null && pidOf(workerId) === hasty.child.pid;
    }, REACH_MS);
    await sleep(300);
    const signalled = Date.now();
    hasty.kill('SIGTERM');
    expect((await hasty.exited).code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(2_500);
    expect(await chunksOf(stack.database, request.id)).toEqual(afterPatient);
    transitions = await transitionsOf(stack.database, request.id);
    expect(transitions.at(-1)).toMatchObject({
      from: 'running',
      to: 'queued',
      reason: 'worker shutting down: the chunk in flight did not finish within 200 ms and is abandoned',
    });
    expect(hasty.output()).toContain('walk handed back to the queue for shutdown');

    // Any replica continues from the watermark.
    stack.simnet.setKnobs({ latencyMs: 0 });
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 40 });
    try {
      await stack.waitForStatus(request.id, ['completed'], WALK_MS);
    } finally {
      await worker.close();
    }
    const chunks = await chunksOf(stack.database, request.id);
    expect(tiling(chunks, request.from, request.to).ok).toBe(true);
    expect(await stack.objects()).toEqual(stack.truth(stack.chain.package('dex').originalId, 'outer', request.from, request.to));
  }, PROCESS_CASE_MS);
  it('SIGTERM while a chunk commit waits inside its transaction: the commit is abandoned within the grace period, never committed', async () => {
    stack.simnet.setKnobs({ latencyMs: 10 });
    const request = await post('dex', 'outer', { fromCheckpoint: 100, toCheckpoint: 899 });
    const worker = spawnWorker({ BACKFILL_CHUNK_SIZE: '20', HEARTBEAT_INTERVAL_MS: '250', WORKER_SHUTDOWN_GRACE_MS: '300' });
    await waitFor('a first chunk', async () => (await chunksOf(stack.database, request.id)).length >= 1, REACH_MS);

    // Holding the watermark row, the test makes the next chunk commit wait inside its transaction.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = stack.database.sql.begin(async (tx) => {
      await tx`select 1 from package_backfill_watermarks where request_id = ${request.id} for update`;
      locked();
      await released;
    });
    try {
      await isLocked;
      await waitFor('the commit to wait for the lock', async () => {
        const waiting = await stack.database.sql`
          select 1 from pg_stat_activity where datname = current_database() and application_name = 'sui-backfill worker' and wait_event_type = 'Lock'`;
        return waiting.length > 0;
      }, REACH_MS);
      const before = await chunksOf(stack.database, request.id);
      const signalled = Date.now();
      worker.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(3_000);
      // Handed back while the test still holds its lock: the commit's transaction was ended, its lock on the request released.
      expect((await transitionsOf(stack.database, request.id)).at(-1)).toMatchObject({
        from: 'running',
        to: 'queued',
        reason: 'worker shutting down: the chunk in flight did not finish within 300 ms and is abandoned',
      });
      release();
      await holding;
      await sleep(300);
      expect(await chunksOf(stack.database, request.id)).toEqual(before);
    } finally {
      release();
      await holding;
    }

    stack.simnet.setKnobs({ latencyMs: 0 });
    const next = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 40 });
    try {
      await stack.waitForStatus(request.id, ['completed'], WALK_MS);
    } finally {
      await next.close();
    }
    expect(tiling(await chunksOf(stack.database, request.id), request.from, request.to).ok).toBe(true);
    expect(await stack.objects()).toEqual(stack.truth(stack.chain.package('dex').originalId, 'outer', request.from, request.to));
  }, PROCESS_CASE_MS);
});

describe('a job redelivered to the process that walks it', () => {
  it('its BullMQ lock lost and its heartbeat stale while its walk goes on: the redelivery waits, the request is walked once', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 10, WORKER_CONCURRENCY: 2, HEARTBEAT_INTERVAL_MS: 600, STALE_AFTER_MS: 2_000 });
    try {
      stack.simnet.setKnobs({ latencyMs: 30 });
      const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId, fromCheckpoint: 100, toCheckpoint: 699 });
      const id = response.body.id as string;
      await waitFor('two chunks', async () => (await chunksOf(stack.database, id)).length >= 2, REACH_MS);
      // A process that stalled: its heartbeats stop landing (its walk's commits go on), its job's lock is gone.
      await stack.database.sql.unsafe(`
        create function test_frozen() returns trigger language plpgsql as $$
        begin
          if new.status = 'running' and old.status = 'running' and new.attempts = old.attempts then new.heartbeat_at := old.heartbeat_at; end if;
          return new;
        end $$;
        create trigger test_frozen before update on package_backfill_requests for each row execute function test_frozen();`);
      try {
        await stack.database.sql`update package_backfill_requests set heartbeat_at = now() - interval '1 hour' where id = ${id}`;
        const redis = new Redis(stack.env.REDIS_URL);
        try {
          expect(await redis.del(`${stack.env.REDIS_PREFIX}:package-backfills:${id}:lock`)).toBe(1);
        } finally {
          redis.disconnect();
        }
        // BullMQ redelivers the job (to this process, the only one, with a free slot), which delays it.
        await waitFor('the redelivered job delayed', async () => (await stack.queue.queue.getJobState(id)) === 'delayed', REACH_MS);
        await sleep(2_500);
      } finally {
        await stack.database.sql.unsafe(`drop trigger if exists test_frozen on package_backfill_requests; drop function if exists test_frozen();`);
      }
      stack.simnet.setKnobs({ latencyMs: 0 });
      const done = await stack.waitForStatus(id, ['completed', 'failed'], WALK_MS);
      expect(done.status).toBe('completed');

      const transitions = await transitionsOf(stack.database, id);
      expect(transitions.map((t) => [t.from, t.to, t.actor])).toEqual([
        [null, 'queued', 'api'],
        ['queued', 'running', `worker:${worker.workerId}`],
        ['running', 'completed', `worker:${worker.workerId}`],
      ]);
      const chunks = await chunksOf(stack.database, id);
      expect(tiling(chunks, 100n, 699n).ok).toBe(true);
      const [watermark] = await stack.database.sql`select checkpoints_done::int as done from package_backfill_watermarks where request_id = ${id}`;
      expect(watermark.done).toBe(600);
      const expected = stack.truth(stack.chain.package('dex').originalId, 'outer', 100n, 699n);
      expect(await stack.objects()).toEqual(expected);
      expect(chunks.reduce((sum, chunk) => sum + chunk.rowsInserted, 0)).toBe(expected.length);
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('a stop message that arrives while the redelivered copy is being handled still stops the walk at once', async () => {
    // The worker's own pool: the test holds the requests table locked, and the API's pool would run
    // dry. Each heartbeat meanwhile waits for the lock on a connection of its own; beats 2 s apart
    // take the pool's spare connections in about 50 s, so however slow the redelivery (waited for
    // 45 s at most), it finds a connection to wait on.
    const db = createDb(stack.database.url, { max: 30, applicationName: 'sui-backfill test worker' });
    const control = postgres(stack.database.url, { max: 2, onnotice: () => {} });
    const { logger, lines } = captureLogs();
    const worker = await startWorker(
      {
        ...stack.common,
        logger,
        config: { ...stack.common.config, BACKFILL_CHUNK_SIZE: 10, WORKER_CONCURRENCY: 2, HEARTBEAT_INTERVAL_MS: 2_000, STALE_AFTER_MS: 6_000, RECONCILE_INTERVAL_MS: 600_000 },
      },
      { db, source: stack.source },
    );
    let release = () => {};
    try {
      stack.simnet.setKnobs({ latencyMs: 30 });
      const posted = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId, fromCheckpoint: 100, toCheckpoint: 699 });
      const id = posted.body.id as string;
      await waitFor('two chunks', async () => (await chunksOf(stack.database, id)).length >= 2, REACH_MS);
      // Everything that reads or writes the request waits now: the walk's next commit, and the redelivered copy as it looks for the holder.
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked = () => {};
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holding = control.begin(async (tx) => {
        await tx`lock table package_backfill_requests in access exclusive mode`;
        locked();
        await released;
      });
      await isLocked;
      const redis = new Redis(stack.env.REDIS_URL);
      try {
        expect(await redis.del(`${stack.env.REDIS_PREFIX}:package-backfills:${id}:lock`)).toBe(1);
      } finally {
        redis.disconnect();
      }
      await waitFor(
        'the redelivered copy waiting to read who holds the request',
        async () => (await control`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%greatest(0, ceil(%'`).length > 0,
        45_000,
      );
      const before = (await chunksOf(stack.database, id)).length;
      expect(await stack.queue.publishStop({ requestId: id, status: 'paused', attempts: 1 })).toBe(true);
      await waitFor('the stop message to reach the walk', async () => lines.some((line) => line.msg === 'stop message: aborting the walk'), REACH_MS);
      release();
      await holding;
      // The walk was aborted by the message: its commit waiting for the lock was cancelled, none follows.
      await sleep(1_000);
      expect((await chunksOf(stack.database, id)).length).toBe(before);

      stack.simnet.setKnobs({ latencyMs: 0 });
      expect((await stack.call('POST', `/v1/backfills/${id}/pause`)).status).toBe(200);
      expect((await stack.call('POST', `/v1/backfills/${id}/resume`)).status).toBe(200);
      const done = await stack.waitForStatus(id, ['completed', 'failed'], WALK_MS);
      expect(done.status).toBe('completed');
      const chunks = await chunksOf(stack.database, id);
      expect(tiling(chunks, 100n, 699n).ok).toBe(true);
      expect(await stack.objects()).toEqual(stack.truth(stack.chain.package('dex').originalId, 'outer', 100n, 699n));
    } finally {
      release();
      await worker.close();
      await control.end();
      await db.close();
    }
  }, CASE_MS);
});
