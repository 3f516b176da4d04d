import type { Logger } from '../common/logger.ts';
import type { Metrics, WalkLabels } from '../common/metrics.ts';
import type { StrainReason } from '../sui/rpc.ts';

/**
 * A walk's chunk size, adapted like a batch size: a checkpoint whose response was too large or
 * too slow halves it (down to one checkpoint), so fewer checkpoints are in flight and in each
 * transaction; `growAfter` chunks in a row without such trouble double it again, up to the
 * configured size. Each change is logged with its reason and counted in
 * sui_backfill_chunk_resizes_total; the size is the walk's sui_backfill_walk_chunk_size.
 */
type AdaptiveChunkSize = {
  current(): number;
  /** A checkpoint strained the RPC. Halves at most once per chunk: one burst of trouble is one signal. */
  strained(reason: StrainReason, checkpoint: bigint, detail: string): void;
  /** A chunk committed. */
  committed(): void;
};

type ChunkSizeOptions = {
  max: number;
  growAfter?: number;
  logger: Logger;
  metrics: Pick<Metrics, 'walkChunkSize' | 'chunkResizes'>;
  walk: WalkLabels;
};

export function createAdaptiveChunkSize(options: ChunkSizeOptions): AdaptiveChunkSize {
  const { max, logger, metrics, walk } = options;
  const growAfter = options.growAfter ?? 3;
  let size = max;
  let strainedThisChunk = false;
  let clean = 0;
  const resize = (next: number, direction: 'shrink' | 'grow', reason: StrainReason | 'successes') => {
    size = next;
    metrics.walkChunkSize.set(walk, size);
    metrics.chunkResizes.inc({ pipeline: 'backfill', direction, reason });
  };
  metrics.walkChunkSize.set(walk, size);

  return {
    current: () => size,
    strained(reason, checkpoint, detail) {
      if (strainedThisChunk) return;
      strainedThisChunk = true;
      clean = 0;
      if (size === 1) return;
      const next = Math.max(1, Math.floor(size / 2));
      logger.info({ from: size, to: next, reason, checkpoint, detail }, 'backfill chunk size halved');
      resize(next, 'shrink', reason);
    },
    committed() {
      if (strainedThisChunk) {
        strainedThisChunk = false;
        return;
      }
      if (size >= max || ++clean < growAfter) return;
      const next = Math.min(max, size * 2);
      logger.info({ from: size, to: next, reason: 'successes', chunks: clean }, 'backfill chunk size grown');
      resize(next, 'grow', 'successes');
      clean = 0;
    },
  };
}
