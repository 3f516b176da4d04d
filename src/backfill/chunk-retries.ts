import { WalkStepFailedError } from './errors.ts';

/** The longest wait between two tries of a failing chunk, unless the first wait is longer. */
const CHUNK_RETRY_MAX_MS = 30_000;

type ChunkRetryDecision =
  | { retry: true; delayMs: number; retries: number; error: WalkStepFailedError }
  /** `error` is what the request fails with, counting the attempts of every try since the last chunk committed. */
  | { retry: false; error: unknown };

/**
 * A walk's retries of a step whose RPC calls or database work still failed transiently after their
 * own retries (a node restarting, a Postgres failover), be it a chunk or the read of the ranges
 * left that begins each walk: `retries` more tries from the watermark, the waits doubling from
 * `baseMs` up to CHUNK_RETRY_MAX_MS, before the request fails. A chunk committed in between starts
 * the count again: only a walk that makes no progress runs out.
 */
type ChunkRetries = {
  /** What to do after the walk ended in `error`. */
  failed(error: unknown): ChunkRetryDecision;
  /** A chunk committed. */
  committed(): void;
};

export function createChunkRetries(options: { retries: number; baseMs: number }): ChunkRetries {
  let retries = 0;
  let attempts = 0;
  return {
    failed(error) {
      if (!(error instanceof WalkStepFailedError)) return { retry: false, error };
      attempts += error.attempts;
      const total = attempts === error.attempts ? error : new WalkStepFailedError({ from: error.from, to: error.to, stage: error.stage, attempts }, error.cause);
      if (!error.retryable || retries >= options.retries) return { retry: false, error: total };
      const delayMs = Math.min(options.baseMs * 2 ** retries, Math.max(CHUNK_RETRY_MAX_MS, options.baseMs));
      retries++;
      return { retry: true, delayMs, retries, error: total };
    },
    committed() {
      retries = 0;
      attempts = 0;
    },
  };
}
