import { and, eq, max, ne } from 'drizzle-orm';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createPeriodicTask, type PeriodicTask } from '../common/periodic.ts';
import type { Db } from '../db/client.ts';
import { recordPackageFamily } from '../db/packages.ts';
import { packageBackfillRequests } from '../db/schema/backfill.ts';
import { activeTrackings } from '../indexer/registry.ts';
import type { ResolvedPackage } from '../sui/records.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest } from './requests.ts';

export type Handoff = PeriodicTask<string[]>;

/**
 * Backfill and live indexer meet exactly when a backfill ends at the checkpoint before the
 * indexer's coverage starts. When the indexer started covering a package only after its backfill
 * was accepted (no indexer was running, or it did not answer in time), the backfill ended at the
 * tip read at intake and the indexer began later: the checkpoints between are closed by a
 * continuation request, a backfill of exactly that gap with the family re-read from the RPC (an
 * upgrade may have happened in between). An indexer that started earlier leaves an overlap, which
 * ON CONFLICT DO NOTHING makes harmless.
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
      const [covered] = await db.db
        .select({ to: max(packageBackfillRequests.toCheckpoint) })
        .from(packageBackfillRequests)
        .where(
          and(
            eq(packageBackfillRequests.packageId, tracking.originalId),
            eq(packageBackfillRequests.match, tracking.match),
            ne(packageBackfillRequests.status, 'cancelled'),
          ),
        );
      // A tracked package nobody backfilled (requests deleted): nothing to continue.
      if (covered?.to == null || tracking.firstCheckpoint === null || covered.to >= tracking.firstCheckpoint - 1n) continue;
      const from = covered.to + 1n;
      const to = tracking.firstCheckpoint - 1n;
      const resolved = await source.resolvePackage(tracking.originalId);
      await recordPackageFamily(db.db, resolved, 'rpc');
      const { request, created: isNew } = await createOrFindActiveRequest(db.db, {
        packageId: tracking.originalId,
        requestedPackageId: tracking.originalId,
        familyIds: resolved.familyIds,
        match: tracking.match,
        explicitFrom: from,
        explicitTo: to,
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
