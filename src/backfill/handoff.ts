import { and, eq } from 'drizzle-orm';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createPeriodicTask, type PeriodicTask } from '../common/periodic.ts';
import type { Db, Sql } from '../db/client.ts';
import { recordPackageFamily } from '../db/packages.ts';
import { ACTIVE_STATUSES, packageBackfillRequests } from '../db/schema/backfill.ts';
import { activeTrackings, type Tracking } from '../indexer/registry.ts';
import type { ResolvedPackage } from '../sui/records.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest, hasDefaultEnd } from './requests.ts';

type Handoff = PeriodicTask<string[]>;

/** Class of the transaction-level advisory locks that serialize the handoff per package (the object is the package's hash). */
const HANDOFF_LOCK_CLASS = 0x4a4e_4f46;

type Gap = { optionsKey: string; from: bigint; to: bigint };

/**
 * The first stretch before the tracking's start that a request with options `optionsKey` should
 * still close: after the end of that group's requests (whatever their status), not covered by what
 * any backfill of the package committed (the coverage, deleted requests included) nor by an active
 * request. Undefined while the group has an active request (one walk at a time per options) or
 * when nothing is left.
 */
async function gapOf(sql: Sql, tracking: Tracking & { firstCheckpoint: bigint }, optionsKey: string): Promise<Gap | undefined> {
  const active = [...ACTIVE_STATUSES];
  const [row] = await sql<{ active: boolean; lo: string | null; hi: string | null }[]>`
    with grouped as (
      select max(to_checkpoint) as to_checkpoint, coalesce(bool_or(status = any(${active}::text[])), false) as active
      from package_backfill_requests
      where package_id = ${tracking.originalId} and match = ${tracking.match} and options_key = ${optionsKey}
    ), claimed as (
      select coalesce((select done_ranges from package_backfill_coverage where package_id = ${tracking.originalId} and match = ${tracking.match}), '{}'::int8multirange)
        + coalesce((
            select range_agg(int8range(from_checkpoint, to_checkpoint, '[]')) from package_backfill_requests
            where package_id = ${tracking.originalId} and match = ${tracking.match} and status = any(${active}::text[]) and from_checkpoint <= to_checkpoint
          ), '{}'::int8multirange) as ranges
    ), open as (
      select g.active, int8multirange(int8range(g.to_checkpoint + 1, ${tracking.firstCheckpoint.toString()}::int8)) - c.ranges as ranges
      from grouped g, claimed c
      where g.to_checkpoint is not null and g.to_checkpoint + 1 < ${tracking.firstCheckpoint.toString()}::int8
    )
    select active, lower(ranges)::text as lo, (select upper(r) - 1 from unnest(ranges) r order by lower(r) limit 1)::text as hi from open`;
  if (!row || row.active || row.lo === null || row.hi === null) return undefined;
  return { optionsKey, from: BigInt(row.lo), to: BigInt(row.hi) };
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
 * Every request whose end was not given (its end defaulted to the handoff: the package "from its
 * publish on", or from an explicit `fromCheckpoint` on) is continued; an explicit `toCheckpoint` is
 * what its user asked for, nothing more. A continuation has the options key of the requests it
 * continues, so it never runs beside another active walk of them. Every such request counts as
 * covering its range whatever its status: one an operator cancelled or that failed is resumed from
 * its watermark by the operator, not recreated here behind their back. What any backfill of the
 * package committed counts too, even once its request is deleted. Replicas run this check at once:
 * a continuation is created under a per-package lock, after checking the gap again.
 */
export function createHandoff(
  common: Pick<Common, 'config' | 'logger'>,
  db: Db,
  source: { resolvePackage: (id: string) => Promise<ResolvedPackage> },
  queue: BackfillQueue,
): Handoff {
  /** The options keys of the package's requests with no explicit end. */
  const openEndedKeys = async (tracking: Tracking): Promise<string[]> => {
    const { packageId, match, optionsKey } = packageBackfillRequests;
    const rows = await db.db
      .selectDistinct({ optionsKey })
      .from(packageBackfillRequests)
      .where(and(eq(packageId, tracking.originalId), eq(match, tracking.match), hasDefaultEnd))
      .orderBy(optionsKey);
    return rows.map((row) => row.optionsKey);
  };

  const continueGroup = async (tracking: Tracking & { firstCheckpoint: bigint }, optionsKey: string): Promise<string | undefined> => {
    if (!(await gapOf(db.sql, tracking, optionsKey))) return undefined;
    const resolved = await source.resolvePackage(tracking.originalId);
    await recordPackageFamily(db.db, resolved, 'rpc');
    // Another replica may have closed the gap while the family was read: check again, under the lock.
    const outcome = await db.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${HANDOFF_LOCK_CLASS}, hashtext(${tracking.originalId}))`;
      const gap = await gapOf(db.sql, tracking, optionsKey);
      if (!gap) return undefined;
      const { request, created } = await createOrFindActiveRequest(db.db, {
        packageId: tracking.originalId,
        requestedPackageId: tracking.originalId,
        familyIds: [...new Set([...resolved.familyIds, ...tracking.familyIds])].sort(),
        match: tracking.match,
        explicitFrom: undefined,
        explicitTo: undefined,
        optionsKey,
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
      { requestId: request.id, packageId: tracking.originalId, match: tracking.match, optionsKey, from: gap.from, to: gap.to },
      'continuation backfill created: the live indexer started covering the package after its backfill ended',
    );
    return request.id;
  };

  const closeGaps = async (): Promise<string[]> => {
    const created: string[] = [];
    for (const tracking of await activeTrackings(db.db)) {
      if (tracking.firstCheckpoint === null) continue;
      const started = { ...tracking, firstCheckpoint: tracking.firstCheckpoint };
      for (const optionsKey of await openEndedKeys(tracking)) {
        const id = await continueGroup(started, optionsKey);
        if (id) created.push(id);
      }
    }
    return created;
  };

  return createPeriodicTask({ name: 'handoff check', intervalMs: common.config.RECONCILE_INTERVAL_MS, logger: common.logger, fallback: [], run: closeGaps });
}
