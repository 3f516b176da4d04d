import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { Database, Sql } from '../db/client.ts';
import { indexerTrackedPackages } from '../db/schema/framework.ts';
import type { MatchMode } from '../sui/records.ts';

/**
 * The live indexer's registry of tracked packages, owned by src/indexer. Other parts of the
 * project register packages and read where the indexer's coverage begins through these functions,
 * never through the table itself.
 */

export type Tracking = {
  originalId: string;
  match: MatchMode;
  familyIds: string[];
  /** First checkpoint the indexer covers; null while pending (the indexer has not started it yet). */
  firstCheckpoint: bigint | null;
};

/** Advisory lock a running indexer holds for its lifetime: it vanishes with the process. */
export const INDEXER_LOCK_KEY = 0x5b_ac_f1_1d;

/** Whether an indexer process is running now (it holds the advisory lock on a live session). */
export async function isIndexerRunning(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ running: boolean }[]>`
    select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
        and ((classid::bigint << 32) | objid::bigint) = ${INDEXER_LOCK_KEY}
    ) as running`;
  return row.running;
}

const toTracking = (row: typeof indexerTrackedPackages.$inferSelect): Tracking => ({
  originalId: row.originalId,
  match: row.match,
  familyIds: row.familyIds,
  firstCheckpoint: row.firstCheckpoint,
});

/**
 * Asks the indexer to track a package family. A new registration is pending: the indexer decides
 * the checkpoint its coverage starts from. A known one keeps its start and gains any new IDs.
 */
export async function trackPackage(db: Database, input: { originalId: string; match: MatchMode; familyIds: string[] }): Promise<Tracking> {
  const [row] = await db
    .insert(indexerTrackedPackages)
    .values({ originalId: input.originalId, match: input.match, familyIds: input.familyIds })
    .onConflictDoUpdate({
      target: [indexerTrackedPackages.originalId, indexerTrackedPackages.match],
      set: {
        familyIds: sql`(select array_agg(distinct id order by id) from unnest(${indexerTrackedPackages.familyIds} || excluded.family_ids) id)`,
      },
    })
    .returning();
  return toTracking(row);
}

export async function getTracking(db: Database, originalId: string, match: MatchMode): Promise<Tracking | undefined> {
  const [row] = await db
    .select()
    .from(indexerTrackedPackages)
    .where(and(eq(indexerTrackedPackages.originalId, originalId), eq(indexerTrackedPackages.match, match)));
  return row ? toTracking(row) : undefined;
}

/** Every tracking the indexer has started, with where it started. */
export async function activeTrackings(db: Database): Promise<Tracking[]> {
  const rows = await db.select().from(indexerTrackedPackages).where(isNotNull(indexerTrackedPackages.firstCheckpoint));
  return rows.map(toTracking);
}

/** Every tracking, started or pending. */
export async function allTrackings(db: Database): Promise<Tracking[]> {
  return (await db.select().from(indexerTrackedPackages)).map(toTracking);
}

/**
 * Starts pending trackings at `firstCheckpoint`, in the caller's transaction: the one that commits
 * the indexer's rows and watermark from that checkpoint on, so a recorded start is always covered.
 * Each gains the family IDs the indexer knows. Returns the trackings this started.
 */
export async function startTrackings(tx: postgres.TransactionSql, trackings: readonly Tracking[], firstCheckpoint: bigint): Promise<Tracking[]> {
  const started: Tracking[] = [];
  for (const tracking of trackings) {
    const [row] = await tx<{ family_ids: string[] }[]>`
      update indexer_tracked_packages
      set first_checkpoint = ${firstCheckpoint.toString()}, activated_at = now(),
          family_ids = (select array_agg(distinct id order by id) from unnest(family_ids || ${tracking.familyIds}::text[]) id)
      where original_id = ${tracking.originalId} and match = ${tracking.match} and first_checkpoint is null
      returning family_ids`;
    if (row) started.push({ originalId: tracking.originalId, match: tracking.match, familyIds: row.family_ids, firstCheckpoint });
  }
  return started;
}

/** Adds a new version's ID to every tracking of its family (an upgrade the indexer just saw). */
export async function addFamilyMember(tx: postgres.TransactionSql | Sql, originalId: string, packageId: string): Promise<void> {
  await tx`
    update indexer_tracked_packages set family_ids = array_append(family_ids, ${packageId})
    where original_id = ${originalId} and not (${packageId} = any(family_ids))`;
}
