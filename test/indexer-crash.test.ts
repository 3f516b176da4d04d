import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWatermark } from '../src/indexer/watermark.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
const processes: Spawned[] = [];
beforeAll(async () => {
  stack = await startStack({ chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 20 } });
});
afterAll(async () => {
  for (const spawned of processes) spawned.kill('SIGKILL');
  await stack?.close();
});

/** The `indexer batch fetching` lines a process logged so far (LOG_LEVEL debug), oldest first. */
function batchesStarted(spawned: Spawned): { from: bigint; to: bigint }[] {
  return spawned
    .output()
    .split('\n')
    .filter((line) => line.includes('"indexer batch fetching"'))
    .map((line) => JSON.parse(line) as { from: number; to: number })
    .map((line) => ({ from: BigInt(line.from), to: BigInt(line.to) }));
}

describe('live indexer crash', () => {
  it('a kill -9 in the middle of a batch loses only that uncommitted batch; the restart neither loses nor duplicates rows', async () => {
    const env = { ...stack.env, LOG_LEVEL: 'debug', INDEXER_POLL_INTERVAL_MS: '50', INDEXER_BATCH_SIZE: '7' };
    // Started well behind the tip, the indexer always has a full batch to fetch: never idle at the tip.
    const start = () => {
      const spawned = spawnCli(['indexer', '--no-migrate', '--first-checkpoint', '1000'], env);
      processes.push(spawned);
      return spawned;
    };
    let indexer = start();
    await waitForOutput(indexer, 'indexer starting');
    await stack.startWorker();
    const token = stack.chain.package('token');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: token.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const coverageStart = BigInt(posted.body.toCheckpoint) + 1n;
    expect(coverageStart).toBeGreaterThan(token.versions[0].publishCheckpoint);
    await stack.waitForStatus(posted.body.id, ['completed']);

    const seen: bigint[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const watermark = await readWatermark(stack.database.sql);
        if (watermark) seen.push(watermark.checkpointHiInclusive);
        await sleep(15);
      }
    })();

    // Every RPC takes 500 ms: a batch is in flight, uncommitted, for at least that long after it starts.
    stack.simnet.setKnobs({ latencyMs: 500 });
    let seed = 7;
    for (let kill = 0; kill < 3; kill++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      await sleep(200 + (seed % 400));
      const before = batchesStarted(indexer).length;
      const batch = await waitFor('a batch to start', async () => batchesStarted(indexer)[before], 20_000, 10);
      indexer.kill('SIGKILL');
      expect((await indexer.exited).signal).toBe('SIGKILL');
      // The batch in flight was not committed; everything before it was.
      expect((await readWatermark(stack.database.sql))?.checkpointHiInclusive).toBe(batch.from - 1n);
      indexer = start();
      await waitForOutput(indexer, 'indexer starting');
      expect(indexer.output()).toContain(`"next":${batch.from},"resumed":true`);
    }
    stack.simnet.setKnobs({ latencyMs: 0 });
    const later = (await readWatermark(stack.database.sql))!.checkpointHiInclusive + 40n;
    await waitFor('the indexer to pass a later checkpoint', async () => (await readWatermark(stack.database.sql))!.checkpointHiInclusive >= later);
    sampling = false;
    await sampler;

    expect(seen.length).toBeGreaterThan(20);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const truth = stack.truth(token.originalId, 'anywhere', stack.chain.publishCheckpoint(token.originalId), later);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(truth);

    indexer.kill('SIGTERM');
    expect((await indexer.exited).code).toBe(0);
  });

  it('refuses a second indexer on the same database with one clear line', async () => {
    const env = { ...stack.env, LOG_LEVEL: 'info' };
    const first = spawnCli(['indexer', '--no-migrate'], env);
    processes.push(first);
    await waitForOutput(first, 'indexer starting');
    const second = spawnCli(['indexer', '--no-migrate'], env);
    processes.push(second);
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    expect(second.output()).toContain('another indexer is already running against this database');
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});
