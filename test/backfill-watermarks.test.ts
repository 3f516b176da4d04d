import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LostOwnershipError } from '../src/backfill/errors.ts';
import { claimRequest, createOrFindActiveRequest } from '../src/backfill/requests.ts';
import { commitChunk, ensureWatermark, pendingRanges } from '../src/backfill/watermarks.ts';
import type { Logger } from '../src/common/logger.ts';
import { createDb, isPostgresTransient, isPostgresUnavailable, withPostgresRetry } from '../src/db/client.ts';
import type { ObjectVersionRow } from '../src/sui/records.ts';
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

async function runningRequest(from: bigint, to: bigint, workerId = 'w1') {
  const { request } = await createOrFindActiveRequest(database.db, {
    packageId: PACKAGE,
    requestedPackageId: PACKAGE,
    familyIds: [PACKAGE],
    match: 'outer',
    explicitFrom: undefined,
    explicitTo: undefined,
    fromCheckpoint: from,
    toCheckpoint: to,
  });
  await claimRequest(database.db, request.id, workerId, 30_000);
  await ensureWatermark(database.sql, request.id, from);
  return request;
}

describe('chunk commits', () => {
  it('keeps the watermark at the end of the first contiguous done range, never moving it back', async () => {
    const request = await runningRequest(100n, 159n);
    const commit = (from: bigint, to: bigint) =>
      commitChunk(database.sql, { requestId: request.id, requestFrom: 100n, workerId: 'w1', from, to, rows: [], rpcCalls: 0, durationMs: 1 });

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
    await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, workerId: 'w1', from: 20n, to: 29n, rows: [], rpcCalls: 1, durationMs: 1 });
    await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, workerId: 'w1', from: 50n, to: 99n, rows: [], rpcCalls: 1, durationMs: 1 });
    expect(await pendingRanges(database.sql, request.id, 0n, 99n)).toEqual([
      [0n, 19n],
      [30n, 49n],
    ]);
  });

  it('counts only new rows, and a replayed chunk inserts nothing twice', async () => {
    const request = await runningRequest(0n, 9n);
    const rows = [row(1, 5n, 3n), row(2, 6n, 3n), row(1, 7n, 4n)];
    const first = await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, workerId: 'w1', from: 0n, to: 4n, rows, rpcCalls: 5, durationMs: 1 });
    expect(first.rowsInserted).toBe(3);
    const replay = await commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, workerId: 'w1', from: 0n, to: 4n, rows, rpcCalls: 5, durationMs: 1 });
    expect(replay.rowsInserted).toBe(0);
    expect(replay.watermark.rowsInserted).toBe(3n);
    expect(replay.watermark.objectsMatched).toBe(6n);
    const [{ count }] = await database.sql<{ count: string }[]>`select count(*) from sui_objects`;
    expect(count).toBe('3');
    const chunks = await database.sql`select rows_inserted from package_backfill_chunks where request_id = ${request.id} order by id`;
    expect(chunks.map((chunk) => chunk.rows_inserted)).toEqual([3, 0]);
  });

  it('does not count or log a second time a range a retried commit finds done', async () => {
    const request = await runningRequest(0n, 9n);
    const rows = [row(1, 5n, 3n), row(2, 6n, 3n)];
    const chunk = { requestId: request.id, requestFrom: 0n, workerId: 'w1', from: 0n, to: 4n, rows, rpcCalls: 5, durationMs: 1 };
    const first = await commitChunk(database.sql, chunk);
    const retried = await commitChunk(database.sql, { ...chunk, skipIfDone: true });
    expect(retried).toEqual({ rowsInserted: 0, watermark: first.watermark });
    expect(retried.watermark).toMatchObject({ checkpointHiInclusive: 4n, rowsInserted: 2n, objectsMatched: 2n, checkpointsDone: 5n });
    const chunks = await database.sql`select from_checkpoint from package_backfill_chunks where request_id = ${request.id}`;
    expect(chunks).toHaveLength(1);
    // A range not done yet is committed as usual.
    const next = await commitChunk(database.sql, { ...chunk, from: 5n, to: 9n, rows: [], skipIfDone: true });
    expect(next.watermark.checkpointHiInclusive).toBe(9n);
  });

  it('refuses to commit for a worker that no longer holds the request, writing nothing', async () => {
    const request = await runningRequest(0n, 9n, 'w1');
    await expect(
      commitChunk(database.sql, { requestId: request.id, requestFrom: 0n, workerId: 'w2', from: 0n, to: 4n, rows: [row(1, 1n, 1n)], rpcCalls: 1, durationMs: 1 }),
    ).rejects.toBeInstanceOf(LostOwnershipError);
    const [{ count }] = await database.sql<{ count: string }[]>`select count(*) from sui_objects`;
    expect(count).toBe('0');
    const [watermark] = await database.sql`select checkpoint_hi_inclusive, done_ranges::text as ranges from package_backfill_watermarks where request_id = ${request.id}`;
    expect(watermark).toEqual({ checkpoint_hi_inclusive: '-1', ranges: '{}' });
  });
});

describe('requests', () => {
  it('returns the active request instead of creating a second one for the same package and options', async () => {
    const input = {
      packageId: PACKAGE,
      requestedPackageId: PACKAGE,
      familyIds: [PACKAGE],
      match: 'outer' as const,
      explicitFrom: undefined,
      explicitTo: undefined,
      fromCheckpoint: 0n,
      toCheckpoint: 10n,
    };
    const results = await Promise.all(Array.from({ length: 8 }, () => createOrFindActiveRequest(database.db, input)));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.request.id)).size).toBe(1);
    const other = await createOrFindActiveRequest(database.db, { ...input, match: 'anywhere' });
    expect(other.created).toBe(true);
  });

  it('lets exactly one of two workers claim a queued request', async () => {
    const { request } = await createOrFindActiveRequest(database.db, {
      packageId: PACKAGE,
      requestedPackageId: PACKAGE,
      familyIds: [PACKAGE],
      match: 'outer',
      explicitFrom: undefined,
      explicitTo: undefined,
      fromCheckpoint: 0n,
      toCheckpoint: 10n,
    });
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
