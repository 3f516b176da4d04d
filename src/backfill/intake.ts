import { setTimeout as sleep } from 'node:timers/promises';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { findRegistryFamily, indexerSawPublish, recordPackageFamily, registryFamilyToResolved } from '../db/packages.ts';
import { getTracking, isIndexerRunning, trackPackage, type Tracking } from '../indexer/registry.ts';
import { BelowLowestAvailableError, UnavailableError } from '../sui/errors.ts';
import type { MatchMode, ResolvedPackage, ServiceInfo } from '../sui/records.ts';
import { enterObligation } from './coverage.ts';
import { InvalidRangeError } from './errors.ts';
import type { BackfillQueue } from './queue.ts';
import { createOrFindActiveRequest, findActiveRequest, type BackfillRequest } from './requests.ts';
import { createRpcDeadline, type RpcDeadline } from './rpc-deadline.ts';

type SignalOption = { signal?: AbortSignal };

/** What intake needs from the Sui source; each call is given the intake's deadline as its signal. */
export type IntakeSource = {
  getServiceInfo: (options?: SignalOption) => Promise<ServiceInfo>;
  resolvePackage: (packageId: string, options?: SignalOption) => Promise<ResolvedPackage>;
  /** The endpoint whose history a range must be in; named in errors. */
  describeEndpoint: () => string;
  /** Lowest checkpoint an archival endpoint serves, when one is configured. */
  archiveLowestAvailable: (options?: SignalOption) => Promise<bigint | undefined>;
  /** Lowest checkpoint any configured full node serves. */
  fullNodesLowestAvailable: (options?: SignalOption) => Promise<bigint>;
  /** The endpoints that said `lowest` is their lowest available checkpoint; named in a refusal. */
  describeLowest: (lowest: bigint) => string;
  /** Runs `fn` with its calls ahead of the process's queued ones (a walk's fetches, in a process that also serves the API). */
  interactive: <T>(fn: () => Promise<T>) => Promise<T>;
};

type BackfillSubmission = {
  /** Normalized 0x + 64 hex. */
  packageId: string;
  match: MatchMode;
  fromCheckpoint?: bigint;
  toCheckpoint?: bigint;
  /** Who posts it, for the request's history (default `api`). */
  actor?: string;
};

type IntakeResult = {
  request: BackfillRequest;
  created: boolean;
  /**
   * Whether the request's job is in the queue: for a new queued request, false when Redis was down
   * (the reconciler enqueues it later); for an existing request, whether its job exists now; false
   * for a request created completed, which has nothing to queue.
   */
  enqueued: boolean;
};

export type Intake = { submit: (submission: BackfillSubmission) => Promise<IntakeResult> };

/**
 * Whether the registry's family, complete up to the live indexer's position, holds every version
 * a range needs. With a default end the range ends just before the tracking's start (or intake
 * waits for it and reads the RPC again if the wait runs out); an explicit end only when it is
 * before a tracking that has started. Past that, upgrades the indexer has not processed yet may exist.
 */
function registryServes(toCheckpoint: bigint | undefined, tracking: Tracking | undefined, indexerRunning: boolean): boolean {
  const start = tracking?.firstCheckpoint ?? null;
  if (toCheckpoint === undefined) return indexerRunning || start !== null;
  return start !== null && toCheckpoint < start;
}

/**
 * Request intake: a duplicate of an active request is answered from Postgres before anything is
 * asked of the RPC; otherwise resolve the package (registry first, the RPC otherwise, recording what
 * it learns), fix the range once, insert the request, enqueue its job. A request whose job could not
 * be written (Redis down) stays queued in Postgres and the reconciler enqueues it later. Its calls
 * to the Sui RPC share one budget, INTAKE_TIMEOUT_MS, whatever their retries would allow; the wait
 * for the live indexer (INDEXER_HANDOFF_TIMEOUT_MS) comes on top. A spent budget is an
 * `UnavailableError` naming the RPC (503 with Retry-After), and nothing is created.
 */
export function createIntake(common: Pick<Common, 'logger' | 'config'>, db: Db, source: IntakeSource, queue: BackfillQueue): Intake {
  const { config } = common;
  const fromRpc = async (packageId: string, signal: AbortSignal): Promise<ResolvedPackage> => {
    const resolved = await source.resolvePackage(packageId, { signal });
    await recordPackageFamily(db.db, resolved, 'rpc');
    return resolved;
  };

  /**
   * Registry first: a family whose publish the live indexer saw is complete in the registry up to
   * the indexer's position, which is where a tracked package's default-range backfill ends.
   * Anything else is read from the RPC, which knows every version up to the tip.
   */
  const resolve = async (submission: BackfillSubmission, indexerRunning: boolean, signal: AbortSignal) => {
    const family = await findRegistryFamily(db.db, submission.packageId);
    if (family && indexerSawPublish(family)) {
      const tracking = await getTracking(db.db, family.originalId, submission.match);
      if (registryServes(submission.toCheckpoint, tracking, indexerRunning)) {
        return { resolved: registryFamilyToResolved(submission.packageId, family), fromRegistry: true };
      }
    }
    return { resolved: await fromRpc(submission.packageId, signal), fromRegistry: false };
  };

  /**
   * A running indexer starts a new tracking with the first batch it commits after seeing it (or
   * between batches when it waits at the tip); wait, at most INDEXER_HANDOFF_TIMEOUT_MS, to learn where.
   */
  const waitForCoverage = async (tracking: Tracking): Promise<Tracking> => {
    const deadline = Date.now() + config.INDEXER_HANDOFF_TIMEOUT_MS;
    let current = tracking;
    while (current.firstCheckpoint === null && Date.now() < deadline) {
      await sleep(100);
      current = (await getTracking(db.db, tracking.originalId, tracking.match)) ?? current;
    }
    if (current.firstCheckpoint === null) {
      common.logger.warn(
        { packageId: tracking.originalId, match: tracking.match, waitedMs: config.INDEXER_HANDOFF_TIMEOUT_MS },
        'the live indexer did not start tracking in time; the backfill ends at the tip and a continuation will close any gap',
      );
    }
    return current;
  };

  /** A range from `from` must be served by some full node, or by the archive. */
  const checkServed = async (from: bigint, info: ServiceInfo, signal: AbortSignal) => {
    // The node asked first serves it: no need to ask the others.
    if (from >= info.lowestAvailableCheckpoint) return;
    const lowest = await source.fullNodesLowestAvailable({ signal });
    if (from >= lowest) return;
    const archiveLowest = await source.archiveLowestAvailable({ signal });
    if (archiveLowest === undefined || from < archiveLowest) {
      const refusedAt = archiveLowest ?? lowest;
      throw new BelowLowestAvailableError(from, refusedAt, source.describeLowest(refusedAt));
    }
  };

  const duplicate = async (request: BackfillRequest): Promise<IntakeResult> => ({
    request,
    created: false,
    enqueued: await queue.hasJob(request.id).catch(() => false),
  });

  /**
   * The active request a submission duplicates, found from Postgres alone (the registry names the
   * family of any ID it knows), so a client retrying while the RPC is down gets it back, not a 503.
   */
  const findDuplicate = async (submission: BackfillSubmission): Promise<BackfillRequest | undefined> => {
    const family = await findRegistryFamily(db.db, submission.packageId);
    if (!family) return undefined;
    return findActiveRequest(db.db, {
      packageId: family.originalId,
      match: submission.match,
      explicitFrom: submission.fromCheckpoint,
      explicitTo: submission.toCheckpoint,
    });
  };

  const accept = async (submission: BackfillSubmission, deadline: RpcDeadline): Promise<IntakeResult> => {
    const { signal } = deadline;
    const existing = await findDuplicate(submission);
    if (existing) return duplicate(existing);
    const indexerRunning = await isIndexerRunning(db.sql);
    // Read before resolving: a family resolved from the RPC then holds every version up to this tip.
    const info = await source.getServiceInfo({ signal });
    let { resolved, fromRegistry } = await resolve(submission, indexerRunning, signal);
    const defaultEnd = submission.toCheckpoint === undefined;

    // Every check comes before the package is tracked: a refused request leaves nothing behind.
    const fromCheckpoint = submission.fromCheckpoint ?? resolved.publishCheckpoint;
    if (fromCheckpoint === null) {
      const lowest = await source.fullNodesLowestAvailable({ signal });
      throw new BelowLowestAvailableError(null, lowest, source.describeLowest(lowest), `the publish of package ${resolved.originalId} (its transaction is pruned)`);
    }
    if (submission.fromCheckpoint !== undefined && submission.fromCheckpoint > info.checkpointHeight) {
      throw new InvalidRangeError(`fromCheckpoint ${submission.fromCheckpoint} is beyond the chain tip ${info.checkpointHeight}`);
    }
    if (submission.toCheckpoint !== undefined) {
      if (submission.toCheckpoint > info.checkpointHeight) throw new InvalidRangeError(`toCheckpoint ${submission.toCheckpoint} is beyond the chain tip ${info.checkpointHeight}`);
      if (fromCheckpoint > submission.toCheckpoint) throw new InvalidRangeError(`fromCheckpoint ${fromCheckpoint} is after the end of the range, ${submission.toCheckpoint}`);
    }
    const known = await getTracking(db.db, resolved.originalId, submission.match);
    // The live indexer already covers everything from the start on: nothing needs to be served.
    const coveredAlready = defaultEnd && known?.firstCheckpoint != null && known.firstCheckpoint <= fromCheckpoint;
    if (!coveredAlready) await checkServed(fromCheckpoint, info, signal);

    // Posting a backfill tracks the package: the live indexer covers it from some checkpoint on
    // and the backfill ends just before (invariant 3, README "Data and invariants"); with no indexer, at the tip.
    let tracking = await trackPackage(db.db, { originalId: resolved.originalId, match: submission.match, familyIds: resolved.familyIds });
    if (tracking.firstCheckpoint === null && indexerRunning && defaultEnd) {
      const pending = tracking;
      tracking = await deadline.paused(() => waitForCoverage(pending));
      // Ending at the tip goes past what a registry family is known to be complete for.
      if (tracking.firstCheckpoint === null && fromRegistry) resolved = await fromRpc(submission.packageId, signal);
    }
    // The indexer's start may be past the tip read above (another node, or time passed): that is fine.
    const toCheckpoint = submission.toCheckpoint ?? (tracking.firstCheckpoint !== null ? tracking.firstCheckpoint - 1n : info.checkpointHeight);
    // Only with a default end: the live indexer covers the whole range.
    const empty = fromCheckpoint > toCheckpoint;
    // The tracking holds the upgrades the indexer learnt of while intake waited.
    const familyIds = [...new Set([...resolved.familyIds, ...tracking.familyIds])].sort();

    const { request, created } = await createOrFindActiveRequest(db.db, {
      packageId: resolved.originalId,
      requestedPackageId: submission.packageId,
      familyIds,
      match: submission.match,
      explicitFrom: submission.fromCheckpoint,
      explicitTo: submission.toCheckpoint,
      fromCheckpoint,
      toCheckpoint: empty ? fromCheckpoint - 1n : toCheckpoint,
      status: empty ? 'completed' : 'queued',
      actor: submission.actor,
      // With a defaulted end, the backfills owe the handoff everything from here on, whatever becomes of this request.
      alongside: enterObligation,
    });
    if (empty) return { request, created, enqueued: false };
    if (!created) return duplicate(request);

    try {
      await queue.enqueue(request.id);
      return { request, created, enqueued: true };
    } catch (error) {
      common.logger.warn({ requestId: request.id, err: errorMessage(error) }, 'request accepted but not enqueued; the reconciler will enqueue it');
      return { request, created, enqueued: false };
    }
  };

  return {
    submit: async (submission) => {
      const endpoint = source.describeEndpoint();
      const deadline = createRpcDeadline(
        config.INTAKE_TIMEOUT_MS,
        () => new UnavailableError(`${endpoint} did not answer within INTAKE_TIMEOUT_MS (${config.INTAKE_TIMEOUT_MS} ms)`, 'deadline'),
      );
      try {
        // A client waits on the answer: its calls do not queue behind a walk's fetches.
        return await source.interactive(() => accept(submission, deadline));
      } catch (error) {
        // Whatever the call in flight made of the abort, the reason is the spent budget.
        throw deadline.signal.aborted ? deadline.signal.reason : error;
      } finally {
        deadline.dispose();
      }
    },
  };
}
