import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/backfill-checks.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/**
 * The per-walk series as /metrics renders them, sorted: from the registry the in-process worker
 * records into, since the API's scrape also counts requests in Postgres, which waits while the
 * test holds a lock the walk's heartbeats queue behind.
 */
async function walkSeries(): Promise<string[]> {
  return (await stack.common.metrics.registry.metrics())
    .split('\n')
    .filter((line) => line.startsWith('sui_backfill_walk_'))
    .sort();
}

const series = (labels: string, hi: number, to: number, chunkSize: number) => [
  `sui_backfill_walk_checkpoint_hi{${labels}} ${hi}`,
  `sui_backfill_walk_checkpoints_remaining{${labels}} ${to - hi}`,
  `sui_backfill_walk_chunk_size{${labels}} ${chunkSize}`,
];

describe('per-walk metrics', () => {
  it("show a walk's watermark, checkpoints left and chunk size under its labels while it runs, and are gone once it is paused and once it completes", async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, WORKER_CONCURRENCY: 1 });
    try {
      stack.simnet.setKnobs({ latencyMs: 50 });
      const posted = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId, fromCheckpoint: 100, toCheckpoint: 699 });
      expect(posted.status).toBe(202);
      const { id, originalPackageId } = posted.body;
      const labels = `request_id="${id}",package_id="${originalPackageId}"`;
      const watermarkOf = async () => Number((await stack.database.sql`select checkpoint_hi_inclusive as hi from package_backfill_watermarks where request_id = ${id}`)[0]?.hi ?? 99);
      await waitFor('two chunks committed', async () => (await watermarkOf()) >= 139);

      // The watermark row held: the walk's next commit waits, so the watermark in Postgres stays put.
      await stack.database.sql.begin(async (tx) => {
        const [{ hi }] = await tx`select checkpoint_hi_inclusive::int as hi from package_backfill_watermarks where request_id = ${id} for update`;
        // A commit that ended just before the lock sets its gauges a moment after its answer; then nothing moves.
        await waitFor('the gauges at the watermark', async () => (await walkSeries()).includes(`sui_backfill_walk_checkpoint_hi{${labels}} ${hi}`), 2_000);
        await sleep(300);
        expect(await walkSeries()).toEqual(series(labels, hi, 699, 20));
      });

      expect((await stack.call('POST', `/v1/backfills/${id}/pause`)).status).toBe(200);
      // The job ends after the walk's own cleanup: from then on its series must be gone.
      await waitFor('the paused job to end', async () => !(await stack.queue.hasJob(id)));
      expect(await walkSeries()).toEqual([]);

      stack.simnet.setKnobs({ latencyMs: 0 });
      expect((await stack.call('POST', `/v1/backfills/${id}/resume`)).status).toBe(200);
      const done = await stack.waitForStatus(id, ['completed', 'failed']);
      expect(done.status).toBe('completed');
      await waitFor('the completed job to end', async () => !(await stack.queue.hasJob(id)));
      expect(await walkSeries()).toEqual([]);
    } finally {
      await worker.close();
    }
  });
});
