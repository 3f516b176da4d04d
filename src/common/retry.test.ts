import { afterEach, describe, expect, it, vi } from 'vitest';
import { SuiBackfillError } from './errors.ts';
import { backoffMs, withRetry } from './retry.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

const transient = (code: string) => new SuiBackfillError(code, `${code} for now`, { retryable: true });

describe('withRetry', () => {
  it('retries retryable errors and returns the first success', async () => {
    const failures = [transient('down'), transient('garbled')];
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
    expect(retries).toEqual(['1:down', '2:garbled']);
  });

  it('rethrows the error once the retries are spent', async () => {
    let calls = 0;
    const error = transient('still_down');
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

  it('does not retry what retrying cannot fix, nor what the project did not raise', async () => {
    for (const error of [new SuiBackfillError('x', 'fatal', { retryable: false }), new TypeError('a bug')]) {
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

  it('counts paced errors apart from failures, each against its own bound, waiting at least the pace asked', async () => {
    const paced = transient('paced');
    const pacing = (error: SuiBackfillError) => (error === paced ? { minDelayMs: 40 } : undefined);
    const errors = [paced, transient('down'), paced, paced, transient('down')];
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        const error = errors[calls++];
        if (error) throw error;
        return 'done';
      },
      { maxRetries: 2, maxPacedRetries: 3, baseMs: 1, maxMs: 2, pacing, onRetry: ({ error, delayMs }) => error === paced && delays.push(delayMs) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(6);
    expect(delays).toEqual([40, 40, 40]);

    let attempts = 0;
    await expect(
      withRetry(
        async () => {
          attempts++;
          throw paced;
        },
        { maxRetries: 10, maxPacedRetries: 2, baseMs: 1, maxMs: 2, pacing },
      ),
    ).rejects.toBe(paced);
    expect(attempts).toBe(3);
  });

  it('stops waiting as soon as the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    const t0 = performance.now();
    const running = withRetry(
      async () => {
        throw transient('down');
      },
      { maxRetries: 10, baseMs: 10_000, maxMs: 10_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('shutdown')), 20);
    await expect(running).rejects.toThrow('shutdown');
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});

describe('backoffMs', () => {
  it('draws from [0, min(maxMs, baseMs * 2^retry)) — full jitter', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(backoffMs(0, 100, 10_000)).toBeCloseTo(100, 0);
    expect(backoffMs(3, 100, 10_000)).toBeCloseTo(800, 0);
    expect(backoffMs(20, 100, 10_000)).toBeCloseTo(10_000, 0);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(backoffMs(5, 100, 10_000)).toBe(0);
  });
});
