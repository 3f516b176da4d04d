import type { Common } from '../common/context.ts';
import type { Sql } from '../db/client.ts';
import { extractObjectVersions } from '../sui/object-versions.ts';
import { orderedStream } from '../sui/ordered-stream.ts';
import type { CheckpointRecord, MatchMode, ObjectVersionRow } from '../sui/records.ts';
import { createFamilyMatcher } from '../sui/types.ts';
import { commitChunk, pendingRanges, type WatermarkState } from './watermarks.ts';

/** What the walker needs from the Sui source. */
export type CheckpointSource = {
  getCheckpoint: (sequenceNumber: bigint, options?: { signal?: AbortSignal; onAttempt?: () => void }) => Promise<CheckpointRecord>;
};

export type WalkTarget = {
  id: string;
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

export type WalkOptions = {
  workerId: string;
  chunkSize: number;
  concurrency: number;
  /** Aborting stops the walk at once; the chunk in flight is not committed. */
  signal: AbortSignal;
  /** Checked between chunks: a truthy answer ends the walk after the chunk just committed. */
  shouldStop?: () => boolean;
  onChunk?: (report: ChunkReport) => Promise<void> | void;
};

export type WalkResult = { outcome: 'done' | 'stopped'; chunks: number };

/**
 * Walks what is left of a request's range in fixed-size chunks. Checkpoints are fetched with
 * bounded concurrency ahead of the writes; each checkpoint is reduced to its matching object
 * versions as soon as it arrives, so memory holds rows, not checkpoints. Each chunk commits its
 * rows, ranges, watermark and log row in one transaction.
 */
export async function walkRequest(common: Pick<Common, 'metrics' | 'logger'>, sql: Sql, source: CheckpointSource, target: WalkTarget, options: WalkOptions): Promise<WalkResult> {
  const matches = createFamilyMatcher(target.familyIds, target.match);
  const chunkSize = BigInt(options.chunkSize);
  let chunks = 0;

  for (const [lo, hi] of await pendingRanges(sql, target.id, target.fromCheckpoint, target.toCheckpoint)) {
    let chunkFrom = lo;
    let rows: ObjectVersionRow[] = [];
    let rpcCalls = 0;
    let chunkStarted = performance.now();
    const stream = orderedStream({
      from: lo,
      to: hi,
      concurrency: options.concurrency,
      // A whole chunk ahead: the next chunk downloads while this one commits.
      window: options.chunkSize + options.concurrency,
      signal: options.signal,
      fetch: async (sequence, signal) => {
        let attempts = 0;
        const checkpoint = await source.getCheckpoint(sequence, { signal, onAttempt: () => attempts++ });
        return { rows: extractObjectVersions(checkpoint, matches), attempts: Math.max(attempts, 1) };
      },
    });
    for await (const { sequence, value } of stream) {
      for (const row of value.rows) rows.push(row);
      rpcCalls += value.attempts;
      if (sequence - chunkFrom + 1n < chunkSize && sequence < hi) continue;

      const durationMs = performance.now() - chunkStarted;
      const { rowsInserted, watermark } = await commitChunk(sql, {
        requestId: target.id,
        requestFrom: target.fromCheckpoint,
        workerId: options.workerId,
        from: chunkFrom,
        to: sequence,
        rows,
        rpcCalls,
        durationMs,
      });
      chunks++;
      common.metrics.checkpointsProcessed.inc({ pipeline: 'backfill' }, Number(sequence - chunkFrom + 1n));
      common.metrics.objectsMatched.inc({ pipeline: 'backfill' }, rows.length);
      common.metrics.rowsInserted.inc({ pipeline: 'backfill' }, rowsInserted);
      common.metrics.chunkDuration.observe(durationMs / 1000);
      await options.onChunk?.({ from: chunkFrom, to: sequence, objectsMatched: rows.length, rowsInserted, rpcCalls, durationMs, watermark });

      chunkFrom = sequence + 1n;
      rows = [];
      rpcCalls = 0;
      chunkStarted = performance.now();
      if (sequence < target.toCheckpoint && options.shouldStop?.()) return { outcome: 'stopped', chunks };
    }
  }
  return { outcome: 'done', chunks };
}
