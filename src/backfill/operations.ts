import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { packageBackfillRequests as requests, packageBackfillWatermarks, type BackfillStatus } from '../db/schema/backfill.ts';
import { enterObligation, waiveUnwalked } from './coverage.ts';
import { RequestNotFoundError, TransitionNotAllowedError } from './errors.ts';
import { FINISHED_STATUSES, transition } from './lifecycle.ts';
import { createOrFindActiveRequest, getRequest, type BackfillRequest } from './requests.ts';

/**
 * What operators do to a backfill: pause, resume, cancel, delete. Each is one guarded transition
 * (src/backfill/lifecycle.ts); a worker walking the request sees the new status at its next
 * chunk commit, which refuses to commit for a request that is no longer running, or sooner, at its
 * heartbeat. Pause and cancel clear the holder and its heartbeat: nobody holds the request any
 * more, and the commit refuses by status alone.
 */

type Operator = { actor: string; reason?: string };

const joinStatuses = (statuses: readonly BackfillStatus[]) =>
  statuses.length === 1 ? statuses[0] : `${statuses.slice(0, -1).join(', ')} and ${statuses[statuses.length - 1]}`;

const PAST = { pause: 'paused', resume: 'resumed', cancel: 'cancelled', delete: 'deleted' } as const;

function refuse(action: keyof typeof PAST, id: string, current: BackfillRequest | undefined, allowed: readonly BackfillStatus[], hint = ''): never {
  if (!current) throw new RequestNotFoundError(id);
  throw new TransitionNotAllowedError(id, current.status, `cannot ${action} backfill ${id}: it is ${current.status}; only ${joinStatuses(allowed)} backfills can be ${PAST[action]}${hint}`);
}

const PAUSABLE = ['queued', 'running'] as const;
const CANCELLABLE = ['queued', 'running', 'paused'] as const;
const REQUEUEABLE = ['paused', 'failed'] as const;

/** No worker holds the request once it is paused or cancelled. */
const RELEASED = { workerId: null, heartbeatAt: null };

export async function pauseRequest(db: Database, id: string, operator: Operator): Promise<BackfillRequest> {
  const outcome = await transition(db, id, { from: PAUSABLE, to: 'paused', actor: operator.actor, reason: operator.reason, set: RELEASED });
  if (outcome.ok) return outcome.request;
  return refuse('pause', id, outcome.current, PAUSABLE);
}

/** Cancels a request; what a request with a defaulted end left unwalked is waived, in the same transaction (src/backfill/coverage.ts). */
export async function cancelRequest(db: Database, id: string, operator: Operator): Promise<BackfillRequest> {
  const outcome = await transition(db, id, {
    from: CANCELLABLE,
    to: 'cancelled',
    actor: operator.actor,
    reason: operator.reason,
    set: { ...RELEASED, finishedAt: sql`now()` },
    alongside: waiveUnwalked,
  });
  if (outcome.ok) return outcome.request;
  return refuse('cancel', id, outcome.current, CANCELLABLE);
}

type ResumeResult = {
  request: BackfillRequest;
  /**
   * `requeued`: a paused or failed request is queued again and continues from its watermark.
   * `continued`: a cancelled request is continued by a new request from its watermark.
   * `existing`: the newest continuation of a cancelled request is active or completed, or another
   * active backfill of the same package and options exists; it is returned.
   */
  kind: 'requeued' | 'continued' | 'existing';
};

function isUniqueViolation(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if ((current as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

/**
 * Resumes a paused or failed request (back to queued, same request), or continues a cancelled one.
 * A cancelled request stays cancelled in the history; it is continued by a new request over
 * [its watermark + 1, its end], same family, match and options, naming it in `resumed_from_id`.
 * When it was continued before, the chain of continuations is followed to the newest one, which is
 * resumed in turn (queued again, or continued itself if it was cancelled too) or returned as it is.
 */
export async function resumeRequest(db: Database, id: string, operator: Operator): Promise<ResumeResult> {
  const current = await getRequest(db, id);
  if (!current) throw new RequestNotFoundError(id);
  if (current.status === 'cancelled') return resumeCancelled(db, current, operator);
  let outcome;
  try {
    outcome = await transition(db, id, {
      from: REQUEUEABLE,
      to: 'queued',
      actor: operator.actor,
      reason: operator.reason,
      set: { ...RELEASED, finishedAt: null },
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Only a failed request can meet this: while it was finished, the same backfill was posted again.
    throw new TransitionNotAllowedError(id, current.status, `cannot resume backfill ${id}: another active backfill of the same package and options exists`);
  }
  if (outcome.ok) return { request: outcome.request, kind: 'requeued' };
  if (outcome.current?.status === 'cancelled') return resumeCancelled(db, outcome.current, operator);
  return refuse('resume', id, outcome.current, [...REQUEUEABLE, 'cancelled']);
}

/** The newest request of the chain of continuations that starts at `request` (itself when nothing continues it). */
async function newestContinuation(db: Database, request: BackfillRequest): Promise<BackfillRequest> {
  let newest = request;
  for (;;) {
    const [next] = await db.select().from(requests).where(eq(requests.resumedFromId, newest.id)).orderBy(desc(requests.createdAt)).limit(1);
    if (!next) return newest;
    newest = next;
  }
}

async function resumeCancelled(db: Database, cancelled: BackfillRequest, operator: Operator): Promise<ResumeResult> {
  const newest = await newestContinuation(db, cancelled);
  if (newest.id === cancelled.id) return continueCancelled(db, cancelled, operator);
  if (newest.status === 'cancelled' || newest.status === 'paused' || newest.status === 'failed') return resumeRequest(db, newest.id, operator);
  return { request: newest, kind: 'existing' };
}

async function continueCancelled(db: Database, cancelled: BackfillRequest, operator: Operator): Promise<ResumeResult> {
  const [watermark] = await db
    .select({ hi: packageBackfillWatermarks.checkpointHiInclusive })
    .from(packageBackfillWatermarks)
    .where(eq(packageBackfillWatermarks.requestId, cancelled.id));
  const hi = watermark?.hi ?? cancelled.fromCheckpoint - 1n;
  const from = hi + 1n;
  const { request, created } = await createOrFindActiveRequest(db, {
    packageId: cancelled.packageId,
    requestedPackageId: cancelled.requestedPackageId,
    familyIds: cancelled.familyIds,
    match: cancelled.match,
    explicitFrom: undefined,
    explicitTo: undefined,
    optionsKey: cancelled.optionsKey,
    fromCheckpoint: from,
    toCheckpoint: cancelled.toCheckpoint,
    // Cancelled after its last chunk: nothing is left to walk.
    status: from > cancelled.toCheckpoint ? 'completed' : 'queued',
    resumedFromId: cancelled.id,
    // Asked for again: what the cancel waived of the remainder is owed once more.
    alongside: enterObligation,
    actor: operator.actor,
    reason: operator.reason ?? `continues cancelled backfill ${cancelled.id} from its watermark ${hi}`,
  });
  return { request, kind: created ? 'continued' : 'existing' };
}

/** Deletes a finished request with its watermark, chunk log and history; its rows stay in sui_objects. */
export async function deleteRequest(db: Database, id: string): Promise<BackfillRequest> {
  const [deleted] = await db
    .delete(requests)
    .where(and(eq(requests.id, id), inArray(requests.status, [...FINISHED_STATUSES])))
    .returning();
  if (deleted) return deleted;
  return refuse('delete', id, await getRequest(db, id), FINISHED_STATUSES, ' (cancel it first)');
}
