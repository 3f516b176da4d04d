import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createRpcBudget, type SharedRateLimiter } from './budget.ts';
import { RateLimitedError } from './errors.ts';

const STALL_RESOLUTION_MS = 10;

/**
 * Measures how long the event loop was held up from now until the returned function is called:
 * the time the budget's timers fired late (a loaded machine, a collection), which no budget can
 * make up for and which a ceiling on elapsed time must allow.
 */
function measureStalls(): () => number {
  const histogram = monitorEventLoopDelay({ resolution: STALL_RESOLUTION_MS });
  histogram.enable();
  return () => {
    histogram.disable();
    // Each sample is the time between two ticks meant to be `resolution` apart.
    return histogram.count === 0 ? 0 : (Math.max(0, histogram.mean - STALL_RESOLUTION_MS * 1e6) * histogram.count) / 1e6;
  };
}

describe('createRpcBudget', () => {
  it('holds the rate: one second of burst, then requestsPerSecond', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 50, maxInFlight: 1000, burstSeconds: 1 });
    const stalls = measureStalls();
    const t0 = performance.now();
    const starts: number[] = [];
    const runs = Array.from({ length: 125 }, () => budget.run(async () => starts.push(performance.now() - t0)));
    // The burst starts at once, in the calls themselves.
    expect(budget.stats().started).toBe(50);
    await Promise.all(runs);
    // 50 tokens up front, the other 75 at 50/s: 1.5 s, plus whatever the event loop was held up.
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(1_400);
    expect(elapsed).toBeLessThan(2_500 + stalls());
    // The token-bucket bound: in any span of T seconds at most 50 + 50·T calls start.
    for (const from of starts) {
      for (const span of [0.02, 0.25, 0.5, 1]) {
        expect(starts.filter((at) => at >= from && at < from + span * 1000).length).toBeLessThanOrEqual(50 + Math.ceil(50 * span));
      }
    }
    expect(budget.stats()).toMatchObject({ started: 125, inFlight: 0, queued: 0 });
  });

  it('never exceeds maxInFlight, and serves callers in arrival order', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 10_000, maxInFlight: 3 });
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        budget.run(async () => {
          order.push(i);
          inFlight++;
          peak = Math.max(peak, inFlight);
          await sleep(10);
          inFlight--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('queues interactive calls, at any depth of their scope, ahead of the others and in their own order, within the cap', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 10_000, maxInFlight: 1 });
    const order: string[] = [];
    let release!: () => void;
    const held = budget.run(async () => {
      order.push('held');
      await new Promise<void>((resolve) => (release = resolve));
    });
    const call = (name: string) => budget.run(async () => void order.push(name));
    const runs: Promise<unknown>[] = [call('walk 0'), call('walk 1'), budget.interactive(() => call('intake 0'))];
    // Queued after an await inside the scope, while a call outside it queues meanwhile.
    runs.push(
      budget.interactive(async () => {
        await sleep(1);
        await call('intake 1');
      }),
      call('walk 2'),
    );
    await sleep(10);
    // The slot is still taken: interactive calls wait for it like any other.
    expect([order, budget.stats().queued]).toEqual([['held'], 5]);
    release();
    await Promise.all([held, ...runs]);
    expect(order).toEqual(['held', 'intake 0', 'intake 1', 'walk 0', 'walk 1', 'walk 2']);
  });

  it('takes a token for an interactive call: it goes next, not before the rate allows', async () => {
    // Capacity 5 tokens; one more every 100 ms.
    const budget = createRpcBudget({ requestsPerSecond: 10, maxInFlight: 100 });
    const t0 = performance.now();
    const starts: [string, number][] = [];
    const call = (name: string) => budget.run(async () => void starts.push([name, performance.now() - t0]));
    const runs = Array.from({ length: 7 }, (_, i) => call(`walk ${i}`));
    runs.push(budget.interactive(() => call('intake')));
    expect(budget.stats()).toMatchObject({ started: 5, queued: 3 });
    await Promise.all(runs);
    expect(starts.map(([name]) => name)).toEqual(['walk 0', 'walk 1', 'walk 2', 'walk 3', 'walk 4', 'intake', 'walk 5', 'walk 6']);
    expect(starts[5][1]).toBeGreaterThanOrEqual(90);
  });

  it('passes results and errors through and frees the slot either way', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 1 });
    await expect(budget.run(async () => 42)).resolves.toBe(42);
    await expect(budget.run(async () => Promise.reject(new Error('node said no')))).rejects.toThrow('node said no');
    await expect(budget.run(async () => 'still serving')).resolves.toBe('still serving');
    expect(budget.stats().inFlight).toBe(0);
  });

  it('bursts half a second of tokens by default, below a provider\'s usual second', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 40, maxInFlight: 1000 });
    const t0 = performance.now();
    const runs = Array.from({ length: 30 }, () => budget.run(async () => {}));
    expect(budget.stats().started).toBe(20);
    await Promise.all(runs);
    // The other 10 at 40/s.
    expect(performance.now() - t0).toBeGreaterThan(200);
  });

  it('slows down at once when the rate is lowered, the burst shrinking with it', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 100 });
    budget.setLimits({ requestsPerSecond: 20 });
    expect(budget.stats()).toMatchObject({ requestsPerSecond: 20, effectiveRequestsPerSecond: 20, maxInFlight: 100 });
    const stalls = measureStalls();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 30 }, () => budget.run(async () => {})));
    // 10 at once (half a second at the new rate), the other 20 at 20/s: about a second.
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(900);
    expect(elapsed).toBeLessThan(2_000 + stalls());
  });

  it('applies a new cap on calls in flight to the calls waiting', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 10_000, maxInFlight: 1 });
    let inFlight = 0;
    let peak = 0;
    const calls = Promise.all(
      Array.from({ length: 12 }, () =>
        budget.run(async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await sleep(20);
          inFlight--;
        }),
      ),
    );
    await sleep(5);
    budget.setLimits({ maxInFlight: 4 });
    await calls;
    expect(peak).toBe(4);
    expect(budget.stats().maxInFlight).toBe(4);
  });

  it('on a rate-limit reply: pauses every call for the retry-after, halves the rate once per burst, counts it', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 100, maxInFlight: 10 });
    // Two calls of one burst, answered together: both replies are counted, the rate halved once.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const throttle = () =>
      budget.run(async () => {
        await answered;
        throw new RateLimitedError('slow down', 300);
      });
    const burst = [throttle(), throttle()];
    expect(budget.stats()).toMatchObject({ started: 2, inFlight: 2 });
    answer();
    for (const call of burst) await expect(call).rejects.toThrow(RateLimitedError);
    const after = budget.stats();
    expect(after).toMatchObject({ requestsPerSecond: 100, effectiveRequestsPerSecond: 50, throttled: 2 });
    expect(after.backoffMs).toBeGreaterThan(250);

    // The next call waits out the pause.
    const pause = budget.stats().backoffMs;
    const t0 = performance.now();
    await budget.run(async () => {});
    expect(performance.now() - t0).toBeGreaterThanOrEqual(pause - 5);
  });

  it('says a pause of more than a few seconds at warn, once for the replies to one burst', async () => {
    const { logger, lines } = captureLogs();
    const budget = createRpcBudget({ requestsPerSecond: 100, maxInFlight: 10, logger });
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const burst = [2_000, 60_000, 60_000, 59_000].map((retryAfterMs) =>
      budget.run(async () => {
        await answered;
        throw new RateLimitedError('slow down', retryAfterMs);
      }),
    );
    answer();
    for (const call of burst) await expect(call).rejects.toThrow(RateLimitedError);
    expect(lines.filter((line) => line.level === 40).map(({ msg, pauseMs }) => ({ msg, pauseMs }))).toEqual([
      { msg: 'rpc rate lowered after a rate-limit reply', pauseMs: undefined },
      { msg: 'every rpc call paused for the retry-after of a rate-limit reply', pauseMs: 60_000 },
    ]);
    expect(budget.stats().backoffMs).toBeGreaterThan(59_000);
  });

  it('recovers additively while calls succeed, and an operator\'s new rate replaces the lowered one', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 10, maxInFlight: 10 });
    const throttledAt = performance.now();
    await expect(budget.run(async () => Promise.reject(new RateLimitedError('slow down', 1)))).rejects.toThrow(RateLimitedError);
    expect(budget.stats().effectiveRequestsPerSecond).toBe(5);
    // Each second of successes adds 5% of the configured rate (0.5/s here), never more.
    const t0 = performance.now();
    while (performance.now() - t0 < 1_100) await budget.run(async () => {});
    const recovered = budget.stats().effectiveRequestsPerSecond;
    const seconds = (performance.now() - throttledAt) / 1000;
    expect(recovered).toBeGreaterThan(5.3);
    expect(recovered).toBeLessThanOrEqual(5 + 0.5 * seconds + 0.05);
    // The same limits again (every settings poll) change nothing; new ones start from the new rate.
    budget.setLimits({ requestsPerSecond: 10, maxInFlight: 10 });
    expect(budget.stats().effectiveRequestsPerSecond).toBe(recovered);
    budget.setLimits({ requestsPerSecond: 8 });
    expect(budget.stats()).toMatchObject({ requestsPerSecond: 8, effectiveRequestsPerSecond: 8 });
  });

  it('also draws each call from a shared limiter, waiting as long as it says', async () => {
    const asked: number[] = [];
    let first = true;
    const shared: SharedRateLimiter = {
      take: async (want) => {
        asked.push(want);
        if (first) {
          first = false;
          return { granted: 0, waitMs: 150, requestsPerSecond: 1_000 };
        }
        return { granted: Math.min(want, 2), waitMs: 0, requestsPerSecond: 1_000 };
      },
    };
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 100, shared });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => budget.run(async () => {})));
    expect(performance.now() - t0).toBeGreaterThan(140);
    // The first caller asks at once; after the wait, one ask covers every caller then waiting.
    expect(asked).toEqual([1, 5, 3, 1]);
    expect(budget.stats()).toMatchObject({ started: 5, shared: true });
  });

  it('asks the shared limiter for the configured rate and burst, whatever rate this process lowered itself to', async () => {
    const rates: [number, number][] = [];
    const shared: SharedRateLimiter = {
      take: async (want, requestsPerSecond, capacity) => {
        rates.push([requestsPerSecond, capacity]);
        return { granted: want, waitMs: 0, requestsPerSecond };
      },
    };
    const budget = createRpcBudget({ requestsPerSecond: 40, maxInFlight: 10, shared });
    await expect(budget.run(async () => Promise.reject(new RateLimitedError('slow down', 1)))).rejects.toThrow(RateLimitedError);
    expect(budget.stats().effectiveRequestsPerSecond).toBe(20);
    await budget.run(async () => {});
    budget.setLimits({ requestsPerSecond: 60 });
    await budget.run(async () => {});
    expect(rates).toEqual([
      [40, 20],
      [40, 20],
      [60, 30],
    ]);
  });

  it('says once when the shared bucket runs at a lower rate than this process asks for', async () => {
    const { logger, lines } = captureLogs();
    const shared: SharedRateLimiter = { take: async (want) => ({ granted: want, waitMs: 0, requestsPerSecond: 10 }) };
    const budget = createRpcBudget({ requestsPerSecond: 40, maxInFlight: 1, shared, logger });
    for (let i = 0; i < 3; i++) await budget.run(async () => {});
    expect(lines.map(({ msg, sharedRequestsPerSecond, requestsPerSecond }) => ({ msg, sharedRequestsPerSecond, requestsPerSecond }))).toEqual([
      { msg: 'shared rpc budget runs at a lower rate another replica asks for', sharedRequestsPerSecond: 10, requestsPerSecond: 40 },
    ]);
  });

  /** A shared limiter whose asks the test answers one by one. */
  function manualShared() {
    const asks: { want: number; grant: (granted: number, waitMs?: number) => Promise<void> }[] = [];
    const shared: SharedRateLimiter = {
      take: (want) =>
        new Promise((resolve) => {
          asks.push({
            want,
            grant: async (granted, waitMs = 0) => {
              resolve({ granted, waitMs, requestsPerSecond: 1_000 });
              await sleep(0);
            },
          });
        }),
    };
    return { shared, asks };
  }

  it('starts no more calls than the shared limiter grants, though its own bucket starts full', async () => {
    const { shared, asks } = manualShared();
    const budget = createRpcBudget({ requestsPerSecond: 50, maxInFlight: 100, shared });
    const runs = Array.from({ length: 20 }, () => budget.run(async () => {}));
    await asks[0].grant(1);
    // The local bucket holds 25 tokens; the shared one decides how many of them are used.
    expect(asks.map(({ want }) => want)).toEqual([1, 19]);
    await asks[1].grant(4);
    expect(budget.stats()).toMatchObject({ started: 5, queued: 15 });
    await asks[2].grant(0, 30);
    expect(budget.stats()).toMatchObject({ started: 5, queued: 15 });
    await sleep(60);
    expect(asks.map(({ want }) => want)).toEqual([1, 19, 15, 15]);
    await asks[3].grant(15);
    await Promise.all(runs);
    expect(budget.stats().started).toBe(20);
  });

  it('drops a grant that comes back after a rate-limit reply: after the pause, calls start on tokens asked for then', async () => {
    const { shared, asks } = manualShared();
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 10, shared });
    let refuse!: () => void;
    const throttledCall = budget.run(() => new Promise((_, reject) => (refuse = () => reject(new RateLimitedError('slow down', 200)))));
    await asks[0].grant(1);
    const later = Array.from({ length: 3 }, () => budget.run(async () => {}));
    expect(asks).toHaveLength(2);
    // The reply comes while an ask is out; its token comes back during the pause.
    refuse();
    await expect(throttledCall).rejects.toThrow(RateLimitedError);
    await asks[1].grant(1);
    expect(budget.stats()).toMatchObject({ started: 1, queued: 3 });
    await sleep(260);
    // Spent now, it would be on top of what the shared bucket refilled meanwhile: the budget asks again.
    expect(budget.stats()).toMatchObject({ started: 1, queued: 3 });
    expect(asks.map(({ want }) => want)).toEqual([1, 1, 3]);
    await asks[2].grant(3);
    await Promise.all(later);
    expect(budget.stats()).toMatchObject({ started: 4, queued: 0, throttled: 1 });
  });

  it('keeps no token of a grant that no call could use when it came: the next call asks again', async () => {
    const { shared, asks } = manualShared();
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 10, shared });
    const controller = new AbortController();
    const first = budget.run(async () => 'first');
    const second = budget.run(async () => 'second');
    const aborted = [1, 2].map(() => budget.run(async () => 'aborted', { signal: controller.signal }));
    await asks[0].grant(1);
    await expect(first).resolves.toBe('first');
    expect(asks.map(({ want }) => want)).toEqual([1, 3]);
    controller.abort(new Error('gone'));
    await Promise.all(aborted.map((run) => expect(run).rejects.toThrow('gone')));
    await asks[1].grant(3);
    await expect(second).resolves.toBe('second');
    const next = budget.run(async () => 'next');
    await sleep(0);
    expect(asks.map(({ want }) => want)).toEqual([1, 3, 1]);
    expect(budget.stats()).toMatchObject({ started: 2, queued: 1 });
    await asks[2].grant(1);
    await expect(next).resolves.toBe('next');
  });

  it('runs on the local budget alone while the shared limiter fails', async () => {
    const shared: SharedRateLimiter = { take: async () => Promise.reject(new Error('redis is down')) };
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 100, shared });
    await expect(Promise.all(Array.from({ length: 5 }, () => budget.run(async () => 'ok')))).resolves.toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('drops a queued call whose signal aborts, without running it', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 1 });
    let release!: () => void;
    const blocker = budget.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let ran = false;
    const queued = budget.run(async () => {
      ran = true;
    }, { signal: controller.signal });
    expect(budget.stats().queued).toBe(1);
    controller.abort(new Error('shutting down'));
    await expect(queued).rejects.toThrow('shutting down');
    expect(budget.stats().queued).toBe(0);
    release();
    await blocker;
    expect(ran).toBe(false);
  });

  it('rejects nonsense limits', () => {
    expect(() => createRpcBudget({ requestsPerSecond: 0, maxInFlight: 1 })).toThrow(RangeError);
    expect(() => createRpcBudget({ requestsPerSecond: 1, maxInFlight: 0 })).toThrow(RangeError);
    expect(() => createRpcBudget({ requestsPerSecond: 1, maxInFlight: 1 }).setLimits({ requestsPerSecond: -1 })).toThrow(RangeError);
    expect(() => createRpcBudget({ requestsPerSecond: 1, maxInFlight: 1 }).setLimits({ maxInFlight: 1.5 })).toThrow(RangeError);
  });
});
