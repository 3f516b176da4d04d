import { afterEach, describe, expect, it } from 'vitest';
import { getTracking } from '../src/indexer/registry.ts';
import { readWatermark } from '../src/indexer/watermark.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until the indexer's framework watermark is at or past `checkpoint`. */
async function indexerPast(s: Stack, checkpoint: bigint) {
  await waitFor(`the indexer to pass ${checkpoint}`, async () => {
    const watermark = await readWatermark(s.database.sql);
    return watermark !== undefined && watermark.checkpointHiInclusive >= checkpoint;
  });
}

/** sui_objects rows up to `to` equal the chain's object versions of the family over [publish, to]. */
async function expectExactCoverage(s: Stack, packageId: string, to: bigint) {
  const publish = s.chain.publishCheckpoint(packageId);
  const truth = s.truth(packageId, 'anywhere', publish, to);
  expect(truth.length).toBeGreaterThan(0);
  const rows = (await s.objects()).filter((row) => row.checkpoint <= to);
  expect(rows).toEqual(truth);
}

const liveChain = { chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 50 } };

describe('live indexer and backfill handoff', () => {
  it('a backfill ends where the running indexer starts covering the package: no gap, exact rows', async () => {
    stack = await startStack(liveChain);
    await stack.startIndexer();
    await stack.startWorker();
    const dex = stack.chain.package('dex');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.versions[2].id, match: 'anywhere' });
    expect(posted.body).toMatchObject({ status: 'queued' });
    expect(posted.status).toBe(202);
    const tracking = await getTracking(stack.database.db, dex.originalId, 'anywhere');
    expect(tracking?.firstCheckpoint).not.toBeNull();
    expect(BigInt(posted.body.toCheckpoint)).toBe(tracking!.firstCheckpoint! - 1n);
    await stack.waitForStatus(posted.body.id, ['completed']);
    const later = tracking!.firstCheckpoint! + 60n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, dex.originalId, later);
  });

  it('keeps the coverage exact when the indexer restarts in the middle', async () => {
    stack = await startStack(liveChain);
    const first = await stack.startIndexer();
    await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
    const book = stack.chain.package('book');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const start = BigInt(posted.body.toCheckpoint) + 1n;
    await indexerPast(stack, start + 10n);
    await first.close();
    const stoppedAt = (await readWatermark(stack.database.sql))!.checkpointHiInclusive;
    await sleep(600);
    await stack.startIndexer();
    await stack.waitForStatus(posted.body.id, ['completed']);
    const later = stoppedAt + 60n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, book.originalId, later);
  });

  it('closes the gap with a continuation when the indexer starts only after the request', async () => {
    stack = await startStack(liveChain);
    await stack.startWorker();
    const nft = stack.chain.package('nft');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const endedAt = BigInt(posted.body.toCheckpoint);
    expect((await getTracking(stack.database.db, nft.originalId, 'anywhere'))?.firstCheckpoint).toBeNull();
    await stack.waitForStatus(posted.body.id, ['completed']);
    await sleep(1_000);
    await stack.startIndexer();
    const tracking = await waitFor('the indexer to start tracking', async () => {
      const found = await getTracking(stack!.database.db, nft.originalId, 'anywhere');
      return found?.firstCheckpoint != null ? found : undefined;
    });
    expect(tracking.firstCheckpoint! - 1n).toBeGreaterThan(endedAt);
    const continuation = await waitFor('the continuation request', async () => {
      const { body } = await stack!.call('GET', `/v1/backfills?packageId=${nft.originalId}`);
      return body.items.find((item: { fromCheckpoint: string }) => item.fromCheckpoint === String(endedAt + 1n));
    });
    expect(continuation.toCheckpoint).toBe(String(tracking.firstCheckpoint! - 1n));
    const detail = await stack.call('GET', `/v1/backfills/${continuation.id}`);
    expect(detail.body.transitions[0]).toMatchObject({ to: 'queued', actor: 'handoff' });
    await stack.waitForStatus(continuation.id, ['completed']);
    const later = tracking.firstCheckpoint! + 40n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, nft.originalId, later);
  });

  it('records packages published and upgraded while it runs, with their checkpoints and families', async () => {
    stack = await startStack({ chain: { checkpoints: 2_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 10 } });
    const late = stack.chain.package('late');
    expect(late.versions[0].publishCheckpoint).toBeGreaterThan(1_500n);
    await stack.startIndexer();
    await indexerPast(stack, late.versions[late.versions.length - 1].publishCheckpoint);
    const rows = await stack.database.sql`
      select package_id, original_id, version, publish_checkpoint, publish_tx_digest, recorded_by, type_origins
      from sui_packages order by version`;
    expect(rows.map((row) => ({ ...row, type_origins: undefined }))).toEqual(
      late.versions.map((version) => ({
        package_id: version.id,
        original_id: late.originalId,
        version: String(version.version),
        publish_checkpoint: String(version.publishCheckpoint),
        publish_tx_digest: version.publishTxDigest,
        recorded_by: 'indexer',
        type_origins: undefined,
      })),
    );
    for (const [index, version] of late.versions.entries()) {
      expect(rows[index].type_origins).toEqual(version.typeOrigins);
    }
    // The registry answers intake for this family without the RPC: posted by its newest ID.
    await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: late.versions[late.versions.length - 1].id, match: 'anywhere' });
    expect(posted.status).toBe(202);
    expect(posted.body.originalPackageId).toBe(late.originalId);
    expect(posted.body.fromCheckpoint).toBe(String(late.versions[0].publishCheckpoint));
  });
});
