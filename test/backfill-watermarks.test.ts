import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LostOwnershipError, WalkStepFailedError } from '../src/backfill/errors.ts';
import { beatHeartbeat, claimBlocker, claimRequest, createOrFindActiveRequest, finishHeldRequest, holdsRequest } from '../src/backfill/requests.ts';
import { walkRequest, type CheckpointSource } from '../src/backfill/walker.ts';
import { commitChunk, commitChunkWithRetry, ensureWatermark, pendingRanges } from '../src/backfill/watermarks.ts';
import { createLogger, type Logger } from '../src/common/logger.ts';
import { createMetrics } from '../src/common/metrics.ts';
import { createDb, isPostgresTransient, isPostgresUnavailable, withPostgresRetry } from '../src/db/client.ts';
import type { CheckpointRecord, ObjectVersionRow } from '../src/sui/records.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.sql`truncate package_backfill_requests, sui_objects cascade`;
});

const PACKAGE = `0x${'ab'.repeat(32)}`;
/** The walk of worker w1 that made the request's first claim. */
const W1 = { workerId: 'w1', attempts: 1 };

function row(objectByte: number, version: bigint, checkpoint: bigint): ObjectVersionRow {
  return {
    objectId: `0x${objectByte.toString(16).padStart(2, '0').repeat(32)}`,
    version,
    objectType: `${PACKAGE}::m::S`,
    typePackage: PACKAGE,
    typeModule: 'm',
    typeName: 'S',
    ownerKind: 'address',
    ownerAddress: `0x${'01'.repeat(32)}`,
    checkpoint,
    txDigest: 'tx',
    objectDigest: 'digest',
    change: 'mutated',
  };
}

/** A request of PACKAGE over 0..10 with its range defaulted. */
const NEW_REQUEST = {
  packageId: PACKAGE,
  requestedPackageId: PACKAGE,
  familyIds: [PACKAGE],
  match: 'outer' as const,
  explicitFrom: undefined,
  explicitTo: undefined,
  fromCheckpoint: 0n,
  toCheckpoint: 10n,
};

async function queuedRequest(from: bigint, to: bigint) {
  const { request } = await createOrFindActiveRequest(database.db, { ...NEW_REQUEST, fromCheckpoint: from, toCheckpoint: to });
  return request;
}

async function runningRequest(from: bigint, to: bigint, workerId = 'w1') {
  const request = await queuedRequest(from, to);
  await claimRequest(database.db, request.id, workerId, 30_000);
  await ensureWatermark(database.sql, request.id, from);
  return request;
}

describe('chunk commits', () => {
  it('keeps the watermark at the end of the first contiguous done range, never moving it back', async () => {
    const request = await runningRequest(100n, 159n);
    const commit = (from: bigint, to: bigint) =>
      commitChunk(database.sql, { requestId: request.id, requestFrom: 100n, holder: W1, from, to, rows: [], rpcCalls: 0, elapsedMs: () => 1 });

    const seen: [string, bigint, string][] = [];
    for (const [from, to] of [
      [120n, 129n],
      [140n, 149n],
      [100n, 109n],
      [110n, 119n],
      [150n, 159n],
      [130n, 139n],
    ] as const) {
      const { watermark } = await commit(from, to);
      seen.push([`${from}-${to}`, watermark.checkpointHiInclusive, watermark.doneRanges]);
    }
    expect(seen).toEqual([
      ['120-129', 99n, '{[120,130)}'],
      ['140-149', 99n, '{[120,130),[140,150)}'],
      ['100-109', 109n, '{[100,110),[120,130),[140,150)}'],
      ['110-119', 129n, '{[100,130),[140,150)}'],
      ['150-159', 129n, '{[100,130),[140,160)}'],
      ['130-139', 159n, '{[100,160)}'],
    ]);
    const his = seen.map(([, hi]) => hi);
    expect(his).toEqual([...his].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(await pendingRanges(database.sql, request.id, 100n, 159n)).toEqual([]);
  });

  it('lists only what is not done yet as pending', async () => {
    const request = await runningRequest(0n, 99n);
    await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: W1, from: 20n, to: 29n, rows: [], rpcCalls: 1, elapsedMs: () => 1 });
    await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: W1, from: 50n, to: 99n, rows: [], rpcCalls: 1, elapsedMs: () => 1 });
    expect(await pendingRanges(database.sql, request.id, 0n, 99n)).toEqual([
      [0n, 19n],
      [30n, 49n],
    ]);
  });

  it('counts as inserted only the rows not written before', async () => {
    const request = await runningRequest(0n, 9n);
    const first = await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows: [row(1, 5n, 3n), row(2, 6n, 3n)], rpcCalls: 5, elapsedMs: () => 1 });
    expect(first.rowsInserted).toBe(2);
    // Another backfill (the other match mode) finds one of its rows written already.
    const { request: other } = await createOrFindActiveRequest(database.db, { ...NEW_REQUEST, match: 'anywhere', fromCheckpoint: 0n, toCheckpoint: 9n });
    await claimRequest(database.db, other.id, 'w1', 30_000);
    await ensureWatermark(database.sql, other.id, 0n);
    const overlapping = await commitChunk(database.sql, { requestId: other.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows: [row(2, 6n, 3n), row(1, 7n, 4n)], rpcCalls: 5, elapsedMs: () => 1 });
    expect(overlapping.rowsInserted).toBe(1);
    expect(overlapping.watermark).toMatchObject({ rowsInserted: 1n, objectsMatched: 2n });
    const [{ count }] = await database.sql<{ count: string }[]>`select count(*) from sui_objects`;
    expect(count).toBe('3');
  });

  it('does not count or log a second time a range it finds done', async () => {
    const request = await runningRequest(0n, 9n);
    const rows = [row(1, 5n, 3n), row(2, 6n, 3n)];
    const chunk = { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows, rpcCalls: 5, elapsedMs: () => 1 };
    const first = await commitChunk(database.sql, chunk);
    const again = await commitChunk(database.sql, chunk);
    expect(again).toEqual({ rowsInserted: 0, watermark: first.watermark, durationMs: 1 });
    expect(again.watermark).toMatchObject({ checkpointHiInclusive: 4n, rowsInserted: 2n, objectsMatched: 2n, checkpointsDone: 5n });
    const chunks = await database.sql`select from_checkpoint from package_backfill_chunks where request_id = ${request.id}`;
    expect(chunks).toHaveLength(1);
    // A range not done yet is committed as usual.
    const next = await commitChunk(database.sql, { ...chunk, from: 5n, to: 9n, rows: [] });
    expect(next.watermark.checkpointHiInclusive).toBe(9n);
  });

  it('refuses to commit for a worker that no longer holds the request, writing nothing', async () => {
    const request = await runningRequest(0n, 9n, 'w1');
    await expect(
      commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: { workerId: 'w2', attempts: 1 }, from: 0n, to: 4n, rows: [row(1, 1n, 1n)], rpcCalls: 1, elapsedMs: () => 1 }),
    ).rejects.toBeInstanceOf(LostOwnershipError);
    const [{ count }] = await database.sql<{ count: string }[]>`select count(*) from sui_objects`;
    expect(count).toBe('0');
    const [watermark] = await database.sql`select checkpoint_hi_inclusive, done_ranges::text as ranges from package_backfill_watermarks where request_id = ${request.id}`;
    expect(watermark).toEqual({ checkpoint_hi_inclusive: '-1', ranges: '{}' });
  });
});

describe('a walk owning its request', () => {
  it('is one claim: an earlier walk of the same worker can neither commit, beat, check nor finish it', async () => {
    const request = await runningRequest(0n, 9n, 'w1');
    // The same worker claims it again (its first walk looked dead): the second walk holds it.
    await database.sql`update package_backfill_requests set heartbeat_at = now() - interval '1 hour' where id = ${request.id}`;
    expect((await claimRequest(database.db, request.id, 'w1', 30_000))?.attempts).toBe(2);
    const second = { workerId: 'w1', attempts: 2 };
    await expect(
      commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows: [row(1, 1n, 1n)], rpcCalls: 1, elapsedMs: () => 1 }),
    ).rejects.toBeInstanceOf(LostOwnershipError);
    expect([await beatHeartbeat(database.db, request.id, W1), await holdsRequest(database.db, request.id, W1)]).toEqual([false, false]);
    expect(await finishHeldRequest(database.db, request.id, W1, 'failed', { error: 'stale walk' })).toBe(false);
    expect([await beatHeartbeat(database.db, request.id, second), await holdsRequest(database.db, request.id, second)]).toEqual([true, true]);
    const [{ count }] = await database.sql<{ count: string }[]>`select count(*) from sui_objects`;
    expect(count).toBe('0');
    const committed = await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: second, from: 0n, to: 9n, rows: [], rpcCalls: 1, elapsedMs: () => 1 });
    expect(committed.watermark.checkpointHiInclusive).toBe(9n);
    expect(await finishHeldRequest(database.db, request.id, second, 'completed')).toBe(true);
  });
});

/** Holds the request's watermark row locked from another session until `release` is called: a chunk commit then waits inside its transaction. */
async function lockWatermark(requestId: string): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const transaction = database.sql.begin(async (tx) => {
    await tx`select 1 from package_backfill_watermarks where request_id = ${requestId} for update`;
    locked();
    await released;
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await transaction;
    },
  };
}

/** Whether a session waits for a lock now (the chunk commit, blocked by lockWatermark). */
const commitWaiting = async () =>
  (await database.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`).length > 0;

describe('the chunk log', () => {
  it('times a chunk up to its commit, and stamps it when it ends rather than when its transaction began', async () => {
    const request = await runningRequest(0n, 9n);
    const lock = await lockWatermark(request.id);
    const started = performance.now();
    const commit = commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 9n, rows: [], rpcCalls: 1, elapsedMs: () => performance.now() - started });
    while (!(await commitWaiting())) await sleep(10);
    await sleep(400);
    await lock.release();
    const { durationMs } = await commit;
    expect(durationMs).toBeGreaterThanOrEqual(400);
    const [chunk] = await database.sql<{ duration_ms: number; after_start_ms: number }[]>`
      select c.duration_ms, (extract(epoch from c.finished_at - w.updated_at) * 1000)::float8 as after_start_ms
      from package_backfill_chunks c join package_backfill_watermarks w using (request_id) where c.request_id = ${request.id}`;
    expect(chunk.duration_ms).toBe(durationMs);
    // The watermark's updated_at is now(), the start of the transaction that waited for the lock.
    expect(chunk.after_start_ms).toBeGreaterThanOrEqual(380);
  });
});

describe('a chunk commit aborted', () => {
  it('ends at once while its transaction waits for a lock, releases the request, and never commits', async () => {
    const request = await runningRequest(0n, 9n);
    const lock = await lockWatermark(request.id);
    const controller = new AbortController();
    const commit = commitChunk(
      database.sql,
      { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows: [row(1, 1n, 1n)], rpcCalls: 1, elapsedMs: () => 1 },
      controller.signal,
    );
    while (!(await commitWaiting())) await sleep(10);
    const abortedAt = performance.now();
    controller.abort(new Error('shutting down'));
    await expect(commit).rejects.toThrow('shutting down');
    expect(performance.now() - abortedAt).toBeLessThan(500);
    // The request row the commit had locked is free again while the watermark is still held.
    expect(await finishHeldRequest(database.db, request.id, W1, 'queued', { reason: 'handed back' })).toBe(true);
    await lock.release();
    await sleep(200);
    const [written] = await database.sql`
      select (select count(*)::int from sui_objects) as objects, (select count(*)::int from package_backfill_chunks) as chunks,
             (select done_ranges::text from package_backfill_watermarks where request_id = ${request.id}) as ranges`;
    expect(written).toEqual({ objects: 0, chunks: 0, ranges: '{}' });
  });
});

describe('a chunk commit retried', () => {
  const logger = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' });

  it('cancels an attempt it gives up on, so that it never commits after the attempts that follow', async () => {
    const request = await runningRequest(0n, 9n);
    const chunk = { requestId: request.id, requestFrom: 0n, holder: W1, from: 0n, to: 4n, rows: [row(1, 1n, 1n)], rpcCalls: 1, elapsedMs: () => 1 };
    const lock = await lockWatermark(request.id);
    const retry = { maxRetries: 1, baseMs: 1, maxMs: 1, attemptTimeoutMs: 300 };
    const failed = await commitChunkWithRetry(logger, database.sql, chunk, { retry }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(WalkStepFailedError);
    expect((failed as WalkStepFailedError).detail()).toEqual({ stage: 'commit', chunk: { fromCheckpoint: '0', toCheckpoint: '4' }, attempts: 2, code: 'postgres_unavailable' });
    // Both attempts rolled back: nothing waits for the lock, and nothing lands once it is free.
    const deadline = Date.now() + 2_000;
    while ((await commitWaiting()) && Date.now() < deadline) await sleep(20);
    expect(await commitWaiting()).toBe(false);
    await lock.release();
    await sleep(200);
    const written = async () =>
      (await database.sql`
        select (select count(*)::int from sui_objects) as objects, (select count(*)::int from package_backfill_chunks) as chunks,
               (select objects_matched::int from package_backfill_watermarks where request_id = ${request.id}) as matched,
               (select checkpoints_done::int from package_backfill_watermarks where request_id = ${request.id}) as done`)[0];
    expect(await written()).toEqual({ objects: 0, chunks: 0, matched: 0, done: 0 });

    const committed = await commitChunkWithRetry(logger, database.sql, chunk, { retry });
    expect(committed.rowsInserted).toBe(1);
    expect(await written()).toEqual({ objects: 1, chunks: 1, matched: 1, done: 5 });
  });
});

describe('the walker', () => {
  const common = { logger: createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' }), metrics: createMetrics() };

  /** A source answering after `latencyMs`, recording how many calls were in flight as each one started, and straining on `strainAt`. */
  function fakeSource(latencyMs: number, strainAt = new Set<bigint>()) {
    let inFlight = 0;
    const starts: { sequence: bigint; inFlight: number }[] = [];
    const source: CheckpointSource = {
      getCheckpoint: async (sequence, options) => {
        inFlight++;
        starts.push({ sequence, inFlight });
        options?.onAttempt?.();
        try {
          await sleep(latencyMs);
          if (strainAt.has(sequence)) options?.onStrain?.('deadline', 'deadline exceeded');
          const checkpoint: CheckpointRecord = { sequenceNumber: sequence, timestampMs: 0n, epoch: 0n, networkTotalTransactions: 0n, transactions: [], objects: null };
          return checkpoint;
        } finally {
          inFlight--;
        }
      },
    };
    return { source, starts };
  }
  const peak = (starts: { sequence: bigint; inFlight: number }[], from: bigint, to: bigint) =>
    Math.max(...starts.filter((start) => start.sequence >= from && start.sequence <= to).map((start) => start.inFlight));

  it('fetches as many checkpoints at once as the budget allows right now, an operator raising it mid-walk included', async () => {
    const request = await runningRequest(0n, 399n);
    const { source, starts } = fakeSource(15);
    let maxInFlight = 4;
    let raisedAfter = -1n;
    const result = await walkRequest(common, database.sql, source, request, {
      holder: W1,
      chunkSize: 40,
      maxInFlight: () => maxInFlight,
      signal: new AbortController().signal,
      onChunk: (chunk) => {
        if (chunk.to === 119n) {
          maxInFlight = 16;
          raisedAfter = starts.at(-1)!.sequence;
        }
      },
    });
    expect(result).toEqual({ outcome: 'done', chunks: 10 });
    expect(peak(starts, 0n, raisedAfter)).toBe(4);
    expect(peak(starts, raisedAfter + 1n, 399n)).toBe(16);
  });

  it('narrows the fetches in flight with the chunk when a checkpoint strains the RPC, and widens them as it grows back', async () => {
    const request = await runningRequest(0n, 239n);
    // A deadline at checkpoint 5 halves the chunk to 20 until three calm chunks grow it back to 40.
    const { source, starts } = fakeSource(15, new Set([5n]));
    const sizes: bigint[] = [];
    await walkRequest(common, database.sql, source, request, {
      holder: W1,
      chunkSize: 40,
      maxInFlight: () => 16,
      signal: new AbortController().signal,
      onChunk: (chunk) => void sizes.push(chunk.to - chunk.from + 1n),
    });
    expect(sizes.slice(0, 5)).toEqual([20n, 20n, 20n, 20n, 40n]);
    expect(peak(starts, 0n, 15n)).toBe(16);
    // Half the chunk, half the calls in flight (16 × 20 / 40), where a chunk of 20 alone would allow 16.
    expect(peak(starts, 30n, 75n)).toBe(8);
    expect(peak(starts, 140n, 239n)).toBe(16);
  });
});

describe('requests', () => {
  it('returns the active request instead of creating a second one for the same package and options', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => createOrFindActiveRequest(database.db, NEW_REQUEST)));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.request.id)).size).toBe(1);
    const other = await createOrFindActiveRequest(database.db, { ...NEW_REQUEST, match: 'anywhere' });
    expect(other.created).toBe(true);
  });

  it('says how long a claimed request stays fresh: the staleness threshold after its heartbeat', async () => {
    const request = await runningRequest(0n, 9n, 'w1');
    const fresh = await claimBlocker(database.db, request.id, 30_000);
    expect(fresh).toMatchObject({ status: 'running', workerId: 'w1' });
    expect(fresh!.msUntilStale).toBeGreaterThan(29_000);
    expect(fresh!.msUntilStale).toBeLessThanOrEqual(30_000);
    await database.sql`update package_backfill_requests set heartbeat_at = now() - interval '10 seconds' where id = ${request.id}`;
    const older = (await claimBlocker(database.db, request.id, 30_000))!.msUntilStale;
    expect(older).toBeGreaterThan(19_000);
    expect(older).toBeLessThanOrEqual(20_000);
    expect((await claimBlocker(database.db, request.id, 5_000))!.msUntilStale).toBe(0);
  });

  it('lets exactly one of two workers claim a queued request', async () => {
    const request = await queuedRequest(0n, 10n);
    const claims = await Promise.all(['a', 'b', 'c', 'd'].map((worker) => claimRequest(database.db, request.id, worker, 30_000)));
    expect(claims.filter(Boolean)).toHaveLength(1);
  });
});

describe('Postgres errors a retry can help with', () => {
  /** The error Postgres itself raises with this SQLSTATE. */
  const raised = (code: string): Promise<unknown> =>
    database.sql.unsafe(`do $$ begin raise exception 'test %', '${code}' using errcode = '${code}'; end $$`).then(
      () => {
        throw new Error(`no error for ${code}`);
      },
      (error: unknown) => error,
    );

  it('are connection losses and the conflicts Postgres aborts a transaction for', async () => {
    for (const code of ['40001', '40P01', '55P03', '53300', '57P01']) expect([code, isPostgresTransient(await raised(code))]).toEqual([code, true]);
    for (const code of ['23505', '22023', 'P0001', '42P01']) expect([code, isPostgresTransient(await raised(code))]).toEqual([code, false]);
    // A conflict is worth another try, but Postgres was there: not "unavailable".
    expect(isPostgresUnavailable(await raised('40P01'))).toBe(false);
    expect(isPostgresUnavailable(await raised('53300'))).toBe(true);
    const unreachable = createDb('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    try {
      expect(isPostgresTransient(await unreachable.sql`select 1`.then(() => undefined, (error: unknown) => error))).toBe(true);
    } finally {
      await unreachable.close();
    }
  });

  it('withPostgresRetry retries a transient error with a log line each time, and gives any other error back at once', async () => {
    const logged: string[] = [];
    const logger = { warn: (_: unknown, message: string) => void logged.push(message) } as unknown as Logger;
    const retry = { maxRetries: 2, baseMs: 1, maxMs: 5 };
    let calls = 0;
    const passed = await withPostgresRetry(
      async () => {
        if (++calls < 3) throw await raised('40P01');
        return 'done';
      },
      { logger, what: 'test work', retry },
    );
    expect([passed, calls]).toEqual(['done', 3]);
    expect(logged).toEqual(['test work failed with a transient Postgres error; retrying', 'test work failed with a transient Postgres error; retrying']);

    calls = 0;
    const permanent = await withPostgresRetry(async () => {
      calls++;
      throw await raised('22023');
    }, { logger, what: 'test work', retry }).catch((error: unknown) => error);
    expect([calls, (permanent as { code?: string }).code]).toEqual([1, '22023']);

    calls = 0;
    const spent = await withPostgresRetry(async () => {
      calls++;
      throw await raised('40001');
    }, { logger, what: 'test work', retry }).catch((error: unknown) => error);
    // The last error as Postgres raised it, once the retries are spent.
    expect([calls, (spent as { code?: string }).code, (spent as Error).message]).toEqual([3, '40001', 'test 40001']);
  });
});
