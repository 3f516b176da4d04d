import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { findRegistryFamily, recordPackageFamily, registryFamilyToResolved } from '../db/packages.ts';
import { BelowLowestAvailableError } from '../sui/errors.ts';
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
};

export type IntakeResult = { request: BackfillRequest; created: boolean; enqueued: boolean };

export type Intake = { submit: (submission: BackfillSubmission) => Promise<IntakeResult> };

/**
 * Request intake: resolve the package (registry first, the RPC otherwise, recording what it
 * learns), fix the range once, insert the request, enqueue its job. A request whose job could not
 * be written (Redis down) stays queued in Postgres and the reconciler enqueues it later.
 */
export function createIntake(common: Pick<Common, 'logger'>, db: Db, source: IntakeSource, queue: BackfillQueue): Intake {
  const resolve = async (packageId: string): Promise<ResolvedPackage> => {
    const family = await findRegistryFamily(db.db, packageId);
    // A family whose publish the live indexer saw is complete in the registry: the indexer records
    // every later upgrade. Any other family is re-read from the RPC, which may know newer versions.
    if (family && family.versions[0]?.recordedBy === 'indexer') return registryFamilyToResolved(packageId, family);
    const resolved = await source.resolvePackage(packageId);
    await recordPackageFamily(db.db, resolved, 'rpc');
    return resolved;
  };

  return {
    submit: async (submission) => {
      const resolved = await resolve(submission.packageId);
      const info = await source.getServiceInfo();
      const toCheckpoint = submission.toCheckpoint ?? info.checkpointHeight;
      const fromCheckpoint = submission.fromCheckpoint ?? resolved.publishCheckpoint;
      if (fromCheckpoint === null) {
        throw new BelowLowestAvailableError(
          null,
          info.lowestAvailableCheckpoint,
          source.describeEndpoint?.() ?? 'the configured Sui RPC',
          `the publish of package ${resolved.originalId} (its transaction is pruned)`,
        );
      }

      if (fromCheckpoint > toCheckpoint) {
        throw new InvalidRangeError(`fromCheckpoint ${fromCheckpoint} is after toCheckpoint ${toCheckpoint}`);
      }
      if (toCheckpoint > info.checkpointHeight) {
        throw new InvalidRangeError(`toCheckpoint ${toCheckpoint} is beyond the chain tip ${info.checkpointHeight}`);
      }
      if (fromCheckpoint < info.lowestAvailableCheckpoint) {
        const archiveLowest = await source.archiveLowestAvailable?.();
        if (archiveLowest === undefined || fromCheckpoint < archiveLowest) {
          throw new BelowLowestAvailableError(
            fromCheckpoint,
            archiveLowest ?? info.lowestAvailableCheckpoint,
            source.describeEndpoint?.() ?? 'the configured Sui RPC',
          );
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
        toCheckpoint,
      });
      if (!created) return { request, created, enqueued: true };

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
