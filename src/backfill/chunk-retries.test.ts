import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../common/errors.ts';
import { BelowLowestAvailableError, RateLimitedError, UnavailableError } from '../sui/errors.ts';
import { createChunkRetries } from './chunk-retries.ts';
import { CheckpointFetchError, WalkStepFailedError } from './errors.ts';

const fetchFailure = (from: bigint, attempts: number, cause: unknown = new UnavailableError('UNAVAILABLE: node restarting', 'unavailable')) =>
  new WalkStepFailedError({ from, to: from + 9n, stage: 'fetch', attempts }, cause);

describe('WalkStepFailedError and CheckpointFetchError', () => {
  it('are retryable exactly when their cause is', () => {
    const postgresDown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const retryable = [new UnavailableError('UNAVAILABLE', 'unavailable'), new RateLimitedError('429'), new ServiceUnavailableError('postgres', 'no answer'), postgresDown, deadlock];
    const permanent = [new BelowLowestAvailableError(5n, 10n, 'http://node'), new Error('a bug'), Object.assign(new Error('bad value'), { code: '22023' })];
    expect(retryable.map((cause) => [fetchFailure(0n, 1, cause).retryable, new CheckpointFetchError(3n, 1, cause).retryable])).toEqual(retryable.map(() => [true, true]));
    expect(permanent.map((cause) => [fetchFailure(0n, 1, cause).retryable, new CheckpointFetchError(3n, 1, cause).retryable])).toEqual(permanent.map(() => [false, false]));
  });
});

describe('createChunkRetries', () => {
  it('retries a transient chunk failure with doubling waits up to 30 s, then fails it with the attempts of every try', () => {
    const retries = createChunkRetries({ retries: 6, baseMs: 2_000 });
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const decision = retries.failed(fetchFailure(100n, 4));
      expect(decision).toMatchObject({ retry: true, retries: i + 1 });
      if (decision.retry) waits.push(decision.delayMs);
    }
    expect(waits).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    const last = retries.failed(fetchFailure(100n, 4));
    expect(last.retry).toBe(false);
    expect(last.error).toBeInstanceOf(WalkStepFailedError);
    const error = last.error as WalkStepFailedError;
    expect([error.from, error.to, error.stage, error.attempts]).toEqual([100n, 109n, 'fetch', 28]);
    expect(error.message).toBe('chunk [100, 109] failed (fetch, 28 attempt(s)): UNAVAILABLE: node restarting');
    expect(error.detail()).toEqual({ stage: 'fetch', chunk: { fromCheckpoint: '100', toCheckpoint: '109' }, attempts: 28, code: 'rpc_unavailable' });
  });

  it('starts the count again after a chunk committed, and fails at once what a retry cannot help', () => {
    const retries = createChunkRetries({ retries: 1, baseMs: 100 });
    expect(retries.failed(fetchFailure(100n, 4))).toMatchObject({ retry: true, delayMs: 100, retries: 1 });
    retries.committed();
    expect(retries.failed(fetchFailure(110n, 4))).toMatchObject({ retry: true, delayMs: 100, retries: 1 });
    expect(retries.failed(fetchFailure(110n, 4))).toMatchObject({ retry: false, error: { attempts: 8 } });

    const fresh = createChunkRetries({ retries: 5, baseMs: 100 });
    const pruned = fetchFailure(100n, 1, new BelowLowestAvailableError(100n, 500n, 'http://node'));
    expect(fresh.failed(pruned)).toEqual({ retry: false, error: pruned });
    const other = new Error('not a chunk');
    expect(fresh.failed(other)).toEqual({ retry: false, error: other });
  });

  it('retries the read of what is left that begins a walk on like a chunk, and fails it over the request range', () => {
    const postgresDown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const retries = createChunkRetries({ retries: 2, baseMs: 100 });
    expect(retries.failed(new WalkStepFailedError({ from: 130n, to: 139n, stage: 'commit', attempts: 3 }, postgresDown))).toMatchObject({ retry: true, delayMs: 100 });
    const ranges = () => new WalkStepFailedError({ from: 100n, to: 899n, stage: 'ranges', attempts: 3 }, postgresDown);
    expect(retries.failed(ranges())).toMatchObject({ retry: true, delayMs: 200, retries: 2 });
    const last = retries.failed(ranges());
    expect(last.retry).toBe(false);
    const error = last.error as WalkStepFailedError;
    expect(error.message).toBe('reading the ranges left to walk of [100, 899] failed (ranges, 9 attempt(s)): connect ECONNREFUSED 127.0.0.1:5432');
    expect(error.detail()).toEqual({ stage: 'ranges', range: { fromCheckpoint: '100', toCheckpoint: '899' }, attempts: 9, code: 'ECONNREFUSED' });
  });

  it('with no retries configured, fails the first time as the chunk said', () => {
    const failure = fetchFailure(100n, 4);
    expect(createChunkRetries({ retries: 0, baseMs: 100 }).failed(failure)).toEqual({ retry: false, error: failure });
  });
});
