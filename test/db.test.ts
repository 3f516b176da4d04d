import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe('schema', () => {
  it('has exactly the framework, backfill and RPC settings tables, with no overlap in names', async () => {
    const rows = await database.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
    expect(rows.map((row) => row.table_name)).toEqual([
      'indexer_tracked_packages',
      'package_backfill_chunks',
      'package_backfill_coverage',
      'package_backfill_requests',
      'package_backfill_transitions',
      'package_backfill_watermarks',
      'rpc_settings',
      'sui_objects',
      'sui_packages',
      'watermarks',
    ]);
  });

  it('merges adjacent done ranges so the contiguous watermark is the first range end', async () => {
    const [row] = await database.sql<{ merged: string }[]>`
      select ('{}'::int8multirange + int8multirange(int8range(1, 5, '[]')) + int8multirange(int8range(6, 9, '[]')))::text as merged`;
    expect(row.merged).toBe('{[1,10)}');
  });
});
