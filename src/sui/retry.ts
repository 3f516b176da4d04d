import { withRetry, type RetryOptions } from '../common/retry.ts';
import type { SuiBackfillError } from '../common/errors.ts';
import { RateLimitedError } from './errors.ts';

type RpcRetryOptions = Omit<RetryOptions, 'pacing' | 'maxPacedRetries'> & {
  /**
   * Retries of rate-limit replies, counted apart from `maxRetries` (default the same): a provider
   * pacing us is not a failing node, and the budget slows down on each reply.
   */
  maxThrottledRetries?: number;
};

/** A rate-limit reply waits at least the provider's retry-after. */
const pacing = (error: SuiBackfillError) => (error instanceof RateLimitedError ? { minDelayMs: error.retryAfterMs ?? 0 } : undefined);

/** `withRetry` for RPC calls: rate-limit replies are paced, against a bound of their own. */
export function withRpcRetry<T>(fn: (attempt: number) => Promise<T>, options: RpcRetryOptions): Promise<T> {
  const { maxThrottledRetries, ...rest } = options;
  return withRetry(fn, { ...rest, maxPacedRetries: maxThrottledRetries, pacing });
}
