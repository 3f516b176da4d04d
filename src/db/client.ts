import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Logger } from '../common/logger.ts';
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
  '25P03', // idle_in_transaction_session_timeout: the session was ended, a new one may work
]);

/**
 * postgres.js (3.4.9) can write to a connection whose server just went away from a setImmediate
 * callback: a transaction's ROLLBACK issued after its connection closed (porsager/postgres#1208).
 * Nothing can catch that TypeError, and the transaction has already failed with CONNECTION_CLOSED,
 * which its caller handles. A Postgres restart must not crash the processes, so a long-running
 * process survives exactly this error (logged) and still dies of any other uncaught exception.
 */
export function survivePostgresWriteAfterClose(logger: Pick<Logger, 'warn' | 'fatal'>, exit: (code: number) => void = process.exit): void {
  process.on('uncaughtException', (error) => {
    if (isPostgresWriteAfterClose(error)) {
      logger.warn({ err: error.message }, 'postgres driver wrote to a closed connection; the failed query was already reported to its caller');
      return;
    }
    logger.fatal({ err: error }, 'uncaught exception');
    exit(1);
  });
}

export function isPostgresWriteAfterClose(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    error.message === "Cannot read properties of null (reading 'write')" &&
    /nextWrite .*postgres[\\/](cjs[\\/])?src[\\/]connection\.js/.test(error.stack ?? '')
  );
}

/** Whether an error means Postgres could not be reached (retry later), rather than a bad query. */
export function isPostgresUnavailable(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if ((current as { errors?: unknown[] }).errors?.some(isPostgresUnavailable)) return true;
  }
  return false;
}
