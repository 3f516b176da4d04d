import { describe, expect, it } from 'vitest';
import { createRpcBudget } from './budget.ts';
import { sleep } from './retry.ts';

describe('createRpcBudget', () => {
  it('holds the rate: one second of burst, then requestsPerSecond', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 50, maxInFlight: 1000 });
    const t0 = performance.now();
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 125 }, () => budget.run(async () => starts.push(performance.now() - t0))));
    // 50 tokens up front, the other 75 at 50/s: 1.5 s.
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(1_400);
    expect(elapsed).toBeLessThan(2_500);
    // The token-bucket bound: in any span of T seconds at most 50 + 50·T calls start.
    for (const from of starts) {
      for (const span of [0.02, 0.25, 0.5, 1]) {
        expect(starts.filter((at) => at >= from && at < from + span * 1000).length).toBeLessThanOrEqual(50 + Math.ceil(50 * span));
      }
    }
    expect(starts.filter((at) => at < 20).length).toBeGreaterThanOrEqual(50);
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

  it('passes results and errors through and frees the slot either way', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 1 });
    await expect(budget.run(async () => 42)).resolves.toBe(42);
    await expect(budget.run(async () => Promise.reject(new Error('node said no')))).rejects.toThrow('node said no');
    await expect(budget.run(async () => 'still serving')).resolves.toBe('still serving');
    expect(budget.stats().inFlight).toBe(0);
  });

  it('slows down at once when the rate is lowered, the burst shrinking with it', async () => {
    const budget = createRpcBudget({ requestsPerSecond: 1_000, maxInFlight: 100 });
    budget.setRate(20);
    expect(budget.stats().requestsPerSecond).toBe(20);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 30 }, () => budget.run(async () => {})));
    // 20 at once (one second at the new rate), the other 10 at 20/s: about half a second.
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(400);
    expect(elapsed).toBeLessThan(1_500);
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
    expect(() => createRpcBudget({ requestsPerSecond: 1, maxInFlight: 1 }).setRate(-1)).toThrow(RangeError);
  });
});
