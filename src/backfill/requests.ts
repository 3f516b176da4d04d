import { and, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { ACTIVE_STATUSES, packageBackfillRequests, type BackfillStatus } from '../db/schema/backfill.ts';
import type { MatchMode } from '../sui/records.ts';
import { recordCreation, transition, type DbTransaction } from './lifecycle.ts';

export type BackfillRequest = typeof packageBackfillRequests.$inferSelect;

type NewBackfillRequest = {
  packageId: string;
  requestedPackageId: string;
  familyIds: string[];
  match: MatchMode;
  explicitFrom: bigint | undefined;
  explicitTo: bigint | undefined;
  fromCheckpoint: bigint;
  toCheckpoint: bigint;
  /** `completed` for an empty range: the live indexer already covers all of it. Default `queued`. */
  status?: 'queued' | 'completed';
  /** The options key of the request this one continues (default: computed from match and range). */
  optionsKey?: string;
  /** The cancelled request this one resumes. */
  resumedFromId?: string;
  /** Who creates it, for the transition history (default `api`). */
  actor?: string;
  reason?: string;
  /** Further writes that belong to the creation, made in the transaction that inserts the request. */
  alongside?: (tx: DbTransaction, request: BackfillRequest) => Promise<void>;
};

/**
 * The predicate of the partial unique index on active requests, as literal SQL: ON CONFLICT infers
 * the index only from a predicate Postgres can compare with the index's own at planning time.
 */
const ACTIVE_PREDICATE = sql.raw(`status in (${ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ')})`);

/** Two requests are "the same" when package, match mode and any explicitly asked range agree. */
function optionsKey(request: Pick<NewBackfillRequest, 'match' | 'explicitFrom' | 'explicitTo'>): string {
  const parts = [`match=${request.match}`];
  if (request.explicitFrom !== undefined) parts.push(`from=${request.explicitFrom}`);
  if (request.explicitTo !== undefined) parts.push(`to=${request.explicitTo}`);
  return parts.join(';');
}

/** Holds for the requests whose end was not given: their options key has no `to=` part (see optionsKey). */
export const hasDefaultEnd = sql`${packageBackfillRequests.optionsKey} !~ '(^|;)to='`;

/**
 * Inserts a queued request unless an active one exists for the same package and options, in which
 * case that one is returned (invariant 4, README "Data and invariants"; the partial unique index settles races).
 */
export async function createOrFindActiveRequest(
  db: Database,
  input: NewBackfillRequest,
): Promise<{ request: BackfillRequest; created: boolean }> {
  const key = input.optionsKey ?? optionsKey(input);
  for (;;) {
    const created = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(packageBackfillRequests)
        .values({
          packageId: input.packageId,
          requestedPackageId: input.requestedPackageId,
          familyIds: input.familyIds,
          match: input.match,
          optionsKey: key,
          fromCheckpoint: input.fromCheckpoint,
          toCheckpoint: input.toCheckpoint,
          status: input.status ?? 'queued',
          resumedFromId: input.resumedFromId,
          ...(input.status === 'completed' ? { finishedAt: sql`now()` } : {}),
        })
        .onConflictDoNothing({
          target: [packageBackfillRequests.packageId, packageBackfillRequests.optionsKey],
          where: ACTIVE_PREDICATE,
        })
        .returning();
      const reason = input.reason ?? (input.status === 'completed' ? 'nothing to do: the live indexer covers the whole range' : null);
      if (row) {
        await recordCreation(tx, row, input.actor ?? 'api', reason);
        await input.alongside?.(tx, row);
      }
      return row;
    });
    if (created) return { request: created, created: true };
    const existing = await findActiveRequest(db, { ...input, optionsKey: key });
    // The active one finished between the two statements: try the insert again.
    if (existing) return { request: existing, created: false };
  }
}

/**
 * The active request for the same package and options, the one `createOrFindActiveRequest` would
 * return instead of inserting; `packageId` is the original package ID.
 */
export async function findActiveRequest(
  db: Database,
  input: Pick<NewBackfillRequest, 'packageId' | 'match' | 'explicitFrom' | 'explicitTo' | 'optionsKey'>,
): Promise<BackfillRequest | undefined> {
  const [existing] = await db
    .select()
    .from(packageBackfillRequests)
    .where(
      and(
        eq(packageBackfillRequests.packageId, input.packageId),
        eq(packageBackfillRequests.optionsKey, input.optionsKey ?? optionsKey(input)),
        inArray(packageBackfillRequests.status, [...ACTIVE_STATUSES]),
      ),
    );
  return existing;
}

export async function getRequest(db: Database, id: string): Promise<BackfillRequest | undefined> {
  const [row] = await db.select().from(packageBackfillRequests).where(eq(packageBackfillRequests.id, id));
  return row;
}

// Parenthesized: it is subtracted from as well as compared with.
const staleBefore = (staleAfterMs: number) => sql`(now() - make_interval(secs => ${staleAfterMs / 1000}))`;

/**
 * Takes a request for this worker: a queued one, or a running one whose holder stopped beating its
 * heartbeat (a takeover). The condition is evaluated by Postgres, so two replicas can never both
 * win, and a live holder is never displaced, not even by a second delivery to its own process.
 */
export async function claimRequest(db: Database, id: string, workerId: string, staleAfterMs: number): Promise<BackfillRequest | undefined> {
  const outcome = await transition(db, id, {
    from: ['queued', 'running'],
    to: 'running',
    actor: `worker:${workerId}`,
    reason: (current) =>
      current.status === 'running' ? `took over from ${current.workerId}, silent since ${current.heartbeatAt?.toISOString()}` : 'claimed',
    where: or(
      eq(packageBackfillRequests.status, 'queued'),
      and(eq(packageBackfillRequests.status, 'running'), lt(packageBackfillRequests.heartbeatAt, staleBefore(staleAfterMs))),
    ),
    set: {
      workerId,
      heartbeatAt: sql`now()`,
      attempts: sql`${packageBackfillRequests.attempts} + 1`,
      startedAt: sql`coalesce(${packageBackfillRequests.startedAt}, now())`,
    },
  });
  return outcome.ok ? outcome.request : undefined;
}

/** Why a request could not be claimed: its status, and for a running one how long until its holder counts as gone. */
export async function claimBlocker(
  db: Database,
  id: string,
  staleAfterMs: number,
): Promise<{ status: BackfillStatus; workerId: string | null; msUntilStale: number } | undefined> {
  const [row] = await db
    .select({
      status: packageBackfillRequests.status,
      workerId: packageBackfillRequests.workerId,
      msUntilStale: sql<number>`greatest(0, ceil(extract(epoch from (${packageBackfillRequests.heartbeatAt} - ${staleBefore(staleAfterMs)})) * 1000))::int`,
    })
    .from(packageBackfillRequests)
    .where(eq(packageBackfillRequests.id, id));
  return row && { ...row, msUntilStale: Number(row.msUntilStale ?? 0) };
}

/**
 * One walk of a request: the worker that claimed it and the claim count of that claim. Two walks
 * of one request in one process (a redelivered job) share the worker id but not the claim count,
 * so every ownership check compares both.
 */
export type WalkHolder = { workerId: string; attempts: number };

const heldBy = (holder: WalkHolder) =>
  and(eq(packageBackfillRequests.workerId, holder.workerId), eq(packageBackfillRequests.attempts, holder.attempts));

type HeldOutcome = {
  /** For the history: why the walk ended so. */
  reason?: string;
  error?: string;
  errorDetail?: Record<string, unknown>;
};

/** Moves a request this walk holds from running to `to`; false when it no longer holds it. */
export async function finishHeldRequest(
  db: Database,
  id: string,
  holder: WalkHolder,
  to: Extract<BackfillStatus, 'completed' | 'failed' | 'queued'>,
  outcome: HeldOutcome = {},
): Promise<boolean> {
  const finished = to === 'completed' || to === 'failed';
  const result = await transition(db, id, {
    from: ['running'],
    to,
    actor: `worker:${holder.workerId}`,
    reason: outcome.reason ?? outcome.error ?? null,
    where: heldBy(holder),
    set: {
      workerId: to === 'queued' ? null : holder.workerId,
      heartbeatAt: to === 'queued' ? null : sql`now()`,
      ...(finished ? { finishedAt: sql`now()` } : {}),
      ...(outcome.error === undefined ? {} : { lastError: outcome.error, lastErrorDetail: outcome.errorDetail ?? null, lastErrorAt: sql`now()` }),
    },
  });
  return result.ok;
}

/** Whether this walk still holds the request (it is running, claimed by this walk's claim). */
export async function holdsRequest(db: Database, id: string, holder: WalkHolder): Promise<boolean> {
  const rows = await db
    .select({ id: packageBackfillRequests.id })
    .from(packageBackfillRequests)
    .where(and(eq(packageBackfillRequests.id, id), eq(packageBackfillRequests.status, 'running'), heldBy(holder)));
  return rows.length > 0;
}

/**
 * Heartbeat of a running request; false when this walk no longer holds it. The time is when the
 * beat lands, never earlier than a chunk commit's beat it waited for (clock times, not transaction starts).
 */
export async function beatHeartbeat(db: Database, id: string, holder: WalkHolder): Promise<boolean> {
  const rows = await db
    .update(packageBackfillRequests)
    .set({ heartbeatAt: sql`greatest(${packageBackfillRequests.heartbeatAt}, clock_timestamp())` })
    .where(and(eq(packageBackfillRequests.id, id), eq(packageBackfillRequests.status, 'running'), heldBy(holder)))
    .returning({ id: packageBackfillRequests.id });
  return rows.length > 0;
}

/** Requests that need a job: queued ones, and running ones whose holder went silent. */
export async function requestsNeedingAJob(db: Database, staleAfterMs: number): Promise<string[]> {
  const rows = await db
    .select({ id: packageBackfillRequests.id })
    .from(packageBackfillRequests)
    .where(
      or(
        eq(packageBackfillRequests.status, 'queued'),
        and(
          eq(packageBackfillRequests.status, 'running'),
          lt(packageBackfillRequests.heartbeatAt, staleBefore(staleAfterMs)),
        ),
      ),
    )
    .orderBy(packageBackfillRequests.createdAt);
  return rows.map((row) => row.id);
}
