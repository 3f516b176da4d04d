import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

export type Database = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export type Db = {
  db: Database;
  sql: Sql;
  close: () => Promise<void>;
};

export function createDb(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // Reconnect quickly after a Postgres restart instead of holding dead sockets.
    idle_timeout: 30,
    connect_timeout: 10,
    connection: { application_name: options.applicationName ?? 'sui-backfill' },
  });
  const db = drizzle(sql, { schema, casing: undefined });
  return {
    db,
    sql,
    close: () => sql.end({ timeout: 5 }),
  };
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
]);

/** Whether an error means Postgres could not be reached (retry later), rather than a bad query. */
export function isPostgresUnavailable(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if ((current as { errors?: unknown[] }).errors?.some(isPostgresUnavailable)) return true;
  }
  return false;
}
