import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createPeriodicTask, type PeriodicTask } from '../common/periodic.ts';
import type { Db, Sql } from '../db/client.ts';
import { recordPackageFamily } from '../db/packages.ts';
import { ACTIVE_STATUSES, type BackfillStatus } from '../db/schema/backfill.ts';
import { activeTrackings, type Tracking } from '../indexer/registry.ts';
import type { ResolvedPackage } from '../sui/records.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest } from './requests.ts';

type Handoff = PeriodicTask<string[]>;

/** Class of the transaction-level advisory locks that serialize the handoff per package (the object is the package's hash). */
const HANDOFF_LOCK_CLASS = 0x4a4e_4f46;

/** Requests that still claim what they have not walked: the active ones, and failed ones, which an operator may resume. */
const CLAIMING_STATUSES = [...ACTIVE_STATUSES, 'failed'] as const satisfies readonly BackfillStatus[];

type Gap = { optionsKey: string; from: bigint; to: bigint };

/**
 * The first stretch of the package's obligation (src/backfill/coverage.ts) before the tracking's
 * start still open: not covered by what any backfill of the package committed (deleted requests
 * included), nor waived by a cancel, nor claimed by a request that may still walk it. Computed
 * afresh in one statement, from what outlives requests and from the requests that exist now.
 * Undefined when nothing is open, or while a request with the continuations' options is active
 * (one walk at a time per options: the next stretch waits for it).
 */
async function gapOf(sql: Sql, tracking: Tracking & { firstCheckpoint: bigint }): Promise<Gap | undefined> {
  const active = [...ACTIVE_STATUSES];
  const claiming = [...CLAIMING_STATUSES];
  const [row] = await sql<{ key: string; busy: boolean; lo: string | null; hi: string | null }[]>`
    with owed as (
      select handoff_options_key as key,
        int8multirange(int8range(handoff_from, ${tracking.firstCheckpoint.toString()}::int8)) - done_ranges - waived_ranges as ranges
      from package_backfill_coverage
      where package_id = ${tracking.originalId} and match = ${tracking.match}
        and handoff_from < ${tracking.firstCheckpoint.toString()}::int8
    ), claimed as (
      -- Whole ranges: what such a request has walked is in the coverage already.
      select coalesce(range_agg(int8range(from_checkpoint, to_checkpoint + 1)), '{}'::int8multirange) as ranges
      from package_backfill_requests
      where package_id = ${tracking.originalId} and match = ${tracking.match} and status = any(${claiming}::text[])
    ), open as (
      select o.key, o.ranges - c.ranges as ranges,
        exists (
          select 1 from package_backfill_requests
          where package_id = ${tracking.originalId} and options_key = o.key and status = any(${active}::text[])
        ) as busy
      from owed o, claimed c
    )
    select key, busy, lower(ranges)::text as lo, (select upper(r) - 1 from unnest(ranges) r order by lower(r) limit 1)::text as hi from open`;
  if (!row || row.busy || row.lo === null || row.hi === null) return undefined;
  return { optionsKey: row.key, from: BigInt(row.lo), to: BigInt(row.hi) };
}

/**
 * Backfill and live indexer meet exactly when a backfill ends at the checkpoint before the
 * indexer's coverage starts. When the indexer started covering a package only after its backfill
 * was accepted (no indexer was running, or it did not answer in time), the backfill ended at the
 * tip read at intake and the indexer began later: the checkpoints between are closed by a
 * continuation request, a backfill of exactly that gap with the family re-read from the RPC (an
 * upgrade may have happened in between). An indexer that started earlier leaves an overlap, which
 * ON CONFLICT DO NOTHING makes harmless.
 *
 * What is owed is the package's obligation, kept in its coverage row: everything from the lowest
 * first checkpoint of any request whose end was not given (the package "from its publish on", or
 * from an explicit `fromCheckpoint` on) up to the indexer's start; an explicit `toCheckpoint` is
 * what its user asked for, nothing more. Less what the package's backfills committed, what an
 * operator waived by cancelling such a request, and what a request that may still walk it claims.
 * Deleting requests changes none of it. A continuation has the options key of the request that
 * set the obligation's start, which a POST of the same options finds while it is active, and it
 * never runs beside another active walk of them: one continuation at a time per package, the
 * lowest stretch first. Replicas run this check at once: a continuation is created under a
 * per-package lock, after checking the gap again.
 */
export function createHandoff(
  common: Pick<Common, 'config' | 'logger'>,
  db: Db,
  source: { resolvePackage: (id: string) => Promise<ResolvedPackage> },
  queue: BackfillQueue,
): Handoff {
  const closeGap = async (tracking: Tracking & { firstCheckpoint: bigint }): Promise<string | undefined> => {
    if (!(await gapOf(db.sql, tracking))) return undefined;
    const resolved = await source.resolvePackage(tracking.originalId);
    await recordPackageFamily(db.db, resolved, 'rpc');
    // Another replica may have closed the gap while the family was read: check again, under the lock.
    const outcome = await db.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${HANDOFF_LOCK_CLASS}, hashtext(${tracking.originalId}))`;
      const gap = await gapOf(db.sql, tracking);
      if (!gap) return undefined;
      const { request, created } = await createOrFindActiveRequest(db.db, {
        packageId: tracking.originalId,
        requestedPackageId: tracking.originalId,
        familyIds: [...new Set([...resolved.familyIds, ...tracking.familyIds])].sort(),
        match: tracking.match,
        explicitFrom: undefined,
        explicitTo: undefined,
        optionsKey: gap.optionsKey,
        fromCheckpoint: gap.from,
        toCheckpoint: gap.to,
        actor: 'handoff',
        reason: `the live indexer covers the package from checkpoint ${tracking.firstCheckpoint}; this closes the gap before it`,
      });
      return created ? { request, gap } : undefined;
    });
    if (!outcome) return undefined;
    const { request, gap } = outcome;
    await queue.enqueue(request.id).catch((error) =>
      common.logger.warn({ requestId: request.id, err: errorMessage(error) }, 'continuation not enqueued; the reconciler will'),
    );
    common.logger.info(
      { requestId: request.id, packageId: tracking.originalId, match: tracking.match, optionsKey: gap.optionsKey, from: gap.from, to: gap.to },
      'continuation backfill created: the live indexer started covering the package after its backfill ended',
    );
    return request.id;
  };

  const closeGaps = async (): Promise<string[]> => {
    const created: string[] = [];
    for (const tracking of await activeTrackings(db.db)) {
      if (tracking.firstCheckpoint === null) continue;
      const id = await closeGap({ ...tracking, firstCheckpoint: tracking.firstCheckpoint });
      if (id) created.push(id);
    }
    return created;
  };

  return createPeriodicTask({ name: 'handoff check', intervalMs: common.config.RECONCILE_INTERVAL_MS, logger: common.logger, fallback: [], run: closeGaps });
}
