import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LostOwnershipError } from '../src/backfill/errors.ts';
import { claimRequest, createOrFindActiveRequest } from '../src/backfill/requests.ts';
import { commitChunk, ensureWatermark, pendingRanges } from '../src/backfill/watermarks.ts';
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
