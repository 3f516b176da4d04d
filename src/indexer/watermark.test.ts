import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { advanceWatermark, readWatermark, type FrameworkWatermark } from './watermark.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const at = (checkpoint: bigint): FrameworkWatermark => ({
  epochHiInclusive: checkpoint / 100n,
  checkpointHiInclusive: checkpoint,
  txHi: checkpoint * 10n,
  timestampMsHiInclusive: 1_700_000_000_000n + checkpoint,
});

const advance = (watermark: FrameworkWatermark, readerLo: bigint) => database.sql.begin((tx) => advanceWatermark(tx, watermark, readerLo));

async function row() {
  const [found] = await database.sql`select checkpoint_hi_inclusive, reader_lo, pruner_hi from watermarks where pipeline = 'sui_objects'`;
  return { hi: BigInt(found.checkpoint_hi_inclusive), readerLo: BigInt(found.reader_lo), prunerHi: BigInt(found.pruner_hi) };
}

describe('framework watermark', () => {
  it('moves only forward: a lower or equal value changes nothing, not even the other columns', async () => {
    expect(await readWatermark(database.sql)).toBeUndefined();
    expect(await advance(at(100n), 40n)).toBe(true);
    expect(await readWatermark(database.sql)).toEqual(at(100n));

    expect(await advance({ ...at(99n), txHi: 5_000n }, 0n)).toBe(false);
    expect(await advance({ ...at(100n), txHi: 5_000n }, 0n)).toBe(false);
    expect(await readWatermark(database.sql)).toEqual(at(100n));

    expect(await advance(at(150n), 90n)).toBe(true);
    expect(await readWatermark(database.sql)).toEqual(at(150n));
    // reader_lo and pruner_hi belong to the row's creation: nothing is pruned.
    expect(await row()).toEqual({ hi: 150n, readerLo: 40n, prunerHi: 40n });
  });

  it('keeps the highest of two writers racing in separate transactions', async () => {
    await Promise.all([advance(at(400n), 0n), advance(at(300n), 0n), advance(at(350n), 0n)]);
    expect((await readWatermark(database.sql))?.checkpointHiInclusive).toBe(400n);
  });
});
