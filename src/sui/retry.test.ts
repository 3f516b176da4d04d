import { afterEach, describe, expect, it, vi } from 'vitest';
import { SuiBackfillError } from '../common/errors.ts';
import { InvalidRequestError, MalformedResponseError, RateLimitedError, ResponseTooLargeError, UnavailableError } from './errors.ts';
import { retryDelayMs, withRetry } from './retry.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withRetry', () => {
  it('retries retryable errors and returns the first success', async () => {
    const failures = [new UnavailableError('down', 'unavailable'), new MalformedResponseError('truncated')];
    const attempts: number[] = [];
    const retries: string[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        const failure = failures.shift();
        if (failure) throw failure;
        return 'checkpoint';
      },
      { maxRetries: 5, baseMs: 1, maxMs: 5, onRetry: ({ attempt, error }) => retries.push(`${attempt}:${error.code}`) },
    );
    expect(result).toBe('checkpoint');
    expect(attempts).toEqual([0, 1, 2]);
    expect(retries).toEqual(['1:rpc_unavailable', '2:malformed_response']);
  });

  it('rethrows the typed error once the retries are spent', async () => {
    let calls = 0;
    const error = new UnavailableError('still down', 'unavailable');
    await expect(
      withRetry(
        async () => {
          calls++;
          throw error;
        },
        { maxRetries: 3, baseMs: 1, maxMs: 2 },
      ),
    ).rejects.toBe(error);
    expect(calls).toBe(4);
  });

  it('does not retry what retrying cannot fix', async () => {
    for (const error of [new InvalidRequestError('bad id'), new ResponseTooLargeError('ask for less'), new TypeError('a bug'), new SuiBackfillError('x', 'fatal', { retryable: false })]) {
      let calls = 0;
      await expect(
        withRetry(
          async () => {
            calls++;
            throw error;
          },
          { maxRetries: 5, baseMs: 1 },
        ),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });

  it("waits at least the provider's retry-after", async () => {
    let calls = 0;
    const delays: number[] = [];
    const t0 = performance.now();
    await withRetry(
      async () => {
        if (calls++ === 0) throw new RateLimitedError('slow down', 150);
        return 'ok';
      },
      { maxRetries: 2, baseMs: 1, maxMs: 2, onRetry: ({ delayMs }) => delays.push(delayMs) },
    );
    expect(delays).toEqual([150]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
  });

  it('stops waiting as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const t0 = performance.now();
    const running = withRetry(
      async () => {
        throw new UnavailableError('down', 'unavailable');
      },
      { maxRetries: 10, baseMs: 10_000, maxMs: 10_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('shutdown')), 20);
    await expect(running).rejects.toThrow('shutdown');
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});

describe('withRetry bounds', () => {
  it('counts rate-limit replies apart from failures, each against its own bound', async () => {
    const errors = [
      new RateLimitedError('slow down', 0),
      new UnavailableError('down', 'unavailable'),
      new RateLimitedError('slow down', 0),
      new RateLimitedError('slow down', 0),
      new UnavailableError('down', 'unavailable'),
    ];
    let calls = 0;
    const result = await withRetry(
      async () => {
        const error = errors[calls++];
        if (error) throw error;
        return 'done';
      },
      { maxRetries: 2, maxThrottledRetries: 3, baseMs: 1, maxMs: 2 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(6);

    let throttled = 0;
    const limited = new RateLimitedError('slow down', 0);
    await expect(
      withRetry(
        async () => {
          throttled++;
          throw limited;
        },
        { maxRetries: 10, maxThrottledRetries: 2, baseMs: 1, maxMs: 2 },
      ),
    ).rejects.toBe(limited);
    expect(throttled).toBe(3);
  });

});

describe('retryDelayMs', () => {
  it('draws from [0, min(maxMs, baseMs * 2^retry)) — full jitter', () => {
    const error = new UnavailableError('down', 'unavailable');
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(retryDelayMs(error, 0, 100, 10_000)).toBeCloseTo(100, 0);
    expect(retryDelayMs(error, 3, 100, 10_000)).toBeCloseTo(800, 0);
    expect(retryDelayMs(error, 20, 100, 10_000)).toBeCloseTo(10_000, 0);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(retryDelayMs(error, 5, 100, 10_000)).toBe(0);
    expect(retryDelayMs(new RateLimitedError('slow', 2_000), 0, 100, 10_000)).toBe(2_000);
  });
});
