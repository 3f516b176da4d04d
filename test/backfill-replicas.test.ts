import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sortRows, startStack, type Stack } from './helpers/stack.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';

let stack: Stack;
const workers: Spawned[] = [];
beforeAll(async () => {
  stack = await startStack({ chain: { checkpoints: 2_500 } });
});
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await stack?.close();
});

describe('two worker processes, three packages at once', () => {
  it('completes every backfill with exact rows, no duplicates, each walked once', async () => {
    const env = { ...stack.env, BACKFILL_CHUNK_SIZE: '40', WORKER_CONCURRENCY: '1', LOG_LEVEL: 'info' };
    workers.push(spawnCli(['worker', '--no-migrate'], env), spawnCli(['worker', '--no-migrate'], env));
    await Promise.all(workers.map((worker) => waitForOutput(worker, 'backfill worker started')));

    const packages = ['dex', 'book', 'nft'].map((name) => stack.chain.package(name as 'dex'));
    const posted = await Promise.all(packages.map((pkg) => stack.call('POST', '/v1/backfills', { packageId: pkg.originalId })));
    expect(posted.map((response) => response.status)).toEqual([202, 202, 202]);
    const done = await Promise.all(posted.map((response) => stack.waitForStatus(response.body.id, ['completed'], 120_000)));

    // Outer families of different packages are disjoint: together they are exactly the union.
    const expected = sortRows(packages.flatMap((pkg, i) => stack.truth(pkg.originalId, 'outer', BigInt(done[i].fromCheckpoint), BigInt(done[i].toCheckpoint))));
    const objects = await stack.objects();
    expect(objects).toEqual(expected);
    expect(done.reduce((sum, view) => sum + view.rowsInserted, 0)).toBe(objects.length);

    for (const view of done) {
      expect(view.attempts).toBe(1);
      const chunks = await stack.database.sql<{ from_checkpoint: string; to_checkpoint: string; worker_id: string }[]>`
        select from_checkpoint, to_checkpoint, worker_id from package_backfill_chunks where request_id = ${view.id} order by from_checkpoint`;
      // One walk: one worker, chunks tiling [from, to] with no overlap and no gap.
      expect(new Set(chunks.map((chunk) => chunk.worker_id)).size).toBe(1);
      let next = BigInt(view.fromCheckpoint);
      for (const chunk of chunks) {
        expect(BigInt(chunk.from_checkpoint)).toBe(next);
        next = BigInt(chunk.to_checkpoint) + 1n;
      }
      expect(next - 1n).toBe(BigInt(view.toCheckpoint));
    }
    // Both replicas took part.
    const walkers = await stack.database.sql`select distinct worker_id from package_backfill_chunks`;
    expect(walkers.length).toBe(2);

    for (const worker of workers) worker.kill('SIGTERM');
    const exits = await Promise.all(workers.map((worker) => worker.exited));
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
  });
});
