import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectVersionRow } from '../src/sui/records.ts';
import { backfillToCompletion, sortRows, startStack, type Stack } from './helpers/stack.ts';

const LIMIT = 50;

/**
 * A provider that allows 50 requests per second (RESOURCE_EXHAUSTED beyond). The client configured
 * at the same rate stays under it; configured at four times the rate, it is throttled, slows
 * itself down and still writes exactly what the chain holds.
 */
describe('against a provider limiting to 50 requests/s', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ chain: { checkpoints: 2_100 }, knobs: { rateLimitRps: LIMIT }, env: { RPC_REQUESTS_PER_SECOND: String(LIMIT) } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const backfill = (body: Record<string, unknown>) => backfillToCompletion(stack, body, 150_000);

  it('configured at 50/s: 2,000 checkpoints with at most a handful of rate-limit replies; at 200/s: throttled, and still exact', { timeout: 240_000 }, async () => {
    const dex = stack.chain.package('dex');
    const from = stack.chain.publishCheckpoint(dex.originalId);
    const to = from + 1_999n;
    stack.simnet.resetStats();
    const done = await backfill({ packageId: dex.originalId, toCheckpoint: to.toString() });
    // The walk as the request records it: from running to completed, without job pickup or polling.
    const seconds = (Date.parse(done.finishedAt) - Date.parse(done.startedAt)) / 1000;
    const stats = stack.simnet.stats();
    expect(stats.requests.GetCheckpoint).toBeGreaterThanOrEqual(2_000);
    expect(stats.throttled).toBeLessThanOrEqual(3);
    // Under the limit, but not far under it. Each rate-limit reply costs the walk about 3.5 s of its
    // 40 (a second's pause, then the halved rate climbing back at 5% a second): 9% of the rate.
    expect(stats.requests.GetCheckpoint / seconds).toBeGreaterThan(LIMIT * (0.85 - 0.09 * stats.throttled));
    const outer = stack.truth(dex.originalId, 'outer', from, to);
    expect(outer.length).toBeGreaterThan(100);
    expect(await stack.objects()).toEqual(outer);

    const put = await stack.call('PUT', '/v1/config/rpc', { requestsPerSecond: LIMIT * 4, updatedBy: 'test' });
    expect(put.status).toBe(200);
    expect(put.body.configured).toMatchObject({ requestsPerSecond: LIMIT * 4, source: 'database', updatedBy: 'test' });
    stack.simnet.resetStats();
    const anywhereTo = from + 1_999n;
    await backfill({ packageId: dex.originalId, match: 'anywhere', toCheckpoint: anywhereTo.toString() });
    expect(stack.simnet.stats().throttled).toBeGreaterThan(0);
    const union = new Map<string, ObjectVersionRow>();
    for (const row of [...outer, ...stack.truth(dex.originalId, 'anywhere', from, anywhereTo)]) union.set(`${row.objectId}@${row.version}`, row);
    expect(await stack.objects()).toEqual(sortRows([...union.values()]));

    const { body } = await stack.call('GET', '/v1/config/rpc');
    const self = body.processes.find((state: { id: string }) => state.id === stack.source.control.state().id);
    expect(self.throttled).toBe(stack.source.control.budget.stats().throttled);
    expect(self.throttled).toBeGreaterThan(0);
    expect(self.effectiveRequestsPerSecond).toBeLessThan(LIMIT * 4);
  });
});
