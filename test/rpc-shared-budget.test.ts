import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSuiSource } from '../src/sui/source.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { sortRows, startStack, type Stack } from './helpers/stack.ts';

const LIMIT = 50;
const CHECKPOINTS = 300n;
const PACKAGES = ['dex', 'book'] as const;

let stack: Stack;
const workers: Spawned[] = [];
beforeAll(async () => {
  stack = await startStack({
    chain: { checkpoints: 1_200 },
    knobs: { latencyMs: 20 },
    env: { RPC_SHARED_BUDGET: 'true', RPC_REQUESTS_PER_SECOND: String(LIMIT) },
  });
});
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await stack?.close();
});

/** The simulator's GetCheckpoint count, sampled every 50 ms until `stop` is called. */
function sampleRequests(): { stop: () => Promise<{ at: number; count: number }[]> } {
  const samples: { at: number; count: number }[] = [];
  let stopped = false;
  const sampling = (async () => {
    while (!stopped) {
      samples.push({ at: performance.now(), count: stack.simnet.stats().requests.GetCheckpoint ?? 0 });
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await sampling;
      return samples;
    },
  };
}

/** Requests per second between the samples where a fifth and four fifths of `total` had been counted. */
function middleRate(samples: { at: number; count: number }[], total: number): number {
  const first = samples.find((sample) => sample.count >= total * 0.2)!;
  const last = samples.find((sample) => sample.count >= total * 0.8)!;
  return (last.count - first.count) / ((last.at - first.at) / 1000);
}

/**
 * Two worker processes started together, each with RPC_SHARED_BUDGET=true and the provider's own
 * 50/s, walk one backfill each against a provider limiting to 50/s: together they stay under the
 * limit from their first calls on, and still use most of it.
 */
describe('two worker processes sharing one RPC budget in Redis', () => {
  it('start together under a 50/s provider: at most a handful of rate-limit replies, near the limit, exact rows', { timeout: 60_000 }, async () => {
    const ranges = PACKAGES.map((name) => {
      const pkg = stack.chain.package(name);
      const from = stack.chain.publishCheckpoint(pkg.originalId);
      return { packageId: pkg.originalId, from, to: from + CHECKPOINTS - 1n };
    });
    // The simulator limits in the event loop that computes its answers: computing them cold on a busy
    // machine, it reads requests up to a second late and then admits them together, a clump the
    // replicas' pacing has no part in. Asked once before the limit is set, it answers from its cache,
    // and only their pacing is measured.
    const warm = createSuiSource({ url: stack.simnet.url, timeoutMs: 5_000 });
    await Promise.all(ranges.map(async ({ from, to }) => {
      for await (const _ of warm.getCheckpoints(from, to, { concurrency: 16 }));
    }));
    stack.simnet.setKnobs({ rateLimitRps: LIMIT });

    const env = { ...stack.env, WORKER_CONCURRENCY: '1', LOG_LEVEL: 'info' };
    workers.push(spawnCli(['worker', '--no-migrate'], env), spawnCli(['worker', '--no-migrate'], env));
    await Promise.all(workers.map((worker) => waitForOutput(worker, 'backfill worker started')));
    stack.simnet.resetStats();
    const sampler = sampleRequests();
    const posted = await Promise.all(ranges.map(({ packageId, to }) => stack.call('POST', '/v1/backfills', { packageId, toCheckpoint: to.toString() })));
    expect(posted.map((response) => response.status)).toEqual([202, 202]);
    const done = await Promise.all(posted.map((response) => stack.waitForStatus(response.body.id, ['completed', 'failed'], 40_000)));
    const samples = await sampler.stop();
    expect(done.map((view) => [view.status, view.lastError])).toEqual([
      ['completed', null],
      ['completed', null],
    ]);

    const stats = stack.simnet.stats();
    const fetched = stats.requests.GetCheckpoint;
    expect(fetched).toBeGreaterThanOrEqual(Number(CHECKPOINTS) * 2);
    const rate = middleRate(samples, fetched);
    expect(stats.throttled, `rate-limit replies, at ${rate.toFixed(1)}/s over the middle`).toBeLessThanOrEqual(3);
    // Over the middle of the run both walks fetch: together near the limit, never far above it.
    expect(rate).toBeGreaterThan(LIMIT * 0.8);
    expect(rate).toBeLessThan(LIMIT * 1.1);

    const expected = sortRows(ranges.flatMap(({ packageId }, i) => stack.truth(packageId, 'outer', BigInt(done[i].fromCheckpoint), BigInt(done[i].toCheckpoint))));
    expect(expected.length).toBeGreaterThan(100);
    expect(await stack.objects()).toEqual(expected);
    // One walk per replica: the budget was shared, not used by one process alone.
    const walkers = await stack.database.sql`select distinct worker_id from package_backfill_chunks`;
    expect(walkers.length).toBe(2);
  });
});
