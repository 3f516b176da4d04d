import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { Database } from '../db/client.ts';
import { hasDefaultEnd } from './requests.ts';

/**
 * A package's coverage (`package_backfill_coverage`), per original package and match mode: the
 * union of every checkpoint range any of its backfills has committed, and what they owe the handoff
 * to the live indexer. The package watermark and the handoff read it; a request's own watermark
 * goes with the request when it is deleted, none of this does.
 *
 * The obligation: every checkpoint from the lowest first checkpoint of any request whose end
 * defaulted to the handoff up to the checkpoint before the indexer's start, less what operators
 * waived by cancelling such a request. It is written in the transactions that create and cancel
 * requests, so deleting a request changes nothing of it.
 */

/** Runs statements in the caller's transaction. */
type Statements = Pick<Database, 'execute'>;

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

/**
 * A new request whose end defaulted to the handoff enters the obligation, in the transaction that
 * inserts it: the obligation starts at its first checkpoint or lower, and its range is no longer
 * waived (it is asked for again, by a resume's continuation or a new POST). Nothing for a request
 * given its end.
 */
export async function enterObligation(tx: Statements, { id: requestId }: { id: string }): Promise<void> {
  await tx.execute(sql`
    insert into package_backfill_coverage (package_id, match, handoff_from, handoff_options_key)
    select package_id, match, from_checkpoint, options_key
    from package_backfill_requests where id = ${requestId} and ${hasDefaultEnd}
    on conflict (package_id, match) do update set
      handoff_options_key = case
        when package_backfill_coverage.handoff_from is null or excluded.handoff_from < package_backfill_coverage.handoff_from then excluded.handoff_options_key
        else package_backfill_coverage.handoff_options_key
      end,
      handoff_from = least(package_backfill_coverage.handoff_from, excluded.handoff_from),
      waived_ranges = package_backfill_coverage.waived_ranges
        - (select int8multirange(int8range(from_checkpoint, to_checkpoint + 1)) from package_backfill_requests where id = ${requestId}),
      updated_at = now()`);
}

/**
 * A request whose end defaulted to the handoff, cancelled: what it left unwalked is waived, in the
 * cancel's transaction, so the handoff never walks it behind the operator's back, even once the
 * request is deleted. A cancelled request given its end waives nothing: what it left open of the
 * obligation is owed still.
 */
export async function waiveUnwalked(tx: Statements, { id: requestId }: { id: string }): Promise<void> {
  await tx.execute(sql`
    insert into package_backfill_coverage (package_id, match, waived_ranges)
    select package_id, match,
      int8multirange(int8range(from_checkpoint, to_checkpoint + 1))
        - coalesce((select done_ranges from package_backfill_watermarks where request_id = ${requestId}), '{}'::int8multirange)
    from package_backfill_requests where id = ${requestId} and ${hasDefaultEnd}
    on conflict (package_id, match) do update set
      waived_ranges = package_backfill_coverage.waived_ranges + excluded.waived_ranges, updated_at = now()`);
}
