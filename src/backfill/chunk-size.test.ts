import { describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createMetrics } from '../common/metrics.ts';
import { createAdaptiveChunkSize } from './chunk-size.ts';

const WALK = { request_id: 'r1', package_id: '0xdee9' };

describe('createAdaptiveChunkSize', () => {
  it('halves once per chunk down to one checkpoint, grows back after three clean chunks, logging each change and why', () => {
    const { logger, lines } = captureLogs();
    const size = createAdaptiveChunkSize({ max: 8, logger, metrics: createMetrics(), walk: WALK });
    expect(size.current()).toBe(8);
    size.strained('response_too_large', 10n, 'response of 90000 bytes exceeds the limit of 50000 bytes');
    size.strained('deadline', 11n, 'deadline');
    expect(size.current()).toBe(4);
    size.committed();
    size.strained('deadline', 20n, 'deadline exceeded');
    size.committed();
    size.strained('deadline', 30n, 'deadline exceeded');
    size.committed();
    size.strained('deadline', 40n, 'deadline exceeded');
    expect(size.current()).toBe(1);
    size.committed();
    for (let i = 0; i < 2; i++) size.committed();
    expect(size.current()).toBe(1);
    size.committed();
    expect(size.current()).toBe(2);
    for (let i = 0; i < 6; i++) size.committed();
    expect(size.current()).toBe(8);
    for (let i = 0; i < 6; i++) size.committed();
    expect(size.current()).toBe(8);
    expect(lines.map(({ msg, from, to, reason }) => [msg, from, to, reason])).toEqual([
      ['backfill chunk size halved', 8, 4, 'response_too_large'],
      ['backfill chunk size halved', 4, 2, 'deadline'],
      ['backfill chunk size halved', 2, 1, 'deadline'],
      ['backfill chunk size grown', 1, 2, 'successes'],
      ['backfill chunk size grown', 2, 4, 'successes'],
      ['backfill chunk size grown', 4, 8, 'successes'],
    ]);
    expect(lines[0]).toMatchObject({ checkpoint: 10, detail: 'response of 90000 bytes exceeds the limit of 50000 bytes' });
  });

  it("counts each change in sui_backfill_chunk_resizes_total by direction and reason, and shows the walk's size now", async () => {
    const metrics = createMetrics();
    const size = createAdaptiveChunkSize({ max: 8, growAfter: 2, logger: captureLogs().logger, metrics, walk: WALK });
    const resizes = async () => Object.fromEntries((await metrics.chunkResizes.get()).values.map(({ labels, value }) => [`${labels.pipeline} ${labels.direction} ${labels.reason}`, value]));
    const sizeNow = async () => (await metrics.walkChunkSize.get()).values.map(({ labels, value }) => [labels, value]);
    expect(await sizeNow()).toEqual([[WALK, 8]]);
    expect(await resizes()).toEqual({});

    size.strained('response_too_large', 10n, 'too large');
    size.committed();
    size.strained('deadline', 20n, 'deadline exceeded');
    size.committed();
    size.strained('deadline', 30n, 'deadline exceeded');
    size.committed();
    // At one checkpoint already: no change, nothing counted.
    size.strained('deadline', 40n, 'deadline exceeded');
    size.committed();
    expect(await sizeNow()).toEqual([[WALK, 1]]);
    expect(await resizes()).toEqual({ 'backfill shrink response_too_large': 1, 'backfill shrink deadline': 2 });

    for (let i = 0; i < 4; i++) size.committed();
    expect(await sizeNow()).toEqual([[WALK, 4]]);
    expect(await resizes()).toEqual({ 'backfill shrink response_too_large': 1, 'backfill shrink deadline': 2, 'backfill grow successes': 2 });
  });
});
