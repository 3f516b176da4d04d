import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerService } from '../src/backfill/process.ts';
import type { MatchMode } from '../src/sui/records.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(async () => {
  await stack.clearBackfills();
});

/** The contiguous end of a multirange like `{[100,130),[140,150)}` that starts at `from`. */
function contiguousEnd(ranges: string, from: bigint): bigint {
  const first = /^\{\[(\d+),(\d+)\)/.exec(ranges);
  return first && BigInt(first[1]) === from ? BigInt(first[2]) - 1n : from - 1n;
}

async function backfill(packageId: string, match: MatchMode, chunkSize: number) {
  const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: chunkSize });
  try {
    const posted = await stack.call('POST', '/v1/backfills', { packageId, match });
    expect(posted.status).toBe(202);
    const watermarks: bigint[] = [];
    for (;;) {
      const { body } = await stack.call('GET', `/v1/backfills/${posted.body.id}`);
      const hi = BigInt(body.watermark.checkpointHiInclusive);
      // The watermark is always the end of the first contiguous done range.
      expect(hi).toBe(contiguousEnd(body.watermark.doneRanges, BigInt(body.fromCheckpoint)));
      watermarks.push(hi);
      if (body.status === 'completed') break;
      expect(['queued', 'running']).toContain(body.status);
      await sleep(20);
    }
    expect(watermarks).toEqual([...watermarks].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    return (await stack.call('GET', `/v1/backfills/${posted.body.id}`)).body;
  } finally {
    await worker.close();
  }
}

/** Chunk size 1 is ~1,500 sequential chunk transactions: on a loaded 2-core machine that alone can take a minute. */
const CASE_TIMEOUT_MS = 180_000;

describe('backfill end to end', () => {
  const cases: [name: string, version: 'newest' | 'original' | 'middle', match: MatchMode, chunkSize: number][] = [
    ['dex', 'newest', 'outer', 1],
    ['dex', 'newest', 'outer', 7],
    ['dex', 'newest', 'outer', 500],
    ['dex', 'newest', 'anywhere', 1],
    ['dex', 'newest', 'anywhere', 7],
    ['dex', 'newest', 'anywhere', 500],
    ['dex', 'original', 'outer', 7],
    ['dex', 'middle', 'anywhere', 7],
    ['book', 'original', 'outer', 50],
    ['book', 'original', 'anywhere', 50],
    ['token', 'original', 'outer', 50],
    ['token', 'original', 'anywhere', 50],
    ['nft', 'original', 'outer', 50],
    ['nft', 'original', 'anywhere', 50],
    ['late', 'newest', 'anywhere', 50],
  ];

  it.each(cases)('%s posted by its %s id, match %s, chunk size %i: sui_objects equals the chain exactly', async (name, which, match, chunkSize) => {
    const pkg = stack.chain.package(name as 'dex');
    const versions = pkg.versions;
    const id = which === 'original' ? pkg.originalId : which === 'newest' ? versions[versions.length - 1].id : versions[1].id;
    const done = await backfill(id, match, chunkSize);

    const from = stack.chain.publishCheckpoint(pkg.originalId);
    const to = BigInt(done.toCheckpoint);
    expect(BigInt(done.fromCheckpoint)).toBe(from);
    expect(to).toBe(stack.chain.tip());
    expect(done.watermark.checkpointHiInclusive).toBe(done.toCheckpoint);
    expect(done.originalPackageId).toBe(pkg.originalId);
    expect(new Set(done.familyIds)).toEqual(new Set(stack.chain.family(pkg.originalId)));

    const truth = stack.truth(id, match, from, to);
    expect(truth.length).toBeGreaterThan(0);
    expect(await stack.objects()).toEqual(truth);
    expect(done.rowsInserted).toBe(truth.length);
    expect(done.objectsMatched).toBe(truth.length);
    expect(done.progress.percent).toBe(100);
  }, CASE_TIMEOUT_MS);

  it('re-running a completed backfill from scratch inserts nothing', async () => {
    const pkg = stack.chain.package('book');
    const first = await backfill(pkg.originalId, 'outer', 100);
    const before = await stack.objects();
    const id = first.id;
    await stack.database.sql`
      update package_backfill_watermarks set checkpoint_hi_inclusive = ${(BigInt(first.fromCheckpoint) - 1n).toString()},
        done_ranges = '{}', rows_inserted = 0, objects_matched = 0, checkpoints_done = 0 where request_id = ${id}`;
    await stack.database.sql`update package_backfill_requests set status = 'queued', finished_at = null where id = ${id}`;
    const worker: WorkerService = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 100 });
    try {
      await stack.queue.enqueue(id);
      const again = await stack.waitForStatus(id, ['completed']);
      expect(again.rowsInserted).toBe(0);
      expect(again.objectsMatched).toBe(first.objectsMatched);
      expect(await stack.objects()).toEqual(before);
      const chunks = await stack.database.sql`select sum(rows_inserted)::int as inserted, count(*)::int as n from package_backfill_chunks where request_id = ${id}`;
      expect(chunks[0].inserted).toBe(first.rowsInserted);
    } finally {
      await worker.close();
    }
  });
});
