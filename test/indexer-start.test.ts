import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getTracking } from '../src/indexer/registry.ts';
import { readWatermark } from '../src/indexer/watermark.ts';
import { createIndexerLock, IndexerAlreadyRunningError } from '../src/indexer/lock.ts';
import type { IndexerService } from '../src/indexer/process.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { CASE_TIMEOUT_MS, expectExactCoverage, indexerPast, noIndexerRunning, PATIENCE_MS, requestFrom, startedTracking } from './helpers/indexer.ts';
import { createSpawnedSet, spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { peakRpcLoad, startStack, type Stack } from './helpers/stack.ts';

/** Where the indexer starts: its first start, a restart, a crash before its first commit, a start it cannot get past. */

let stack: Stack;
const processes = createSpawnedSet();
const inProcess: IndexerService[] = [];
beforeAll(async () => {
  stack = await startStack({ chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 50 } });
  await stack.startWorker();
});
// Whatever became of a case, its indexers end with it: one left running would hold the lock the next case needs.
afterEach(async () => {
  await processes.killAll();
  for (const indexer of inProcess.splice(0)) await indexer.close();
  await noIndexerRunning(stack);
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(async () => {
  // Each case starts as a fresh deployment would: no watermark, nothing tracked, nothing indexed.
  await stack.database.sql`truncate watermarks, indexer_tracked_packages`;
  await stack.clearBackfills();
  stack.simnet.setKnobs({ latencyMs: 0, lowestAvailableCheckpoint: 0 });
});

function indexer(args: string[] = [], env: Record<string, string> = {}): Spawned {
  return processes.track(spawnCli(['indexer', '--no-migrate', ...args], { ...stack.env, LOG_LEVEL: 'info', INDEXER_POLL_INTERVAL_MS: '50', ...env }));
}

async function inProcessIndexer(firstCheckpoint: bigint): Promise<IndexerService> {
  const running = await stack.startIndexer({ firstCheckpoint });
  inProcess.push(running);
  return running;
}

/**
 * The most RPC calls the stack's process had in flight (and queued) over at least `minMs`, sampled
 * on until `enough` holds of them: on a loaded machine a second may not show the peak.
 */
async function peakRpcLoadUntil(enough: (peak: { inFlight: number; queued: number }) => boolean, minMs = 1_000): Promise<{ inFlight: number; queued: number }> {
  const peak = { inFlight: 0, queued: 0 };
  const started = Date.now();
  const deadline = started + PATIENCE_MS;
  while (Date.now() - started < minMs || !enough(peak)) {
    if (Date.now() > deadline) throw new Error(`the RPC load never got to what was expected within ${PATIENCE_MS} ms: ${JSON.stringify(peak)}`);
    const sampled = await peakRpcLoad(stack, 250);
    peak.inFlight = Math.max(peak.inFlight, sampled.inFlight);
    peak.queued = Math.max(peak.queued, sampled.queued);
  }
  return peak;
}

async function readerLo(): Promise<bigint> {
  const [row] = await stack.database.sql`select reader_lo from watermarks where pipeline = 'sui_objects'`;
  return BigInt(row.reader_lo);
}

describe('live indexer start', { timeout: CASE_TIMEOUT_MS }, () => {
  it('a kill -9 before its first commit leaves the tracking pending; the restart covers the package exactly from where it really starts', async () => {
    const nft = stack.chain.package('nft');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const endedAt = BigInt(posted.body.toCheckpoint);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);

    // Every RPC takes 1.5 s: once the indexer's first round has asked for the tip, its first batch
    // cannot commit for at least 3 s (that answer and a checkpoint's).
    stack.simnet.setKnobs({ latencyMs: 1_500 });
    const tipReads = () => stack.simnet.stats().requests.GetServiceInfo ?? 0;
    const readsBefore = tipReads();
    const first = indexer();
    await waitForOutput(first, 'indexer starting', PATIENCE_MS);
    // Its second read of the tip (the first is where it starts) comes before any commit.
    await waitFor('the first round to ask for the tip', async () => tipReads() >= readsBefore + 2, PATIENCE_MS, 5);
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await readWatermark(stack.database.sql)).toBeUndefined();
    expect((await getTracking(stack.database.db, nft.originalId, 'anywhere'))?.firstCheckpoint).toBeNull();
    const firstNext = BigInt(/"next":(\d+)/.exec(first.output())![1]);

    // The tip moves on: the restart begins at a newer one than the killed process did.
    stack.simnet.setKnobs({ latencyMs: 0 });
    await waitFor('the tip to move on', async () => stack.chain.tip() > firstNext + 10n, PATIENCE_MS);
    await noIndexerRunning(stack);
    const second = indexer();
    const tracking = await startedTracking(stack, nft.originalId);
    expect(tracking.firstCheckpoint).toBeGreaterThan(firstNext);
    expect(await readerLo()).toBe(tracking.firstCheckpoint);
    const continuation = await requestFrom(stack, nft.originalId, endedAt + 1n);
    expect(continuation.toCheckpoint).toBe(String(tracking.firstCheckpoint - 1n));
    await stack.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
    await expectExactCoverage(stack, nft.originalId, await indexerPast(stack, tracking.firstCheckpoint + 30n));
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('warns of a first checkpoint past the tip, waits for the chain to get there, then starts exactly there', async () => {
    const first = stack.chain.tip() + 40n;
    const started = indexer(['--first-checkpoint', String(first)]);
    await waitForOutput(started, 'the first checkpoint is past the tip; the indexer waits for the chain to reach it', PATIENCE_MS);
    const warning = JSON.parse(started.output().split('\n').find((line) => line.includes('the first checkpoint is past the tip'))!);
    expect({ level: warning.level, firstCheckpoint: String(warning.firstCheckpoint), below: BigInt(warning.tip) < first }).toEqual({ level: 40, firstCheckpoint: String(first), below: true });
    await waitFor('the indexer to commit past its first checkpoint', async () => ((await readWatermark(stack.database.sql))?.checkpointHiInclusive ?? -1n) >= first, PATIENCE_MS);
    expect(await readerLo()).toBe(first);
    started.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);
  });

  it('starts at INDEXER_FIRST_CHECKPOINT; a restart with a lower --first-checkpoint resumes from the watermark', async () => {
    const first = indexer([], { INDEXER_FIRST_CHECKPOINT: '1200' });
    await waitForOutput(first, '"next":1200,"resumed":false', PATIENCE_MS);
    await indexerPast(stack, 1_230n);
    expect(await readerLo()).toBe(1_200n);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const stoppedAt = (await readWatermark(stack.database.sql))!.checkpointHiInclusive;

    await noIndexerRunning(stack);
    const second = indexer(['--first-checkpoint', '600']);
    await waitForOutput(second, `"next":${stoppedAt + 1n},"resumed":true`, PATIENCE_MS);
    const seen: bigint[] = [];
    const target = stoppedAt + 30n;
    await waitFor('the restarted indexer to move on', async () => {
      const hi = (await readWatermark(stack.database.sql))!.checkpointHiInclusive;
      seen.push(hi);
      return hi >= target;
    }, PATIENCE_MS);
    expect(Math.min(...seen.map(Number))).toBeGreaterThanOrEqual(Number(stoppedAt));
    expect(await readerLo()).toBe(1_200n);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('stops with one line and exit code 1 when its first checkpoint is below what the node serves', async () => {
    stack.simnet.setKnobs({ lowestAvailableCheckpoint: 500 });
    const spawned = indexer(['--first-checkpoint', '100'], { LOG_LEVEL: 'silent', INDEXER_BATCH_SIZE: '1' });
    expect((await spawned.exited).code).toBe(1);
    expect(spawned.output().trim()).toBe(
      `indexer stopped: range_not_served: checkpoint 100 is below the lowest available checkpoint 500 of ${stack.simnet.url}; ` +
        'configure an archival endpoint (SUI_ARCHIVE_GRPC_URL) that serves this history',
    );
    expect(await readWatermark(stack.database.sql)).toBeUndefined();
  });

  it('fetches as many checkpoints at once as an operator allows with PUT /v1/config/rpc, changed while it catches up', async () => {
    stack.simnet.setKnobs({ latencyMs: 50 });
    try {
      expect((await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 4 })).status).toBe(200);
      const running = await inProcessIndexer(200n);
      await indexerPast(stack, 210n);
      // No more than the budget lets through: at most a call outside the stream of checkpoints (a
      // published package described) waits behind it.
      const capped = await peakRpcLoadUntil((peak) => peak.inFlight >= 4);
      expect(capped.inFlight).toBe(4);
      expect(capped.queued).toBeLessThanOrEqual(1);
      expect((await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 40 })).status).toBe(200);
      // More than the environment's RPC_CONCURRENCY (16) the indexer started with.
      expect((await peakRpcLoadUntil((peak) => peak.inFlight > 16)).inFlight).toBeGreaterThan(16);
      await running.close();
    } finally {
      await stack.call('DELETE', '/v1/config/rpc');
    }
  });

  it('stops rather than run beside another indexer when its lock session was lost and another took the lock', async () => {
    const running = await inProcessIndexer(1_400n);
    await indexerPast(stack, 1_410n);
    // Slow RPCs keep the indexer away from its lock check while the test takes the lock.
    stack.simnet.setKnobs({ latencyMs: 1_000 });
    await sleep(200);
    const [holder] = await stack.database.sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = current_database() and application_name = 'sui-backfill indexer lock'`;
    await stack.database.sql`select pg_terminate_backend(${holder.pid})`;
    const other = createIndexerLock(stack.database.url, stack.common.logger);
    try {
      await waitFor('the lock to be free', async () => {
        try {
          await other.hold();
          return true;
        } catch {
          return false;
        }
      }, PATIENCE_MS);
      await expect(running.done).rejects.toBeInstanceOf(IndexerAlreadyRunningError);
      const stoppedAt = (await readWatermark(stack.database.sql))!.checkpointHiInclusive;
      await sleep(500);
      expect((await readWatermark(stack.database.sql))!.checkpointHiInclusive).toBe(stoppedAt);
    } finally {
      await other.release();
    }
  });
});
