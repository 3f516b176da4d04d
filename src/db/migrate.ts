import { readFileSync } from 'node:fs';
import path from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { ConfigError } from '../common/errors.ts';
import { createDb, databaseUrl, postgresCode } from './client.ts';
import * as schema from './schema/index.ts';

export const MIGRATIONS_FOLDER = path.resolve(import.meta.dirname, '../../drizzle');

const MIGRATION_LOCK_KEY = 0x5b_ac_f1_11;

/** Tables dropped by `migrate --reset` (every table of the schema; one statement, so no order). Rows in them are lost. */
const PROJECT_TABLES = Object.values(schema).flatMap((value) => (is(value, PgTable) ? [getTableName(value)] : []));

/** Creates the database named in `url` if the server does not have it yet. */
async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return false;
  const sql = postgres(databaseUrl(url, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length > 0) return false;
    await sql.unsafe(`create database ${quoteIdent(name)}`);
    return true;
  } catch (error) {
    // Another process created it at the same moment.
    if ((error as { code?: string }).code === '42P04') return false;
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Applies the committed drizzle-kit migrations; `reset` first drops every project table. */
export async function runMigrations(url: string, options: { reset?: boolean } = {}): Promise<void> {
  await ensureDatabase(url);
  const { db, sql, close } = createDb(url, { max: 1, applicationName: 'sui-backfill migrate' });
  try {
    // Several processes may start at once (dev, replicas); one migrates, the others wait.
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    if (options.reset) {
      await sql.unsafe(`drop table if exists ${PROJECT_TABLES.map(quoteIdent).join(', ')} cascade`);
      await sql.unsafe('drop schema if exists drizzle cascade');
    }
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await close();
  }
}

/**
 * For a process started with `--no-migrate`: the database must hold every committed migration,
 * or the process stops with one line, rather than run and fail each query it makes.
 */
export async function requireMigrated(url: string): Promise<void> {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  const expected = journal.entries.length;
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'sui-backfill schema check' } });
  let applied: number;
  try {
    const [row] = await sql<{ count: number }[]>`select count(*)::int as count from drizzle.__drizzle_migrations`;
    applied = row.count;
  } catch (error) {
    // No database, or no migrations table in it: nothing applied.
    if (postgresCode(error) !== '3D000' && postgresCode(error) !== '42P01' && postgresCode(error) !== '3F000') throw error;
    applied = 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (applied < expected) {
    throw new ConfigError(
      `Invalid configuration: DATABASE_URL: its database has ${applied} of the ${expected} migrations this version needs; run \`sui-backfill migrate\`, or start without --no-migrate`,
    );
  }
}
