import { and, eq, inArray, max, sql } from 'drizzle-orm';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createPeriodicTask, type PeriodicTask } from '../common/periodic.ts';
import type { Db } from '../db/client.ts';
import { recordPackageFamily } from '../db/packages.ts';
import { ACTIVE_STATUSES, packageBackfillRequests } from '../db/schema/backfill.ts';
import { activeTrackings } from '../indexer/registry.ts';
import type { ResolvedPackage } from '../sui/records.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest, optionsKey } from './requests.ts';

export type Handoff = PeriodicTask<string[]>;

/**
 * Backfill and live indexer meet exactly when a backfill ends at the checkpoint before the
 * indexer's coverage starts. When the indexer started covering a package only after its backfill
 * was accepted (no indexer was running, or it did not answer in time), the backfill ended at the
 * tip read at intake and the indexer began later: the checkpoints between are closed by a
 * continuation request, a backfill of exactly that gap with the family re-read from the RPC (an
 * upgrade may have happened in between). An indexer that started earlier leaves an overlap, which
 * ON CONFLICT DO NOTHING makes harmless.
 *
 * Only default-range requests (the package "from its publish on") are continued: an explicit range
 * is what its user asked for, nothing more. A continuation is a default-range request itself (same
 * options key), so it never runs beside another active walk of the package. Every default-range
 * request counts as covering its range whatever its status: one an operator cancelled or that
 * failed is resumed from its watermark by the operator, not recreated here behind their back.
 */
export function createHandoff(
  common: Pick<Common, 'config' | 'logger'>,
  db: Db,
  source: { resolvePackage: (id: string) => Promise<ResolvedPackage> },
  queue: BackfillQueue,
): Handoff {
  const closeGaps = async (): Promise<string[]> => {
    const created: string[] = [];
    for (const tracking of await activeTrackings(db.db)) {
      const defaultRange = optionsKey({ match: tracking.match, explicitFrom: undefined, explicitTo: undefined });
      const [covered] = await db.db
        .select({
          to: max(packageBackfillRequests.toCheckpoint),
          active: sql<boolean>`coalesce(bool_or(${inArray(packageBackfillRequests.status, [...ACTIVE_STATUSES])}), false)`,
        })
        .from(packageBackfillRequests)
        .where(and(eq(packageBackfillRequests.packageId, tracking.originalId), eq(packageBackfillRequests.optionsKey, defaultRange)));
      // No default-range backfill (only explicit ranges, or requests deleted): nothing to continue.
      if (covered?.to == null || tracking.firstCheckpoint === null || covered.to >= tracking.firstCheckpoint - 1n) continue;
      // One walk at a time per package and options: the gap is closed once the active one is done.
      if (covered.active) continue;
      const from = covered.to + 1n;
      const to = tracking.firstCheckpoint - 1n;
      const resolved = await source.resolvePackage(tracking.originalId);
      await recordPackageFamily(db.db, resolved, 'rpc');
      const { request, created: isNew } = await createOrFindActiveRequest(db.db, {
        packageId: tracking.originalId,
        requestedPackageId: tracking.originalId,
        familyIds: [...new Set([...resolved.familyIds, ...tracking.familyIds])].sort(),
        match: tracking.match,
        explicitFrom: undefined,
        explicitTo: undefined,
        fromCheckpoint: from,
        toCheckpoint: to,
        actor: 'handoff',
        reason: `the live indexer covers the package from checkpoint ${tracking.firstCheckpoint}; this closes the gap before it`,
      });
      if (!isNew) continue;
      await queue.enqueue(request.id).catch((error) =>
        common.logger.warn({ requestId: request.id, err: errorMessage(error) }, 'continuation not enqueued; the reconciler will'),
      );
      common.logger.info(
        { requestId: request.id, packageId: tracking.originalId, match: tracking.match, from, to },
        'continuation backfill created: the live indexer started covering the package after its backfill ended',
      );
      created.push(request.id);
    }
    return created;
  };

  return createPeriodicTask({ name: 'handoff check', intervalMs: common.config.RECONCILE_INTERVAL_MS, logger: common.logger, fallback: [], run: closeGaps });
}
