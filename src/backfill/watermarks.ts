import type postgres from 'postgres';
import { ServiceUnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { withTimeout } from '../common/timeout.ts';
import { DEFAULT_POSTGRES_RETRY, withPostgresRetry, type PostgresRetry, type Sql } from '../db/client.ts';
import { insertObjectVersions } from '../db/objects.ts';
import type { ObjectVersionRow } from '../sui/records.ts';
import { recordCoverage } from './coverage.ts';
import { LostOwnershipError, WalkStepFailedError } from './errors.ts';
import type { WalkHolder } from './requests.ts';

export type WatermarkState = {
  checkpointHiInclusive: bigint;
  doneRanges: string;
  rowsInserted: bigint;
  objectsMatched: bigint;
  checkpointsDone: bigint;
};

/** The watermark starts just below the request's first checkpoint (nothing done yet). */
export async function ensureWatermark(sql: Sql, requestId: string, fromCheckpoint: bigint): Promise<void> {
  await sql`
    insert into package_backfill_watermarks (request_id, checkpoint_hi_inclusive)
    values (${requestId}, ${(fromCheckpoint - 1n).toString()})
    on conflict do nothing`;
}

/** The ranges of [from, to] not done yet, in order: what a walk still has to cover. */
export async function pendingRanges(sql: Sql, requestId: string, from: bigint, to: bigint): Promise<[bigint, bigint][]> {
  const rows = await sql<{ lo: string; hi: string }[]>`
    select lower(r) as lo, upper(r) - 1 as hi
    from package_backfill_watermarks w,
         unnest(int8multirange(int8range(${from.toString()}, ${to.toString()}, '[]')) - w.done_ranges) r
    where w.request_id = ${requestId}
    order by lower(r)`;
  return rows.map((row) => [BigInt(row.lo), BigInt(row.hi)]);
}

type ChunkCommit = {
  requestId: string;
  requestFrom: bigint;
  /** The walk committing: the request must still be held by it. */
  holder: WalkHolder;
  from: bigint;
  to: bigint;
  rows: readonly ObjectVersionRow[];
  rpcCalls: number;
  /**
   * The chunk's duration so far, read as its log row is written, at the end of its transaction:
   * the walker measures from the end of the previous chunk's commit, so the durations of a walk's
   * chunks add up to the walk's time, fetching and committing alike.
   */
  elapsedMs: () => number;
  /**
   * Postgres ends the transaction if this worker goes quiet inside it for this long (a frozen
   * process), so the row lock it holds never blocks a takeover for longer.
   */
  idleTimeoutMs?: number;
};

type CommittedChunk = { rowsInserted: number; watermark: WatermarkState; durationMs: number };

async function readWatermark(tx: postgres.TransactionSql, requestId: string): Promise<WatermarkState> {
  const [row] = await tx<{ hi: string; ranges: string; rows: string; matched: string; done: string }[]>`
    select checkpoint_hi_inclusive as hi, done_ranges::text as ranges, rows_inserted as rows, objects_matched as matched, checkpoints_done as done
    from package_backfill_watermarks where request_id = ${requestId}`;
  return toWatermarkState(row);
}

function toWatermarkState(row: { hi: string; ranges: string; rows: string; matched: string; done: string }): WatermarkState {
  return {
    checkpointHiInclusive: BigInt(row.hi),
    doneRanges: row.ranges,
    rowsInserted: BigInt(row.rows),
    objectsMatched: BigInt(row.matched),
    checkpointsDone: BigInt(row.done),
  };
}

/**
 * The transaction with each statement handed to `onStatement` as it starts, and none started once
 * `signal` aborted: the caller can cancel the one in flight.
 */
function watched(tx: postgres.TransactionSql, signal: AbortSignal, onStatement: (query: { cancel?: () => unknown }) => void): postgres.TransactionSql {
  return new Proxy(tx, {
    apply(target, thisArg, args) {
      signal.throwIfAborted();
      const query = Reflect.apply(target, thisArg, args);
      onStatement(query);
      return query;
    },
  });
}

/**
 * Commits one chunk in one transaction (invariant 1, README "Data and invariants"): the request is checked to still be
 * held by this walk (and locked, so a takeover waits), the rows are inserted, the done ranges and
 * contiguous watermark advance, and the chunk is logged; a range found done already is left as it
 * is. A crash before COMMIT leaves no trace.
 * An abort before COMMIT ends the attempt at once, even while Postgres does not answer: the
 * statement in flight is cancelled on the server (one waiting for a lock, say), none follows, and
 * the transaction rolls back, releasing its locks.
 */
export async function commitChunk(sql: Sql, chunk: ChunkCommit, signal: AbortSignal = new AbortController().signal): Promise<CommittedChunk> {
  signal.throwIfAborted();
  let inFlight: { cancel?: () => unknown } | undefined;
  let committing = false;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      inFlight?.cancel?.();
      if (!committing) reject(signal.reason);
    };
  });
  signal.addEventListener('abort', onAbort, { once: true });
  const transaction = sql.begin(async (raw) => {
    const tx = watched(raw, signal, (query) => (inFlight = query));
    if (chunk.idleTimeoutMs !== undefined) await tx`select set_config('idle_in_transaction_session_timeout', ${String(Math.round(chunk.idleTimeoutMs))}, true)`;
    const held = await tx`
      select 1 from package_backfill_requests
      where id = ${chunk.requestId} and status = 'running' and worker_id = ${chunk.holder.workerId} and attempts = ${chunk.holder.attempts}
      for update`;
    if (held.length === 0) throw new LostOwnershipError(chunk.requestId);
    // Another attempt of this walk may have committed the range first (one whose connection dropped
    // after its COMMIT, or one given up on that got the lock later): not counted or logged twice.
    const [done] = await tx<{ done: boolean }[]>`
      select done_ranges @> int8range(${chunk.from.toString()}, ${chunk.to.toString()}, '[]') as done
      from package_backfill_watermarks where request_id = ${chunk.requestId}`;
    if (done?.done) return { rowsInserted: 0, watermark: await readWatermark(tx, chunk.requestId), durationMs: Math.round(chunk.elapsedMs()) };

    const rowsInserted = await insertObjectVersions(tx, chunk.rows);
    const [watermark] = await tx<{ hi: string; ranges: string; rows: string; matched: string; done: string }[]>`
      with next as (
        select done_ranges + int8multirange(int8range(${chunk.from.toString()}, ${chunk.to.toString()}, '[]')) as ranges
        from package_backfill_watermarks where request_id = ${chunk.requestId}
      )
      update package_backfill_watermarks w set
        done_ranges = next.ranges,
        checkpoint_hi_inclusive = greatest(
          w.checkpoint_hi_inclusive,
          coalesce((select upper(r) - 1 from unnest(next.ranges) r where r @> ${chunk.requestFrom.toString()}::int8), w.checkpoint_hi_inclusive)
        ),
        rows_inserted = w.rows_inserted + ${rowsInserted},
        objects_matched = w.objects_matched + ${chunk.rows.length},
        checkpoints_done = w.checkpoints_done + ${(chunk.to - chunk.from + 1n).toString()},
        updated_at = now()
      from next
      where w.request_id = ${chunk.requestId}
      returning w.checkpoint_hi_inclusive as hi, w.done_ranges::text as ranges, w.rows_inserted as rows,
                w.objects_matched as matched, w.checkpoints_done as done`;
    await recordCoverage(tx, chunk.requestId, chunk.from, chunk.to);
    const durationMs = Math.round(chunk.elapsedMs());
    // clock_timestamp(), not now(): the moment the chunk ends, not the moment its transaction began.
    await tx`
      insert into package_backfill_chunks
        (request_id, from_checkpoint, to_checkpoint, objects_matched, rows_inserted, rpc_calls, duration_ms, worker_id, finished_at)
      values (${chunk.requestId}, ${chunk.from.toString()}, ${chunk.to.toString()}, ${chunk.rows.length}, ${rowsInserted},
              ${chunk.rpcCalls}, ${durationMs}, ${chunk.holder.workerId}, clock_timestamp())`;
    await tx`update package_backfill_requests set heartbeat_at = clock_timestamp(), updated_at = now() where id = ${chunk.requestId}`;
    signal.throwIfAborted();
    committing = true;
    return { rowsInserted, watermark: toWatermarkState(watermark), durationMs };
  });
  // Settled either way: an abort may stop the wait for it first.
  transaction.catch(() => {});
  try {
    return await Promise.race([transaction, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export type CommitRetry = PostgresRetry & {
  /** An attempt that has not answered by then counts as Postgres unavailable (a connection lost mid-write can leave it pending forever). */
  attemptTimeoutMs: number;
};

const DEFAULT_COMMIT_RETRY: CommitRetry = { ...DEFAULT_POSTGRES_RETRY, attemptTimeoutMs: 60_000 };

/**
 * `commitChunk`, retried with backoff while Postgres is unreachable or aborts the transaction in a
 * conflict (deadlock, serialization failure), each retry logged. An attempt given up on is aborted
 * (its statement cancelled, its transaction rolled back), so it never commits after the next one;
 * one past its COMMIT may still land, and the next attempt, waiting for its row lock, then finds
 * the range done. A retry checks ownership again. What still fails is a `WalkStepFailedError`
 * naming the range and attempts.
 */
export function commitChunkWithRetry(logger: Logger, sql: Sql, chunk: ChunkCommit, options: { retry?: CommitRetry; signal?: AbortSignal } = {}): Promise<CommittedChunk> {
  const step = { what: 'chunk commit', from: chunk.from, to: chunk.to, stage: 'commit', context: { requestId: chunk.requestId, from: chunk.from, to: chunk.to } } as const;
  return retriedStep(logger, step, (signal) => commitChunk(sql, chunk, signal), options);
}

/**
 * `pendingRanges` of a request, retried as a chunk commit is. What still fails is a
 * `WalkStepFailedError` over the request's range, which the worker's retries of a failing chunk
 * take up: a walk on from the watermark after a chunk's retry begins here too, often with Postgres
 * still down.
 */
export function pendingRangesWithRetry(
  logger: Logger,
  sql: Sql,
  request: { id: string; fromCheckpoint: bigint; toCheckpoint: bigint },
  options: { retry?: CommitRetry; signal?: AbortSignal } = {},
): Promise<[bigint, bigint][]> {
  const step = { what: 'reading the ranges left to walk', from: request.fromCheckpoint, to: request.toCheckpoint, stage: 'ranges', context: { requestId: request.id } } as const;
  return retriedStep(logger, step, () => pendingRanges(sql, request.id, request.fromCheckpoint, request.toCheckpoint), options);
}

/**
 * A walk's step of database work, retried as `retry` says; an attempt that has not answered within
 * its timeout is aborted (the signal `work` gets) and counts as Postgres unavailable.
 */
async function retriedStep<T>(
  logger: Logger,
  step: { what: string; from: bigint; to: bigint; stage: 'commit' | 'ranges'; context: Record<string, unknown> },
  work: (signal: AbortSignal) => Promise<T>,
  options: { retry?: CommitRetry; signal?: AbortSignal },
): Promise<T> {
  const retry = options.retry ?? DEFAULT_COMMIT_RETRY;
  let attempts = 0;
  try {
    return await withPostgresRetry(
      async (attempt) => {
        attempts = attempt + 1;
        const givenUp = new AbortController();
        try {
          return await withTimeout(
            work(options.signal ? AbortSignal.any([options.signal, givenUp.signal]) : givenUp.signal),
            retry.attemptTimeoutMs,
            () => new ServiceUnavailableError('postgres', `${step.what} did not answer within ${retry.attemptTimeoutMs} ms`),
          );
        } finally {
          // A no-op once the attempt settled; else it ends the attempt.
          givenUp.abort();
        }
      },
      { logger, what: step.what, retry, signal: options.signal, context: step.context },
    );
  } catch (error) {
    if (error instanceof LostOwnershipError || options.signal?.aborted) throw error;
    throw new WalkStepFailedError({ from: step.from, to: step.to, stage: step.stage, attempts }, error);
  }
}
