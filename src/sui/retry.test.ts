import { describe, expect, it } from 'vitest';
import { InvalidRequestError, MalformedResponseError, RateLimitedError, ResponseTooLargeError, UnavailableError } from './errors.ts';
import { withRpcRetry } from './retry.ts';

/** How many attempts withRpcRetry makes at a call that always fails with `error`. */
async function attemptsAt(error: Error, options: { maxRetries: number; maxThrottledRetries?: number }): Promise<number> {
  let attempts = 0;
  await expect(
    withRpcRetry(
      async () => {
        attempts++;
        throw error;
      },
      { ...options, baseMs: 1, maxMs: 2 },
    ),
  ).rejects.toBe(error);
  return attempts;
}

describe('withRpcRetry', () => {
  it.each([
    ['an unavailable node', new UnavailableError('down', 'unavailable'), 3],
    ['a garbled answer', new MalformedResponseError('truncated'), 3],
    ['an invalid request', new InvalidRequestError('bad id'), 1],
    ['an answer over the size limit', new ResponseTooLargeError('ask for less'), 1],
  ])('retries %s as retrying can fix it: %i attempts with 2 retries', async (_, error, attempts) => {
    expect(await attemptsAt(error, { maxRetries: 2 })).toBe(attempts);
  });

  it('counts rate-limit replies against maxThrottledRetries, or maxRetries without it', async () => {
    const limited = new RateLimitedError('slow down', 0);
    expect(await attemptsAt(limited, { maxRetries: 10, maxThrottledRetries: 2 })).toBe(3);
    expect(await attemptsAt(limited, { maxRetries: 1 })).toBe(2);
  });

  it("waits at least the provider's retry-after", async () => {
    let calls = 0;
    const delays: number[] = [];
    const t0 = performance.now();
    await withRpcRetry(
      async () => {
        if (calls++ === 0) throw new RateLimitedError('slow down', 150);
        return 'ok';
      },
      { maxRetries: 2, baseMs: 1, maxMs: 2, onRetry: ({ delayMs }) => delays.push(delayMs) },
    );
    expect(delays).toEqual([150]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
  });
});
