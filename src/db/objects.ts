import type postgres from 'postgres';
import { compareObjectVersions, type ObjectVersionRow } from '../sui/records.ts';
import type { Sql } from './client.ts';

type Executor = Sql | postgres.TransactionSql;

/**
 * Inserts object versions into `sui_objects` with ON CONFLICT DO NOTHING and returns how many rows
 * were new. One statement whatever the count (arrays through unnest), rows sorted by primary key so
 * that concurrent writers (backfills, the live indexer) lock keys in the same order and never
 * deadlock.
 */
export async function insertObjectVersions(sql: Executor, rows: readonly ObjectVersionRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const sorted = [...rows].sort(compareObjectVersions);
  const column = <T>(pick: (row: ObjectVersionRow) => T) => sorted.map(pick);
  const result = await sql`
    insert into sui_objects (object_id, version, object_type, type_package, type_module, type_name,
      owner_kind, owner_address, checkpoint, tx_digest, object_digest, change)
    select * from unnest(
      ${column((r) => r.objectId)}::text[],
      ${column((r) => r.version.toString())}::int8[],
      ${column((r) => r.objectType)}::text[],
      ${column((r) => r.typePackage)}::text[],
      ${column((r) => r.typeModule)}::text[],
      ${column((r) => r.typeName)}::text[],
      ${column((r) => r.ownerKind)}::text[],
      ${column((r) => r.ownerAddress)}::text[],
      ${column((r) => r.checkpoint.toString())}::int8[],
      ${column((r) => r.txDigest)}::text[],
      ${column((r) => r.objectDigest)}::text[],
      ${column((r) => r.change)}::text[]
    )
    on conflict do nothing`;
  return result.count;
}
