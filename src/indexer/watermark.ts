import type postgres from 'postgres';
import type { Sql } from '../db/client.ts';

/** The framework watermark pipeline the live indexer advances. */
const OBJECTS_PIPELINE = 'sui_objects';

export type FrameworkWatermark = {
  epochHiInclusive: bigint;
  checkpointHiInclusive: bigint;
  txHi: bigint;
  timestampMsHiInclusive: bigint;
};

export async function readWatermark(sql: Sql, pipeline = OBJECTS_PIPELINE): Promise<FrameworkWatermark | undefined> {
  const [row] = await sql`
    select epoch_hi_inclusive, checkpoint_hi_inclusive, tx_hi, timestamp_ms_hi_inclusive from watermarks where pipeline = ${pipeline}`;
  if (!row) return undefined;
  return {
    epochHiInclusive: BigInt(row.epoch_hi_inclusive),
    checkpointHiInclusive: BigInt(row.checkpoint_hi_inclusive),
    txHi: BigInt(row.tx_hi),
    timestampMsHiInclusive: BigInt(row.timestamp_ms_hi_inclusive),
  };
}

/**
 * Advances the watermark in the caller's transaction, only forward (a stale writer changes
 * nothing). `readerLo` (the lowest checkpoint the pipeline holds) is set when the row is created;
 * nothing is pruned, so `pruner_hi` stays there too.
 */
export async function advanceWatermark(tx: postgres.TransactionSql, watermark: FrameworkWatermark, readerLo: bigint, pipeline = OBJECTS_PIPELINE): Promise<boolean> {
  const result = await tx`
    insert into watermarks (pipeline, epoch_hi_inclusive, checkpoint_hi_inclusive, tx_hi, timestamp_ms_hi_inclusive,
                            reader_lo, pruner_timestamp, pruner_hi)
    values (${pipeline}, ${watermark.epochHiInclusive.toString()}, ${watermark.checkpointHiInclusive.toString()},
            ${watermark.txHi.toString()}, ${watermark.timestampMsHiInclusive.toString()},
            ${readerLo.toString()}, now(), ${readerLo.toString()})
    on conflict (pipeline) do update set
      epoch_hi_inclusive = excluded.epoch_hi_inclusive,
      checkpoint_hi_inclusive = excluded.checkpoint_hi_inclusive,
      tx_hi = excluded.tx_hi,
      timestamp_ms_hi_inclusive = excluded.timestamp_ms_hi_inclusive
    where watermarks.checkpoint_hi_inclusive < excluded.checkpoint_hi_inclusive`;
  return result.count === 1;
}
