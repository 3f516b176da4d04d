import { describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createAdaptiveChunkSize } from './chunk-size.ts';

describe('createAdaptiveChunkSize', () => {
  it('halves once per chunk down to one checkpoint, grows back after three clean chunks, logging each change and why', () => {
    const { logger, lines } = captureLogs();
    const size = createAdaptiveChunkSize({ max: 8, logger });
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
});
