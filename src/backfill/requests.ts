import { and, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { ACTIVE_STATUSES, packageBackfillRequests, type BackfillStatus } from '../db/schema/backfill.ts';
import type { MatchMode } from '../sui/records.ts';

export type BackfillRequest = typeof packageBackfillRequests.$inferSelect;

export type NewBackfillRequest = {
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
};

/** Two requests are "the same" when package, match mode and any explicitly asked range agree. */
export function optionsKey(request: Pick<NewBackfillRequest, 'match' | 'explicitFrom' | 'explicitTo'>): string {
  const parts = [`match=${request.match}`];
  if (request.explicitFrom !== undefined) parts.push(`from=${request.explicitFrom}`);
  if (request.explicitTo !== undefined) parts.push(`to=${request.explicitTo}`);
  return parts.join(';');
}

/**
 * Inserts a queued request unless an active one exists for the same package and options, in which
 * case that one is returned (DESIGN invariant 4; the partial unique index settles races).
 */
export async function createOrFindActiveRequest(
  db: Database,
  input: NewBackfillRequest,
): Promise<{ request: BackfillRequest; created: boolean }> {
  const key = optionsKey(input);
  for (;;) {
    const [created] = await db
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
        ...(input.status === 'completed' ? { finishedAt: sql`now()` } : {}),
      })
      .onConflictDoNothing({
        target: [packageBackfillRequests.packageId, packageBackfillRequests.optionsKey],
        where: sql`status in ('queued', 'running', 'paused')`,
      })
      .returning();
    if (created) return { request: created, created: true };
    const [existing] = await db
      .select()
      .from(packageBackfillRequests)
      .where(
        and(
          eq(packageBackfillRequests.packageId, input.packageId),
          eq(packageBackfillRequests.optionsKey, key),
          inArray(packageBackfillRequests.status, [...ACTIVE_STATUSES]),
        ),
      );
    // The active one finished between the two statements: try the insert again.
    if (existing) return { request: existing, created: false };
  }
}

export async function getRequest(db: Database, id: string): Promise<BackfillRequest | undefined> {
  const [row] = await db.select().from(packageBackfillRequests).where(eq(packageBackfillRequests.id, id));
  return row;
}

/**
 * Takes a request for this worker: a queued one, one this worker already holds, or a running one
 * whose holder stopped beating its heartbeat. The condition is evaluated by Postgres, so two
 * replicas can never both win.
 */
export async function claimRequest(db: Database, id: string, workerId: string, staleAfterMs: number): Promise<BackfillRequest | undefined> {
  const [row] = await db
    .update(packageBackfillRequests)
    .set({
      status: 'running',
      workerId,
      heartbeatAt: sql`now()`,
      attempts: sql`${packageBackfillRequests.attempts} + 1`,
      startedAt: sql`coalesce(${packageBackfillRequests.startedAt}, now())`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(packageBackfillRequests.id, id),
        or(
          eq(packageBackfillRequests.status, 'queued'),
          and(
            eq(packageBackfillRequests.status, 'running'),
            or(
              eq(packageBackfillRequests.workerId, workerId),
              lt(packageBackfillRequests.heartbeatAt, sql`now() - make_interval(secs => ${staleAfterMs / 1000})`),
            ),
          ),
        ),
      ),
    )
    .returning();
  return row;
}

/** Moves a request this worker holds from running to `to`; false when it no longer holds it. */
export async function finishHeldRequest(
  db: Database,
  id: string,
  workerId: string,
  to: Extract<BackfillStatus, 'completed' | 'failed' | 'queued'>,
  error?: string,
): Promise<boolean> {
  const finished = to === 'completed' || to === 'failed';
  const rows = await db
    .update(packageBackfillRequests)
    .set({
      status: to,
      workerId: to === 'queued' ? null : workerId,
      heartbeatAt: to === 'queued' ? null : sql`now()`,
      updatedAt: sql`now()`,
      ...(finished ? { finishedAt: sql`now()` } : {}),
      ...(error === undefined ? {} : { lastError: error, lastErrorAt: sql`now()` }),
    })
    .where(
      and(
        eq(packageBackfillRequests.id, id),
        eq(packageBackfillRequests.status, 'running'),
        eq(packageBackfillRequests.workerId, workerId),
      ),
    )
    .returning({ id: packageBackfillRequests.id });
  return rows.length > 0;
}

/** Heartbeat of a running request; false when this worker no longer holds it. */
export async function beatHeartbeat(db: Database, id: string, workerId: string): Promise<boolean> {
  const rows = await db
    .update(packageBackfillRequests)
    .set({ heartbeatAt: sql`now()` })
    .where(
      and(
        eq(packageBackfillRequests.id, id),
        eq(packageBackfillRequests.status, 'running'),
        eq(packageBackfillRequests.workerId, workerId),
      ),
    )
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
          lt(packageBackfillRequests.heartbeatAt, sql`now() - make_interval(secs => ${staleAfterMs / 1000})`),
        ),
      ),
    )
    .orderBy(packageBackfillRequests.createdAt);
  return rows.map((row) => row.id);
}
