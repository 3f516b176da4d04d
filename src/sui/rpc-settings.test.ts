import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/backfill-checks.ts';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createRpcBudget, type RpcLimits } from './budget.ts';
import { sleep } from './retry.ts';
import { watchRpcSettings, type RpcSettings, type RpcSettingsStore } from './rpc-settings.ts';

describe('watchRpcSettings', () => {
  it('applies the stored limits as they change, and keeps them while the store cannot be read', async () => {
    const { logger, lines } = captureLogs();
    const messages = () => lines.map((line) => line.msg);
    let stored: RpcLimits & { source: RpcSettings['source'] } = { requestsPerSecond: 100, maxInFlight: 32, source: 'environment' };
    let reads = 0;
    let down = false;
    const store: RpcSettingsStore = {
      read: async () => {
        reads++;
        if (down) throw new Error('connection refused');
        return { ...stored, updatedAt: null, updatedBy: null };
      },
      write: async () => Promise.reject(new Error('not used')),
      reset: async () => Promise.reject(new Error('not used')),
    };
    const budget = createRpcBudget({ requestsPerSecond: 100, maxInFlight: 32 });
    const watcher = watchRpcSettings({ store, budget, intervalMs: 20, logger });
    try {
      // Polls pick up the stored limits: a few 20 ms polls, however slowly a loaded machine runs them.
      expect(await waitFor('the first read', async () => watcher.current(), 2_000, 5)).toMatchObject({ requestsPerSecond: 100, source: 'environment' });

      stored = { requestsPerSecond: 25, maxInFlight: 4, source: 'database' };
      await waitFor('the new limits to be applied', async () => budget.stats().requestsPerSecond === 25, 2_000, 5);
      expect(budget.stats()).toMatchObject({ requestsPerSecond: 25, maxInFlight: 4 });
      expect(messages()).toEqual(['rpc limits changed']);

      down = true;
      const before = reads;
      await waitFor('a failed read', async () => messages().length === 2, 2_000, 5);
      await sleep(300);
      // Slower polls while failing (20, 40, 80, 160 ms...), one warning, the limits unchanged. A
      // loaded machine only polls less often.
      expect(reads - before).toBeLessThanOrEqual(5);
      expect(messages()).toEqual(['rpc limits changed', 'cannot read the rpc settings; the current limits stay in force']);
      expect(budget.stats()).toMatchObject({ requestsPerSecond: 25, maxInFlight: 4 });

      down = false;
      stored = { requestsPerSecond: 50, maxInFlight: 8, source: 'database' };
      expect(await watcher.refresh()).toMatchObject({ requestsPerSecond: 50, maxInFlight: 8 });
      expect(budget.stats()).toMatchObject({ requestsPerSecond: 50, maxInFlight: 8 });
    } finally {
      await watcher.stop();
    }
    const stoppedAt = reads;
    await sleep(60);
    expect(reads).toBe(stoppedAt);
  });
});
