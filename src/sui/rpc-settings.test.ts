import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/backfill-checks.ts';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createRpcBudget, type RpcLimits } from './budget.ts';
import { createRpcSettingsStore, watchRpcSettings, type RpcSettings, type RpcSettingsStore } from './rpc-settings.ts';

describe('createRpcSettingsStore', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("stores only the limits given: a process with other environment values keeps its own for the others", async () => {
    // The API and a worker started with different RPC_CONCURRENCY.
    const api = createRpcSettingsStore(database.db, { requestsPerSecond: 100, maxInFlight: 32 });
    const worker = createRpcSettingsStore(database.db, { requestsPerSecond: 100, maxInFlight: 6 });
    const unset = { requestsPerSecond: null, maxInFlight: null };
    expect(await worker.read()).toEqual({ requestsPerSecond: 100, maxInFlight: 6, stored: unset, source: 'environment', updatedAt: null, updatedBy: null });

    expect(await api.write({ requestsPerSecond: 20 }, 'ops')).toMatchObject({ requestsPerSecond: 20, maxInFlight: 32, stored: { requestsPerSecond: 20, maxInFlight: null }, source: 'database' });
    expect(await database.sql`select requests_per_second, max_in_flight from rpc_settings`).toEqual([{ requests_per_second: 20, max_in_flight: null }]);
    expect(await worker.read()).toMatchObject({ requestsPerSecond: 20, maxInFlight: 6, stored: { requestsPerSecond: 20, maxInFlight: null }, updatedBy: 'ops' });

    // Over the row, a change of the cap leaves the rate as stored; one of the rate leaves the cap.
    await api.write({ maxInFlight: 4 }, 'ops');
    expect(await worker.read()).toMatchObject({ requestsPerSecond: 20, maxInFlight: 4, stored: { requestsPerSecond: 20, maxInFlight: 4 } });
    await api.write({ requestsPerSecond: 30 }, 'ops');
    expect(await worker.read()).toMatchObject({ requestsPerSecond: 30, maxInFlight: 4 });

    expect(await api.reset()).toEqual({ requestsPerSecond: 100, maxInFlight: 32, stored: unset, source: 'environment', updatedAt: null, updatedBy: null });
    expect(await worker.read()).toMatchObject({ requestsPerSecond: 100, maxInFlight: 6, source: 'environment' });
    expect(await database.sql`select 1 from rpc_settings`).toHaveLength(0);
  });
});

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
        const { requestsPerSecond, maxInFlight } = stored;
        return { ...stored, stored: { requestsPerSecond, maxInFlight }, updatedAt: null, updatedBy: null };
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
