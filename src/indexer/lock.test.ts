import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { createIndexerLock, IndexerAlreadyRunningError, type IndexerLock } from './lock.ts';
import { INDEXER_LOCK_KEY, isIndexerRunning } from './registry.ts';

let database: TestDatabase;
const locks: IndexerLock[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const lock of locks) await lock.release();
  await database?.drop();
});

const logger = pino({ level: 'silent' });
const newLock = () => {
  const lock = createIndexerLock(database.url, logger);
  locks.push(lock);
  return lock;
};

/** The backend holding the indexer lock, if any. */
async function holder(): Promise<number | undefined> {
  const [row] = await database.sql<{ pid: number }[]>`
    select pid from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
      and ((classid::bigint << 32) | objid::bigint) = ${INDEXER_LOCK_KEY}`;
  return row?.pid;
}

/** Ends the holder's session, as a Postgres restart would. */
async function dropHolderSession(): Promise<number> {
  const pid = (await holder())!;
  await database.sql`select pg_terminate_backend(${pid})`;
  for (let i = 0; i < 100 && (await holder()) === pid; i++) await sleep(20);
  expect(await holder()).toBeUndefined();
  return pid;
}

/** `hold` as the indexer's loop calls it: a failed query (the dropped session) is retried after a pause. */
async function holdRetrying(lock: IndexerLock): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lock.hold();
    } catch (error) {
      if (error instanceof IndexerAlreadyRunningError || attempt === 5) throw error;
      await sleep(200);
    }
  }
}

describe('indexer lock', () => {
  it('is held by one process only; a lost session is noticed and the lock taken again unless another took it', async () => {
    const first = newLock();
    await first.hold();
    await first.hold();
    expect(await isIndexerRunning(database.sql)).toBe(true);
    const second = newLock();
    await expect(second.hold()).rejects.toBeInstanceOf(IndexerAlreadyRunningError);

    const lostPid = await dropHolderSession();
    expect(await isIndexerRunning(database.sql)).toBe(false);
    await holdRetrying(first);
    expect(await holder()).not.toBe(lostPid);
    expect(await isIndexerRunning(database.sql)).toBe(true);
    await expect(second.hold()).rejects.toBeInstanceOf(IndexerAlreadyRunningError);

    // Lost again, and another indexer is quicker: the first must give up rather than run beside it.
    await dropHolderSession();
    await second.hold();
    await expect(holdRetrying(first)).rejects.toBeInstanceOf(IndexerAlreadyRunningError);

    await second.release();
    expect(await isIndexerRunning(database.sql)).toBe(false);
  });

  it('is per database: an indexer on another database neither counts as running here nor blocks one here', async () => {
    const other = await createTestDatabase();
    const elsewhere = createIndexerLock(other.url, logger);
    try {
      await elsewhere.hold();
      expect(await isIndexerRunning(other.sql)).toBe(true);
      expect(await isIndexerRunning(database.sql)).toBe(false);
      const here = newLock();
      await here.hold();
      expect(await isIndexerRunning(database.sql)).toBe(true);
      await here.release();
    } finally {
      await elsewhere.release();
      await other.drop();
    }
  });
});
