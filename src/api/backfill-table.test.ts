import { describe, expect, it } from 'vitest';
import { backfillTable } from './backfill-table.ts';

const PACKAGE = '0x2c8d603bc51326b8c13cef9dd07031a408a48dddb541963357661df5d3204809';
const item = (overrides: Partial<Parameters<typeof backfillTable>[0][number]>) => ({
  id: '6b1c2f0e-8d4a-4c3b-9e21-5a7f0d9c1b2e',
  status: 'running',
  match: 'outer',
  originalPackageId: PACKAGE,
  fromCheckpoint: '67456359',
  toCheckpoint: '67475358',
  checkpointHiInclusive: '67465858',
  percent: 50.0026,
  checkpointsPerSecond: 1234.4,
  etaSeconds: 7.6,
  rowsInserted: 12345678,
  lastError: null,
  ...overrides,
});

describe('backfillTable', () => {
  it('shows rate, ETA and the last error of each backfill within 120 columns, numbers on the right', () => {
    const error =
      'chunk 67456359..67456858 failed after 4 attempts: rpc_unavailable: the Sui RPC at https://fullnode.mainnet.sui.io:443 answered 503 Service Unavailable';
    const lines = backfillTable([
      item({}),
      item({ id: '0f3e9a71-2b5c-4d8e-a1f0-c6b7d8e9f012', status: 'failed', match: 'anywhere', checkpointHiInclusive: '67456358', percent: 0, checkpointsPerSecond: null, etaSeconds: null, rowsInserted: 0, lastError: error }),
      item({ id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', status: 'paused', fromCheckpoint: '0', toCheckpoint: '19000', checkpointHiInclusive: '-1', percent: 99.98, etaSeconds: 3, checkpointsPerSecond: null, rowsInserted: 7, lastError: 'line one\n  line two' }),
    ]);
    expect(lines).toEqual([
      'ID                                    STATUS   MATCH      DONE  WATERMARK/TO       CP/S  ETA      ROWS  PACKAGE',
      '6b1c2f0e-8d4a-4c3b-9e21-5a7f0d9c1b2e  running  outer     50.0%  67465858/67475358  1234  8s   12345678  0x2c8d…4809',
      '0f3e9a71-2b5c-4d8e-a1f0-c6b7d8e9f012  failed   anywhere   0.0%  -/67475358            -  -           0  0x2c8d…4809',
      '  last error: chunk 67456359..67456858 failed after 4 attempts: rpc_unavailable: the Sui RPC at https://fullnode.mainne…',
      '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d  paused   outer     99.9%  -/19000               -  -           7  0x2c8d…4809',
      '  last error: line one line two',
    ]);
    expect(lines.map((line) => line.length <= 120)).toEqual(lines.map(() => true));
    expect(lines[3]).toHaveLength(120);
  });

  it('sizes the columns to the page, so a small page stays narrow', () => {
    expect(backfillTable([item({ fromCheckpoint: '100', toCheckpoint: '399', checkpointHiInclusive: '99', percent: 0, status: 'queued', checkpointsPerSecond: null, etaSeconds: null, rowsInserted: 0, originalPackageId: '0x2' })])).toEqual([
      'ID                                    STATUS  MATCH  DONE  WATERMARK/TO  CP/S  ETA  ROWS  PACKAGE',
      '6b1c2f0e-8d4a-4c3b-9e21-5a7f0d9c1b2e  queued  outer  0.0%  -/399            -  -       0  0x2',
    ]);
  });
});
