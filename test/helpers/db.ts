import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/db/client.ts';
import { quoteIdent } from '../../src/db/migrate.ts';
import { TEST_ADMIN_URL, testDatabaseUrl } from './env.ts';

export type TestDatabase = Db & { url: string; name: string; drop: () => Promise<void> };

/** A fresh, migrated database of this test file's own, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sbt_${inject('testRunId')}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${quoteIdent(name)} template ${quoteIdent(inject('templateDatabase'))}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = testDatabaseUrl(name);
  const db = createDb(url, { max: 5, applicationName: 'sui-backfill test' });
  return {
    ...db,
    url,
    name,
    drop: async () => {
      await db.close();
      const sql = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
