import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { findRegistryFamily, recordPackageFamily, registryFamilyToResolved } from '../db/packages.ts';
import { getTracking, isIndexerRunning, trackPackage, type Tracking } from '../indexer/registry.ts';
import { BelowLowestAvailableError } from '../sui/errors.ts';
import { sleep } from '../sui/retry.ts';
import type { MatchMode, ResolvedPackage, ServiceInfo } from '../sui/records.ts';
import { InvalidRangeError } from './errors.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest, type BackfillRequest } from './requests.ts';

/** What intake needs from the Sui source. */
export type IntakeSource = {
  getServiceInfo: () => Promise<ServiceInfo>;
  resolvePackage: (packageId: string) => Promise<ResolvedPackage>;
  /** The endpoint whose history a range must be in; named in errors. */
  describeEndpoint?: () => string;
  /** Lowest checkpoint an archival endpoint serves, when one is configured. */
  archiveLowestAvailable?: () => Promise<bigint | undefined>;
};

export type BackfillSubmission = {
  /** Normalized 0x + 64 hex. */
  packageId: string;
  match: MatchMode;
  fromCheckpoint?: bigint;
  toCheckpoint?: bigint;
  /** Who posts it, for the request's history (default `api`). */
  actor?: string;
};

export type IntakeResult = { request: BackfillRequest; created: boolean; enqueued: boolean };

export type Intake = { submit: (submission: BackfillSubmission) => Promise<IntakeResult> };

/**
 * Request intake: resolve the package (registry first, the RPC otherwise, recording what it
 * learns), fix the range once, insert the request, enqueue its job. A request whose job could not
 * be written (Redis down) stays queued in Postgres and the reconciler enqueues it later.
 */
export function createIntake(common: Pick<Common, 'logger' | 'config'>, db: Db, source: IntakeSource, queue: BackfillQueue): Intake {
  const fromRpc = async (packageId: string): Promise<ResolvedPackage> => {
    const resolved = await source.resolvePackage(packageId);
    await recordPackageFamily(db.db, resolved, 'rpc');
    return resolved;
  };

  /**
   * Registry first: a family whose publish the live indexer saw is complete in the registry up to
   * the indexer's position, which is where a tracked package's backfill ends. Anything else is
   * read from the RPC, which knows every version up to the tip.
   */
  const resolve = async (packageId: string, match: MatchMode, indexerRunning: boolean) => {
    const family = await findRegistryFamily(db.db, packageId);
    if (family && family.versions[0]?.recordedBy === 'indexer') {
      const tracking = await getTracking(db.db, family.originalId, match);
      if (indexerRunning || tracking?.firstCheckpoint != null) return { resolved: registryFamilyToResolved(packageId, family), fromRegistry: true };
    }
    return { resolved: await fromRpc(packageId), fromRegistry: false };
  };

  /** A running indexer starts a new tracking between two batches; wait (bounded) to learn where. */
  const waitForCoverage = async (tracking: Tracking): Promise<Tracking> => {
    const deadline = Date.now() + common.config.INDEXER_HANDOFF_TIMEOUT_MS;
    let current = tracking;
    while (current.firstCheckpoint === null && Date.now() < deadline) {
      await sleep(100);
      current = (await getTracking(db.db, tracking.originalId, tracking.match)) ?? current;
    }
    if (current.firstCheckpoint === null) {
      common.logger.warn(
        { packageId: tracking.originalId, match: tracking.match, waitedMs: common.config.INDEXER_HANDOFF_TIMEOUT_MS },
        'the live indexer did not start tracking in time; the backfill ends at the tip and a continuation will close any gap',
      );
    }
    return current;
  };

  return {
    submit: async (submission) => {
      const indexerRunning = await isIndexerRunning(db.sql);
      let { resolved, fromRegistry } = await resolve(submission.packageId, submission.match, indexerRunning);
      const endpoint = source.describeEndpoint?.() ?? 'the configured Sui RPC';

      // Posting a backfill tracks the package: the live indexer covers it from some checkpoint on
      // and the backfill ends just before (DESIGN invariant 3); with no indexer, at the tip.
      let tracking = await trackPackage(db.db, { originalId: resolved.originalId, match: submission.match, familyIds: resolved.familyIds });
      if (tracking.firstCheckpoint === null && indexerRunning && submission.toCheckpoint === undefined) {
        tracking = await waitForCoverage(tracking);
        // Ending at the tip goes past what a registry family is known to be complete for.
        if (tracking.firstCheckpoint === null && fromRegistry) resolved = await fromRpc(submission.packageId);
      }
      // Read after the wait: the indexer's start may be past the tip seen before it.
      const info = await source.getServiceInfo();
      const toCheckpoint = submission.toCheckpoint ?? (tracking.firstCheckpoint !== null ? tracking.firstCheckpoint - 1n : info.checkpointHeight);
      const fromCheckpoint = submission.fromCheckpoint ?? resolved.publishCheckpoint;
      if (fromCheckpoint === null) {
        throw new BelowLowestAvailableError(null, info.lowestAvailableCheckpoint, endpoint, `the publish of package ${resolved.originalId} (its transaction is pruned)`);
      }
      if (toCheckpoint > info.checkpointHeight) {
        throw new InvalidRangeError(`toCheckpoint ${toCheckpoint} is beyond the chain tip ${info.checkpointHeight}`);
      }
      // The live indexer covers everything from the start on: a backfill with nothing to do.
      const empty = fromCheckpoint > toCheckpoint;
      if (empty && (submission.fromCheckpoint !== undefined || submission.toCheckpoint !== undefined)) {
        throw new InvalidRangeError(
          `fromCheckpoint ${fromCheckpoint} is after the end of the range, ${toCheckpoint}` +
            (submission.toCheckpoint === undefined ? ' (the checkpoint before the live indexer covers the package)' : ''),
        );
      }
      if (!empty && fromCheckpoint < info.lowestAvailableCheckpoint) {
        const archiveLowest = await source.archiveLowestAvailable?.();
        if (archiveLowest === undefined || fromCheckpoint < archiveLowest) {
          throw new BelowLowestAvailableError(fromCheckpoint, archiveLowest ?? info.lowestAvailableCheckpoint, endpoint);
        }
      }

      const { request, created } = await createOrFindActiveRequest(db.db, {
        packageId: resolved.originalId,
        requestedPackageId: submission.packageId,
        familyIds: resolved.familyIds,
        match: submission.match,
        explicitFrom: submission.fromCheckpoint,
        explicitTo: submission.toCheckpoint,
        fromCheckpoint,
        toCheckpoint: empty ? fromCheckpoint - 1n : toCheckpoint,
        status: empty ? 'completed' : 'queued',
        actor: submission.actor,
      });
      if (!created || empty) return { request, created, enqueued: !empty };

      try {
        await queue.enqueue(request.id);
        return { request, created, enqueued: true };
      } catch (error) {
        common.logger.warn({ requestId: request.id, err: errorMessage(error) }, 'request accepted but not enqueued; the reconciler will enqueue it');
        return { request, created, enqueued: false };
      }
    },
  };
}
