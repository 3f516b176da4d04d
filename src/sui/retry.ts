import { SuiBackfillError } from '../common/errors.ts';
import { RateLimitedError } from './errors.ts';

export type RetryOptions = {
  /** Retries after the first attempt; 0 means one attempt. */
  maxRetries: number;
  /**
   * Retries of rate-limit replies, counted apart from `maxRetries` (default the same): a provider
   * pacing us is not a failing node, and the budget slows down on each reply.
   */
  maxThrottledRetries?: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: SuiBackfillError }) => void;
};

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter; a provider's retry-after hint is a floor, not a suggestion. */
export function retryDelayMs(error: SuiBackfillError, retry: number, baseMs: number, maxMs: number): number {
  const jittered = Math.random() * Math.min(maxMs, baseMs * 2 ** retry);
  const hinted = error instanceof RateLimitedError ? (error.retryAfterMs ?? 0) : 0;
  return Math.max(hinted, jittered);
}

/**
 * Runs `fn` until it succeeds, retrying retryable `SuiBackfillError`s up to `maxRetries` times
 * (rate-limit replies up to `maxThrottledRetries` times), with exponential backoff per kind.
 * Anything else, or the last error once the retries are spent, is thrown as is. An aborted signal
 * stops at once with the signal's reason.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { maxRetries, maxThrottledRetries = maxRetries, baseMs = 100, maxMs = 10_000, signal, onRetry } = options;
  let failures = 0;
  let throttles = 0;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!(error instanceof SuiBackfillError) || !error.retryable) throw error;
      const throttled = error instanceof RateLimitedError;
      const retry = throttled ? throttles++ : failures++;
      if (retry >= (throttled ? maxThrottledRetries : maxRetries)) throw error;
      const delayMs = retryDelayMs(error, retry, baseMs, maxMs);
      onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
