import { setTimeout as sleep } from 'node:timers/promises';
import { SuiBackfillError } from './errors.ts';

export type RetryOptions = {
  /** Retries after the first attempt; 0 means one attempt. */
  maxRetries: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; error: SuiBackfillError }) => void;
  /**
   * Says whether an error asks to be paced (a rate-limit reply) and how long it asks to wait at
   * least. Paced errors are counted apart, up to `maxPacedRetries` (default `maxRetries`): whoever
   * paces us is not failing.
   */
  pacing?: (error: SuiBackfillError) => { minDelayMs: number } | undefined;
  maxPacedRetries?: number;
};

/** Exponential backoff with full jitter: a draw from [0, min(maxMs, baseMs * 2^retry)). */
export function backoffMs(retry: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** retry);
}

/**
 * Runs `fn` until it succeeds, retrying retryable `SuiBackfillError`s up to `maxRetries` times
 * (paced ones up to `maxPacedRetries` times), with exponential backoff per kind; a pace asked for
 * is a floor under the delay, not a suggestion. Anything else, or the last error once the retries
 * are spent, is thrown as is. An aborted signal stops at once with the signal's reason.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { maxRetries, maxPacedRetries = maxRetries, baseMs = 100, maxMs = 10_000, signal, onRetry, pacing } = options;
  let failures = 0;
  let paces = 0;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!(error instanceof SuiBackfillError) || !error.retryable) throw error;
      const pace = pacing?.(error);
      const retry = pace ? paces++ : failures++;
      if (retry >= (pace ? maxPacedRetries : maxRetries)) throw error;
      const delayMs = Math.max(pace?.minDelayMs ?? 0, backoffMs(retry, baseMs, maxMs));
      onRetry?.({ attempt: attempt + 1, delayMs, error });
      // An abort ends the wait; the loop then throws the signal's reason.
      await sleep(delayMs, undefined, { signal }).catch(() => {});
    }
  }
}
