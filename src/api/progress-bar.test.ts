import { describe, expect, it } from 'vitest';
import { formatDuration, progressLine, shownWatermark } from './progress-bar.ts';

describe('formatDuration', () => {
  it('rounds to the second before splitting into minutes and hours, never showing 60 seconds or minutes', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [4.4, '4s'],
      [59.4, '59s'],
      [59.6, '1m00s'],
      [61, '1m01s'],
      [119.7, '2m00s'],
      [3599.4, '59m59s'],
      [3599.6, '1h00m'],
      [7199, '1h59m'],
      [36_000, '10h00m'],
    ];
    expect(cases.map(([seconds]) => [seconds, formatDuration(seconds)])).toEqual(cases);
  });
});

describe('progressLine', () => {
  it('shows the bar, percent, watermark, rate, ETA and rows of a running backfill', () => {
    const view = {
      id: 'x',
      status: 'running',
      fromCheckpoint: '100',
      toCheckpoint: '199',
      watermark: { checkpointHiInclusive: '149' },
      progress: { percent: 50, checkpointsPerSecond: 10.4, etaSeconds: 119.7 },
      rowsInserted: 7,
    };
    expect(progressLine(view, 10)).toBe('[█████░░░░░]  50.0%  cp 149/199  10 cp/s  ETA 2m00s  rows 7  running');
    expect(progressLine({ ...view, status: 'paused' }, 10)).toBe('[█████░░░░░]  50.0%  cp 149/199  10 cp/s  rows 7  paused');
  });

  it('shows the watermark as - until the first checkpoint of the range is done, from 0 too', () => {
    const view = (from: string, hi: string, percent: number) => ({
      id: 'x',
      status: 'running',
      fromCheckpoint: from,
      toCheckpoint: '19000',
      watermark: { checkpointHiInclusive: hi },
      progress: { percent, checkpointsPerSecond: null, etaSeconds: null },
      rowsInserted: 0,
    });
    expect(progressLine(view('0', '-1', 0), 10)).toBe('[░░░░░░░░░░]   0.0%  cp -/19000  rows 0  running');
    expect(progressLine(view('100', '99', 0), 10)).toBe('[░░░░░░░░░░]   0.0%  cp -/19000  rows 0  running');
    // Chunks done out of order move the percent before the watermark.
    expect(progressLine(view('0', '-1', 10), 10)).toBe('[█░░░░░░░░░]  10.0%  cp -/19000  rows 0  running');
    expect(progressLine(view('0', '0', 0), 10)).toBe('[░░░░░░░░░░]   0.0%  cp 0/19000  rows 0  running');
    expect([shownWatermark('0', '-1'), shownWatermark('0', '0'), shownWatermark('18446744073709551615', '18446744073709551614'), shownWatermark('5', '9')]).toEqual(['-', '0', '-', '9']);
  });

  it('rounds down, so only a finished walk shows 100%', () => {
    const at = (percent: number) => progressLine({ id: 'x', status: 'running', fromCheckpoint: '0', toCheckpoint: '9', watermark: { checkpointHiInclusive: '0' }, progress: { percent, checkpointsPerSecond: null, etaSeconds: null }, rowsInserted: 0 }, 10).slice(0, 19);
    expect([99.98, 99.9, 56.7, 0.29, 100].map(at)).toEqual(['[█████████░]  99.9%', '[█████████░]  99.9%', '[█████░░░░░]  56.7%', '[░░░░░░░░░░]   0.2%', '[██████████] 100.0%']);
  });
});
