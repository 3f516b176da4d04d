import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { errorMessage, ServiceUnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { withRetry } from '../common/retry.ts';
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

/** The URL of another database on the server `url` names. */
export function databaseUrl(url: string, name: string): string {
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
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
  '53300', // too_many_connections: a connection may be free at the next try
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

function isPostgresWriteAfterClose(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    error.message === "Cannot read properties of null (reading 'write')" &&
    /nextWrite .*postgres[\\/](cjs[\\/])?src[\\/]connection\.js/.test(error.stack ?? '')
  );
}

/** Whether an error means Postgres could not be reached (retry later), rather than a bad query. */
export function isPostgresUnavailable(error: unknown): boolean {
  return hasCode(error, UNAVAILABLE_CODES);
}

/** Transactions Postgres aborted to resolve a conflict between sessions; the same statement run again can succeed. */
const CONFLICT_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

/** Whether retrying the same database work can help: Postgres unreachable, or a conflict it aborted. */
export function isPostgresTransient(error: unknown): boolean {
  return isPostgresUnavailable(error) || hasCode(error, CONFLICT_CODES);
}

function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
    if ((current as { errors?: unknown[] }).errors?.some((inner) => hasCode(inner, codes))) return true;
  }
  return false;
}

export type PostgresRetry = { maxRetries: number; baseMs: number; maxMs: number };

/** A transient Postgres error as the retry loop sees it; unwrapped again when the retries are spent. */
class TransientPostgresError extends ServiceUnavailableError {}

/** Long enough to ride out a Postgres restart or failover (about 20 s of backoff in all), never forever. */
export const DEFAULT_POSTGRES_RETRY: PostgresRetry = { maxRetries: 10, baseMs: 500, maxMs: 5_000 };

/**
 * Runs `work`, retrying it with backoff while it fails transiently (`isPostgresTransient`), each
 * retry logged. Retryable project errors the work throws itself (a timeout) are retried too. Other
 * errors, and the last transient one once the retries are spent, are thrown as they came.
 */
export async function withPostgresRetry<T>(
  work: (attempt: number) => Promise<T>,
  options: { logger: Pick<Logger, 'warn'>; what: string; retry?: PostgresRetry; signal?: AbortSignal; context?: Record<string, unknown> },
): Promise<T> {
  try {
    return await withRetry(
      async (attempt) => {
        try {
          return await work(attempt);
        } catch (error) {
          throw isPostgresTransient(error) ? new TransientPostgresError('postgres', errorMessage(error), error) : error;
        }
      },
      {
        ...(options.retry ?? DEFAULT_POSTGRES_RETRY),
        signal: options.signal,
        onRetry: ({ attempt, delayMs, error }) =>
          options.logger.warn(
            { ...options.context, attempt, delayMs: Math.round(delayMs), code: postgresCode(error.cause) ?? error.code, err: error.message },
            `${options.what} failed with a transient Postgres error; retrying`,
          ),
      },
    );
  } catch (error) {
    throw error instanceof TransientPostgresError ? error.cause : error;
  }
}

/** The SQLSTATE or driver code of an error or its causes, for logs and error details. */
export function postgresCode(error: unknown): string | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
