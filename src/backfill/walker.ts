import type { Common } from '../common/context.ts';
import type { Metrics, WalkLabels } from '../common/metrics.ts';
import type { Sql } from '../db/client.ts';
import { extractObjectVersions } from '../sui/object-versions.ts';
import { orderedStream } from '../sui/ordered-stream.ts';
import type { CheckpointRecord, MatchMode, ObjectVersionRow } from '../sui/records.ts';
import type { StrainReason } from '../sui/rpc.ts';
import { createFamilyMatcher } from '../sui/types.ts';
import { createAdaptiveChunkSize } from './chunk-size.ts';
import { CheckpointFetchError, WalkStepFailedError } from './errors.ts';
import type { WalkHolder } from './requests.ts';
import { commitChunkWithRetry, pendingRangesWithRetry, type CommitRetry, type WatermarkState } from './watermarks.ts';

/** What the walker needs from the Sui source. */
export type CheckpointSource = {
  getCheckpoint: (
    sequenceNumber: bigint,
    options?: { signal?: AbortSignal; onAttempt?: () => void; onStrain?: (reason: StrainReason, detail: string) => void; exists?: boolean },
  ) => Promise<CheckpointRecord>;
};

type WalkTarget = {
  id: string;
  /** The original package ID: the `package_id` label of the walk's series. */
  packageId: string;
  familyIds: string[];
  match: MatchMode;
  fromCheckpoint: bigint;
  toCheckpoint: bigint;
};

export type ChunkReport = {
  from: bigint;
  to: bigint;
  objectsMatched: number;
  rowsInserted: number;
  rpcCalls: number;
  durationMs: number;
  watermark: WatermarkState;
};

type WalkOptions = {
  holder: WalkHolder;
  chunkSize: number;
  /**
   * The process's cap on RPC calls in flight, read before each fetch so that an operator's change
   * (PUT /v1/config/rpc) reaches a walk in progress.
   */
  maxInFlight: () => number;
  /** Aborting stops the walk at once; the chunk in flight is not committed. */
  signal: AbortSignal;
  /** Checked between chunks: a truthy answer ends the walk after the chunk just committed. */
  shouldStop?: () => boolean | Promise<boolean>;
  /** Retries of a chunk commit, and of the read of the ranges left, while Postgres is unreachable (default DEFAULT_COMMIT_RETRY). */
  commitRetry?: CommitRetry;
  /** See ChunkCommit.idleTimeoutMs. */
  idleTimeoutMs?: number;
  onChunk?: (report: ChunkReport) => Promise<void> | void;
};

export type WalkResult = { outcome: 'done' | 'stopped'; chunks: number };

export function walkLabels(target: Pick<WalkTarget, 'id' | 'packageId'>): WalkLabels {
  return { request_id: target.id, package_id: target.packageId };
}

/**
 * Drops a walk's own series once it ends, however it ends (the worker calls this), so the label
 * sets stay as many as the walks in the process. They live across the tries of one walk.
 */
export function forgetWalkMetrics(metrics: Pick<Metrics, 'walkCheckpointHi' | 'walkCheckpointsRemaining' | 'walkChunkSize'>, target: Pick<WalkTarget, 'id' | 'packageId'>): void {
  const labels = walkLabels(target);
  metrics.walkCheckpointHi.remove(labels);
  metrics.walkCheckpointsRemaining.remove(labels);
  metrics.walkChunkSize.remove(labels);
}

/**
 * Walks what is left of a request's range in chunks of at most `chunkSize` checkpoints. Checkpoints
 * are fetched ahead of the writes, as many at once as the RPC budget lets calls be in flight; a
 * checkpoint too large or too slow for the RPC halves the chunk, and the fetches in flight in
 * proportion, until calm returns. Each checkpoint is reduced to its matching object versions as
 * soon as it arrives, so memory holds rows, not checkpoints. Each chunk commits its rows, ranges,
 * watermark and log row in one transaction.
 */
export async function walkRequest(common: Pick<Common, 'metrics' | 'logger'>, sql: Sql, source: CheckpointSource, target: WalkTarget, options: WalkOptions): Promise<WalkResult> {
  const matches = createFamilyMatcher(target.familyIds, target.match);
  const labels = walkLabels(target);
  const size = createAdaptiveChunkSize({ max: options.chunkSize, logger: common.logger.child({ requestId: target.id }), metrics: common.metrics, walk: labels });
  const chunkSize = () => BigInt(size.current());
  // The budget's cap at the full chunk size, scaled down with the chunk; never more than a chunk.
  const concurrency = () => Math.max(1, Math.min(size.current(), Math.ceil((options.maxInFlight() * size.current()) / options.chunkSize)));
  let chunks = 0;

  const pending = await pendingRangesWithRetry(common.logger, sql, target, { retry: options.commitRetry, signal: options.signal });
  // A chunk's time runs from the end of the previous commit to the end of its own: its checkpoints
  // over its duration are the walk's rate, fetches made ahead of time included.
  let chunkStarted = performance.now();
  for (const [lo, hi] of pending) {
    let chunkFrom = lo;
    let rows: ObjectVersionRow[] = [];
    let rpcCalls = 0;
    const stream = nameFailingChunk(orderedStream({
      from: lo,
      to: hi,
      concurrency,
      // A whole chunk ahead: the next chunk downloads while this one commits.
      window: () => size.current() + concurrency(),
      signal: options.signal,
      fetch: async (sequence, signal) => {
        let attempts = 0;
        const onStrain = (reason: StrainReason, detail: string) => size.strained(reason, sequence, detail);
        // A request's range ends at a tip already observed: a node without the checkpoint is behind.
        const checkpoint = await source.getCheckpoint(sequence, { signal, onAttempt: () => attempts++, onStrain, exists: true }).catch((error: unknown) => {
          throw signal.aborted ? error : new CheckpointFetchError(sequence, Math.max(attempts, 1), error);
        });
        return { rows: extractObjectVersions(checkpoint, matches), attempts: Math.max(attempts, 1) };
      },
    }), () => ({ from: chunkFrom, to: chunkFrom + chunkSize() - 1n < hi ? chunkFrom + chunkSize() - 1n : hi }), options.signal);
    for await (const { sequence, value } of stream) {
      for (const row of value.rows) rows.push(row);
      rpcCalls += value.attempts;
      if (sequence - chunkFrom + 1n < chunkSize() && sequence < hi) continue;

      const { rowsInserted, watermark, durationMs } = await commitChunkWithRetry(
        common.logger,
        sql,
        {
          requestId: target.id,
          requestFrom: target.fromCheckpoint,
          holder: options.holder,
          from: chunkFrom,
          to: sequence,
          rows,
          rpcCalls,
          elapsedMs: () => performance.now() - chunkStarted,
          idleTimeoutMs: options.idleTimeoutMs,
        },
        { retry: options.commitRetry, signal: options.signal },
      );
      // From the moment this chunk's log row was written on: no time goes uncounted.
      chunkStarted += durationMs;
      chunks++;
      size.committed();
      common.metrics.checkpointsProcessed.inc({ pipeline: 'backfill' }, Number(sequence - chunkFrom + 1n));
      common.metrics.objectsMatched.inc({ pipeline: 'backfill' }, rows.length);
      common.metrics.rowsInserted.inc({ pipeline: 'backfill' }, rowsInserted);
      common.metrics.chunkDuration.observe(durationMs / 1000);
      common.metrics.walkCheckpointHi.set(labels, Number(watermark.checkpointHiInclusive));
      common.metrics.walkCheckpointsRemaining.set(labels, Number(target.toCheckpoint - watermark.checkpointHiInclusive));
      await options.onChunk?.({ from: chunkFrom, to: sequence, objectsMatched: rows.length, rowsInserted, rpcCalls, durationMs, watermark });

      chunkFrom = sequence + 1n;
      rows = [];
      rpcCalls = 0;
      if (sequence < target.toCheckpoint && (await options.shouldStop?.())) return { outcome: 'stopped', chunks };
    }
  }
  return { outcome: 'done', chunks };
}

/**
 * A checkpoint the RPC would not serve fails its whole chunk, named by range; so does anything else
 * that breaks while the chunk's checkpoints are turned into rows. An abort is passed on as it is.
 */
async function* nameFailingChunk<T>(stream: AsyncGenerator<T>, chunk: () => { from: bigint; to: bigint }, signal: AbortSignal): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (error) {
    if (signal.aborted || error instanceof WalkStepFailedError) throw error;
    if (error instanceof CheckpointFetchError) throw new WalkStepFailedError({ ...chunk(), stage: 'fetch', attempts: error.attempts }, error.cause);
    throw new WalkStepFailedError({ ...chunk(), stage: 'process', attempts: 1 }, error);
  }
}
