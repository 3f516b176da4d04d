import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.ts';
import { packageBackfillRequests as requests, packageBackfillTransitions as transitions, type BackfillStatus } from '../db/schema/backfill.ts';
import type { BackfillRequest } from './requests.ts';

/**
 * The lifecycle of a backfill request, in one place:
 *
 *   queued → running → completed | failed | cancelled
 *   queued, running → paused → queued (resume)            failed → queued (resume)
 *   queued, running, paused → cancelled                    running → running (a stale holder taken over)
 *   running → queued (a worker shutting down hands it back)
 *
 * Every change is a conditional UPDATE evaluated by Postgres under the row lock, and its
 * transition row is written in the same transaction: two replicas or two operators can never race
 * a request into a state the rules do not allow, and the history is exactly what happened.
 */

export const FINISHED_STATUSES = ['completed', 'failed', 'cancelled'] as const satisfies readonly BackfillStatus[];

/** Whether a status is final for a walk: nothing runs until an operator resumes it (failed) or ever (completed, cancelled). */
export function isFinished(status: string): boolean {
  return (FINISHED_STATUSES as readonly string[]).includes(status);
}

export type DbTransaction = Parameters<Parameters<Database['transaction']>[0]>[0];

type TransitionSpec = {
  /** Statuses the change is allowed from. */
  from: readonly BackfillStatus[];
  to: BackfillStatus;
  /** Who makes the change: `api`, `worker:<host>:<pid>:<id>`, ... */
  actor: string;
  /** Why, for the history; may depend on the row as it was (a takeover names the previous holder). */
  reason?: string | null | ((current: BackfillRequest) => string | null);
  /** Further conditions the row must meet (who holds it, a stale heartbeat), evaluated by Postgres. */
  where?: SQL;
  /** Columns changed along with the status. */
  set?: PgUpdateSetSource<typeof requests>;
  /** Further writes that belong to the change, made in its transaction once it is applied. */
  alongside?: (tx: DbTransaction, request: BackfillRequest) => Promise<void>;
};

type TransitionOutcome =
  | { ok: true; request: BackfillRequest; previous: BackfillRequest }
  /** Not applied: `current` is the row as it is (undefined when there is no such request). */
  | { ok: false; current: BackfillRequest | undefined };

/** Applies one guarded status change and records it; `ok: false` when the row does not qualify. */
export async function transition(db: Database, id: string, spec: TransitionSpec): Promise<TransitionOutcome> {
  return db.transaction(async (tx) => {
    // The lock orders concurrent changes (and chunk commits, which take it too): the guard below
    // always sees the latest committed status.
    const [current] = await tx.select().from(requests).where(eq(requests.id, id)).for('update');
    if (!current) return { ok: false, current: undefined };
    const [updated] = await tx
      .update(requests)
      .set({ ...spec.set, status: spec.to, updatedAt: sql`now()` })
      .where(and(eq(requests.id, id), inArray(requests.status, [...spec.from]), spec.where))
      .returning();
    if (!updated) return { ok: false, current };
    const reason = typeof spec.reason === 'function' ? spec.reason(current) : (spec.reason ?? null);
    await tx.insert(transitions).values({ requestId: id, fromStatus: current.status, toStatus: spec.to, actor: spec.actor, reason });
    await spec.alongside?.(tx, updated);
    return { ok: true, request: updated, previous: current };
  });
}

/** The first transition of a request, written in the transaction that inserts it. */
export async function recordCreation(tx: DbTransaction, request: BackfillRequest, actor: string, reason: string | null): Promise<void> {
  await tx.insert(transitions).values({ requestId: request.id, fromStatus: null, toStatus: request.status, actor, reason });
}

type TransitionRecord = {
  from: BackfillStatus | null;
  to: BackfillStatus;
  actor: string;
  reason: string | null;
  at: Date;
};

/** A request's history, oldest first. */
export async function listTransitions(db: Database, id: string): Promise<TransitionRecord[]> {
  return db
    .select({ from: transitions.fromStatus, to: transitions.toStatus, actor: transitions.actor, reason: transitions.reason, at: transitions.at })
    .from(transitions)
    .where(eq(transitions.requestId, id))
    .orderBy(asc(transitions.id));
}
