import postgres from 'postgres';
import { SuiBackfillError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { INDEXER_LOCK_KEY } from './registry.ts';

export class IndexerAlreadyRunningError extends SuiBackfillError {
  constructor() {
    super('indexer_running', 'another indexer is already running against this database (only one may run)', { retryable: false });
  }
}

export type IndexerLock = {
  /**
   * Makes sure this process holds the lock, taking it again if its session was lost (a Postgres
   * restart ends the session and with it the lock). Throws `IndexerAlreadyRunningError` when
   * another indexer holds it, and the database's error when it cannot be asked.
   */
  hold: () => Promise<void>;
  release: () => Promise<void>;
};

/** A lock query that takes longer is given up, with its connection. */
const LOCK_QUERY_TIMEOUT_MS = 10_000;

/**
 * The session-level advisory lock that makes the indexer the only one per database. It lives on a
 * client of its own whose one connection never idles out or ages out, so the lock lasts as long as
 * the session. A query on a dropped session can fail or, with the driver, hang: any failure
 * replaces the client, and the next `hold` finds the lock gone and takes it again.
 */
export function createIndexerLock(databaseUrl: string, logger: Logger): IndexerLock {
  const connect = () =>
    postgres(databaseUrl, {
      max: 1,
      max_lifetime: null,
      connect_timeout: 10,
      onnotice: () => {},
      connection: { application_name: 'sui-backfill indexer lock' },
    });
  let sql = connect();
  let taken = false;

  const ask = async <T>(query: (client: postgres.Sql) => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        query(sql),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the indexer lock query got no answer within ${LOCK_QUERY_TIMEOUT_MS} ms`)), LOCK_QUERY_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      const broken = sql;
      sql = connect();
      void broken.end({ timeout: 0 }).catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    hold: async () => {
      const [{ held }] = await ask(
        (client) => client<{ held: boolean }[]>`
          select exists (
            select 1 from pg_locks
            where locktype = 'advisory' and granted and pid = pg_backend_pid()
              and ((classid::bigint << 32) | objid::bigint) = ${INDEXER_LOCK_KEY}
          ) as held`,
      );
      if (held) return;
      const [{ locked }] = await ask((client) => client<{ locked: boolean }[]>`select pg_try_advisory_lock(${INDEXER_LOCK_KEY}) as locked`);
      if (!locked) throw new IndexerAlreadyRunningError();
      if (taken) logger.warn('the indexer lock was lost with its database session and is taken again');
      taken = true;
    },
    release: async () => {
      // Ending the session releases the lock.
      await sql.end({ timeout: 5 });
    },
  };
}
