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
