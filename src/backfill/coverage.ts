import type postgres from 'postgres';

/**
 * A package's coverage (`package_backfill_coverage`): the union of every checkpoint range any of
 * its backfills has committed, per original package and match mode. The package watermark and the
 * handoff read it; a request's own watermark goes with the request when it is deleted, this does not.
 */

/**
 * Adds a chunk's range to the coverage of its request's package, in the chunk's transaction, so
 * the two never disagree. Called late in that transaction: the row is shared by every chunk of the
 * package, and its lock is held until the commit.
 */
export async function recordCoverage(tx: postgres.TransactionSql, requestId: string, from: bigint, to: bigint): Promise<void> {
  await tx`
    insert into package_backfill_coverage (package_id, match, done_ranges)
    select package_id, match, int8multirange(int8range(${from.toString()}, ${to.toString()}, '[]'))
    from package_backfill_requests where id = ${requestId}
    on conflict (package_id, match) do update set
      done_ranges = package_backfill_coverage.done_ranges + excluded.done_ranges, updated_at = now()`;
}
