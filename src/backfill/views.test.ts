import { describe, expect, it } from 'vitest';
import { computeProgress, decodeCursor, encodeCursor, watermarkProgress, type ChunkTiming } from './views.ts';

const now = new Date('2026-03-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
/** A chunk of `size` checkpoints from `from` that took `durationMs` and finished `finishedMsAgo` before now. */
const chunk = (from: number, size: number, durationMs: number, finishedMsAgo: number): ChunkTiming => ({
  from: BigInt(from),
  to: BigInt(from + size - 1),
  durationMs,
  finishedAt: ago(finishedMsAgo),
});
const running = { fromCheckpoint: 1_000n, toCheckpoint: 1_999n, status: 'running' as const };

describe('watermarkProgress', () => {
  it('counts from just below the first checkpoint, and calls an empty range complete', () => {
    expect(watermarkProgress(running, null)).toEqual({ hi: 999n, total: 1000n, done: 0n, percent: 0 });
    expect(watermarkProgress(running, 1_332n)).toEqual({ hi: 1_332n, total: 1000n, done: 333n, percent: 33.3 });
    expect(watermarkProgress({ fromCheckpoint: 0n, toCheckpoint: 2n }, 0n).percent).toBe(33.33);
    expect(watermarkProgress({ fromCheckpoint: 50n, toCheckpoint: 49n }, 49n)).toEqual({ hi: 49n, total: 0n, done: 0n, percent: 100 });
  });
});

describe('computeProgress', () => {
  it('measures checkpoints per second over the chunks of the last minute, from the start of the first of them', () => {
    // 300 checkpoints in chunks that ran back to back over the last 30 s; an older chunk is outside the window.
    const recent = [chunk(1_300, 100, 10_000, 0), chunk(1_200, 100, 10_000, 10_000), chunk(1_100, 100, 10_000, 20_000), chunk(1_000, 100, 10_000, 61_000)];
    expect(computeProgress(running, 1_399n, recent, now)).toEqual({
      checkpointsTotal: 1000,
      checkpointsDone: 400,
      percent: 40,
      checkpointsPerSecond: 10,
      // 600 checkpoints left at 10/s.
      etaSeconds: 60,
    });
  });

  it('counts the time since the last chunk finished: a stalled walk slows down', () => {
    // 100 checkpoints in 5 s, then 15 s of silence: 100 over 20 s.
    expect(computeProgress(running, 1_099n, [chunk(1_000, 100, 5_000, 15_000)], now)).toMatchObject({ checkpointsPerSecond: 5, etaSeconds: 180 });
  });

  it('rounds the rate to two decimals and the ETA up to whole seconds', () => {
    // 7 checkpoints in 3 s: 2.333…/s; 993 left: 425.57 s, so 426.
    expect(computeProgress(running, 1_006n, [chunk(1_000, 7, 3_000, 0)], now)).toMatchObject({ checkpointsPerSecond: 2.33, etaSeconds: 426 });
  });

  it('has no rate or ETA unless running with a chunk in the last minute; a finished range has an ETA of 0', () => {
    const recent = [chunk(1_000, 100, 1_000, 0)];
    for (const status of ['queued', 'paused', 'failed', 'cancelled'] as const) {
      expect(computeProgress({ ...running, status }, 1_099n, recent, now)).toMatchObject({ checkpointsPerSecond: null, etaSeconds: null });
    }
    expect(computeProgress(running, 1_099n, [chunk(1_000, 100, 1_000, 60_001)], now)).toMatchObject({ checkpointsPerSecond: null, etaSeconds: null });
    expect(computeProgress(running, 1_099n, [], now)).toMatchObject({ checkpointsPerSecond: null, etaSeconds: null });
    expect(computeProgress({ ...running, status: 'completed' }, 1_999n, recent, now)).toEqual({
      checkpointsTotal: 1000,
      checkpointsDone: 1000,
      percent: 100,
      checkpointsPerSecond: null,
      etaSeconds: 0,
    });
  });
});

describe('list cursors', () => {
  it('keep microseconds and refuse anything this API did not give out', () => {
    const id = '0b8f3a52-6c1e-4c1a-9d51-2f4e8b7c6a10';
    const cursor = encodeCursor('2026-01-01T00:00:00.123456Z', id);
    expect(decodeCursor(cursor)).toEqual({ createdAt: '2026-01-01T00:00:00.123456Z', id });
    for (const bogus of ['bogus', encodeCursor('2026-01-01T00:00:00.123Z', id), encodeCursor('2026-01-01T00:00:00.123456Z', 'nope'), encodeCursor('2026-13-45T00:00:00.000000Z', id)]) {
      expect(decodeCursor(bogus)).toBeUndefined();
    }
  });
});
