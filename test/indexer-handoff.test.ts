import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandoff } from '../src/backfill/handoff.ts';
import { MIGRATIONS_FOLDER } from '../src/db/migrate.ts';
import { getTracking } from '../src/indexer/registry.ts';
import { readWatermark } from '../src/indexer/watermark.ts';
import type { ObjectVersionRow } from '../src/sui/records.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { createTestDatabase } from './helpers/db.ts';
import { CASE_TIMEOUT_MS, expectExactCoverage, indexerPast, PATIENCE_MS, requestFrom, startedTracking } from './helpers/indexer.ts';
import { sortRows, startStack, type Stack, type StackOptions } from './helpers/stack.ts';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/**
 * Dense package traffic: an off-by-one where backfill and indexer meet is more likely to change the
 * rows. A POST waits for a running indexer as long as a loaded machine may need: the cases that
 * assert where the indexer's coverage begins never see intake give up on it.
 */
const liveChain: StackOptions = {
  chain: { checkpoints: 6_000, initialTip: 1_500, packageTrafficFraction: 0.9 },
  knobs: { tipAdvanceMs: 50 },
  env: { INDEXER_HANDOFF_TIMEOUT_MS: String(PATIENCE_MS) },
};

/**
 * A chain of liveChain's whose tip stands at `tip` until the test moves it: where the handoff
 * happens is then known before the test runs, and chosen where the package has rows on both sides.
 */
const standingAt = (tip: number): StackOptions => ({ ...liveChain, chain: { ...liveChain.chain, initialTip: tip }, knobs: { tipAdvanceMs: 0 } });

/** The chain has object versions of the package at each of `checkpoints`: ending or starting one off there changes the rows. */
function expectRowsAt(s: Stack, originalId: string, checkpoints: bigint[]) {
  const sorted = [...checkpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const truth = s.truth(originalId, 'anywhere', sorted[0], sorted[sorted.length - 1]);
  expect(checkpoints.filter((checkpoint) => !truth.some((row) => row.checkpoint === checkpoint))).toEqual([]);
}

/** The package's requests, as the list shows them: ids, sorted. */
async function requestIds(s: Stack, originalId: string): Promise<string[]> {
  return ((await s.call('GET', `/v1/backfills?packageId=${originalId}`)).body.items as { id: string }[]).map((item) => item.id).sort();
}

type ListedRequest = { id: string; fromCheckpoint: string; toCheckpoint: string; status: string };

/** The package's requests as `from-to:status`, sorted. */
async function requestRanges(s: Stack, originalId: string): Promise<string[]> {
  const { items } = (await s.call('GET', `/v1/backfills?packageId=${originalId}`)).body as { items: ListedRequest[] };
  return items.map((item) => `${item.fromCheckpoint}-${item.toCheckpoint}:${item.status}`).sort();
}

/** The union of the chain's object versions of several stretches (of one family or several), each once. */
function truthOf(s: Stack, stretches: [originalId: string, from: bigint, to: bigint][]): ObjectVersionRow[] {
  const rows = stretches.flatMap(([originalId, from, to]) => s.truth(originalId, 'anywhere', from, to));
  return sortRows([...new Map(rows.map((row) => [`${row.objectId}:${row.version}`, row])).values()]);
}

/** What the package's coverage row holds of the handoff's obligation. */
async function obligationOf(s: Stack, originalId: string) {
  const [row] = await s.database.sql<{ from: string | null; key: string | null; waived: string }[]>`
    select handoff_from::text as from, handoff_options_key as key, waived_ranges::text as waived
    from package_backfill_coverage where package_id = ${originalId} and match = 'anywhere'`;
  return row;
}

describe('live indexer and backfill handoff', { timeout: CASE_TIMEOUT_MS }, () => {
  it('a backfill ends where the running indexer starts covering the package, the tip standing or advancing every 50 ms: no gap, exact rows', async () => {
    // The indexer waits at the standing tip, so it starts the tracking just after it.
    const tip = 1_510n;
    stack = await startStack(standingAt(Number(tip)));
    const dex = stack.chain.package('dex');
    expectRowsAt(stack, dex.originalId, [tip, tip + 1n]);
    await stack.startIndexer();
    await indexerPast(stack, tip);
    await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.versions[2].id, match: 'anywhere' });
    expect(posted.body).toMatchObject({ status: 'queued', toCheckpoint: String(tip) });
    expect(posted.status).toBe(202);
    const tracking = await getTracking(stack.database.db, dex.originalId, 'anywhere');
    expect(tracking?.firstCheckpoint).toBe(tip + 1n);

    // A package published long before, posted while the tip advances every 50 ms and the indexer follows it.
    stack.simnet.setKnobs({ tipAdvanceMs: 50 });
    await indexerPast(stack, tip + 5n);
    const book = stack.chain.package('book');
    const live = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(live.status).toBe(202);
    const bookTracking = await startedTracking(stack, book.originalId);
    expect(bookTracking.firstCheckpoint).toBeGreaterThan(tip + 5n);
    expect(live.body.toCheckpoint).toBe(String(bookTracking.firstCheckpoint - 1n));
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await stack.waitForStatus(live.body.id, ['completed'], PATIENCE_MS);
    const later = await indexerPast(stack, bookTracking.firstCheckpoint + 30n);
    expect(stack.truth(book.originalId, 'anywhere', bookTracking.firstCheckpoint - 30n, bookTracking.firstCheckpoint + 29n).length).toBeGreaterThan(0);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(
      truthOf(stack, [dex, book].map((family) => [family.originalId, stack!.chain.publishCheckpoint(family.originalId), later])),
    );
  });

  it('keeps the coverage exact when the indexer restarts in the middle of the backfill', async () => {
    stack = await startStack(liveChain);
    const first = await stack.startIndexer();
    await stack.startWorker({ BACKFILL_CHUNK_SIZE: 10 });
    const book = stack.chain.package('book');
    // Slow RPCs keep the backfill's 130 chunks going for seconds: the restart lands in its middle.
    stack.simnet.setKnobs({ latencyMs: 30 });
    const posted = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const start = BigInt(posted.body.toCheckpoint) + 1n;
    await indexerPast(stack, start + 10n);
    await first.close();
    const stoppedAt = (await readWatermark(stack.database.sql))!.checkpointHiInclusive;
    await sleep(600);
    await stack.startIndexer();
    const atRestart = await stack.call('GET', `/v1/backfills/${posted.body.id}`);
    expect(atRestart.body.status).toBe('running');
    expect(BigInt(atRestart.body.watermark.checkpointHiInclusive)).toBeLessThan(start - 100n);
    stack.simnet.setKnobs({ latencyMs: 0 });
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    const later = stoppedAt + 60n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, book.originalId, later);
  });

  it('closes the gap with a continuation when the indexer starts only after the request; deleting finished requests reopens nothing', async () => {
    // The tip advances every 50 ms throughout: the backfill ends at the tip intake read, the indexer
    // starts at a later one. (Where both are chosen in advance: the deletions' cases below.)
    stack = await startStack(liveChain);
    const nft = stack.chain.package('nft');
    await stack.startWorker();
    const tipBefore = stack.chain.tip();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const tip = BigInt(posted.body.toCheckpoint);
    expect(tip).toBeGreaterThanOrEqual(tipBefore);
    expect(tip).toBeLessThanOrEqual(stack.chain.tip());
    expect((await getTracking(stack.database.db, nft.originalId, 'anywhere'))?.firstCheckpoint).toBeNull();
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await waitFor('the tip to move on', async () => stack!.chain.tip() > tip + 20n, PATIENCE_MS);
    await stack.startIndexer();
    const tracking = await startedTracking(stack, nft.originalId);
    const start = tracking.firstCheckpoint;
    expect(start).toBeGreaterThan(tip + 20n);
    // The gap holds objects of the package: leaving it open changes the rows.
    expect(stack.truth(nft.originalId, 'anywhere', tip + 1n, start - 1n).length).toBeGreaterThan(0);
    const continuation = await requestFrom(stack, nft.originalId, tip + 1n);
    expect(continuation.toCheckpoint).toBe(String(start - 1n));
    const detail = await stack.call('GET', `/v1/backfills/${continuation.id}`);
    expect(detail.body.transitions[0]).toMatchObject({ to: 'queued', actor: 'handoff' });
    await stack.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
    const later = tracking.firstCheckpoint + 40n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, nft.originalId, later);

    // The package's coverage outlives the requests: deleting them moves its watermark nowhere, and
    // the handoff sees nothing to close again.
    const publish = stack.chain.publishCheckpoint(nft.originalId);
    const watermark = async () => (await stack!.call('GET', `/v1/packages/${nft.originalId}/watermark?match=anywhere`)).body;
    const before = await watermark();
    expect(before).toMatchObject({ checkpointHiInclusive: String(start - 1n), doneRanges: `{[${publish},${start})}` });
    expect((await stack.call('DELETE', `/v1/backfills/${continuation.id}`)).status).toBe(204);
    expect(await watermark()).toEqual({ ...before, requests: before.requests.filter((request: { id: string }) => request.id !== continuation.id) });
    // Several handoff checks later (RECONCILE_INTERVAL_MS is 500 ms): no new continuation.
    await sleep(2_000);
    expect(await requestIds(stack, nft.originalId)).toEqual([posted.body.id]);
    expect((await stack.call('DELETE', `/v1/backfills/${posted.body.id}`)).status).toBe(204);
    expect(await watermark()).toEqual({ ...before, requests: [] });
    await sleep(1_000);
    expect(await requestIds(stack, nft.originalId)).toEqual([]);
  });

  it('continues a request given only its fromCheckpoint: its end defaulted like any other', async () => {
    stack = await startStack(liveChain);
    await stack.startWorker();
    const nft = stack.chain.package('nft');
    const from = stack.chain.publishCheckpoint(nft.originalId) + 1n;
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere', fromCheckpoint: Number(from) });
    expect(posted.status).toBe(202);
    const endedAt = BigInt(posted.body.toCheckpoint);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await waitFor('the tip to move on', async () => stack!.chain.tip() > endedAt + 5n, PATIENCE_MS);
    await stack.startIndexer();
    const tracking = await startedTracking(stack, nft.originalId);
    expect(tracking.firstCheckpoint - 1n).toBeGreaterThan(endedAt);
    const continuation = await requestFrom(stack, nft.originalId, endedAt + 1n);
    expect(continuation.toCheckpoint).toBe(String(tracking.firstCheckpoint - 1n));
    // The same options: a POST of the same range meanwhile finds the continuation.
    const [{ options_key: key }] = await stack.database.sql<{ options_key: string }[]>`select options_key from package_backfill_requests where id = ${continuation.id}`;
    expect(key).toBe(`match=anywhere;from=${from}`);
    await stack.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
    const later = await indexerPast(stack, tracking.firstCheckpoint + 40n);
    const truth = stack.truth(nft.originalId, 'anywhere', from, later);
    expect(truth.length).toBeGreaterThan(0);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(truth);
    expect(await requestIds(stack, nft.originalId)).toEqual([posted.body.id, continuation.id].sort());
  });

  it('two replicas checking at once create one continuation, even when it finishes while the other reads the family', async () => {
    stack = await startStack(liveChain);
    const book = stack.chain.package('book');
    const first = await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    // No worker runs a handoff check of its own from here on: the two below are the replicas.
    await first.close();
    await waitFor('the tip to move on', async () => stack!.chain.tip() > BigInt(posted.body.toCheckpoint) + 5n, PATIENCE_MS);
    await stack.startIndexer();
    await startedTracking(stack, book.originalId);

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reading = false;
    const slow = createHandoff(stack.common, stack.database, {
      resolvePackage: async (id) => {
        reading = true;
        await gate;
        return stack!.source.resolvePackage(id);
      },
    }, stack.queue);
    const fast = createHandoff(stack.common, stack.database, stack.source, stack.queue);
    const slowRun = slow.runOnce();
    await waitFor('the slow replica to read the family', async () => reading || undefined, PATIENCE_MS);
    const [continuation, ...more] = await fast.runOnce();
    expect(more).toEqual([]);
    const walker = await stack.startWorker();
    await stack.waitForStatus(continuation, ['completed'], PATIENCE_MS);
    await walker.close();
    release();
    expect(await slowRun).toEqual([]);
    expect(await requestIds(stack, book.originalId)).toEqual([posted.body.id, continuation].sort());
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
    const before = stack.simnet.stats().requests;
    const posted = await stack.call('POST', '/v1/backfills', { packageId: late.versions[late.versions.length - 1].id, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const after = stack.simnet.stats().requests;
    const resolutionCalls = ['GetPackage', 'ListPackageVersions', 'GetObject', 'BatchGetObjects', 'GetTransaction', 'BatchGetTransactions'];
    expect(resolutionCalls.map((method) => (after[method] ?? 0) - (before[method] ?? 0))).toEqual(resolutionCalls.map(() => 0));
    expect((after.GetServiceInfo ?? 0) - (before.GetServiceInfo ?? 0)).toBeGreaterThan(0);
    expect(posted.body.originalPackageId).toBe(late.originalId);
    expect(posted.body.fromCheckpoint).toBe(String(late.versions[0].publishCheckpoint));
  });

  it('ends the backfill where a far-behind indexer starts, however far back; the indexer covers the rest as it catches up', async () => {
    stack = await startStack(liveChain);
    await stack.startWorker();
    await stack.startIndexer({ firstCheckpoint: 200n });
    const dex = stack.chain.package('dex');
    expect(dex.versions[0].publishCheckpoint).toBeLessThan(200n);
    const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const tracking = await getTracking(stack.database.db, dex.originalId, 'anywhere');
    expect(BigInt(posted.body.toCheckpoint)).toBe(tracking!.firstCheckpoint! - 1n);
    // Far behind: the indexer covers the package from well before the tip.
    expect(tracking!.firstCheckpoint!).toBeLessThan(1_000n);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    // Past the initial tip: the upgrades at the chain's 6% and 12% were processed live on the way.
    const later = 1_600n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, dex.originalId, later);
    const { body } = await stack.call('GET', `/v1/backfills?packageId=${dex.originalId}`);
    expect(body.items.map((item: { id: string }) => item.id)).toEqual([posted.body.id]);
  });

  it('a POST the indexer does not answer within INDEXER_HANDOFF_TIMEOUT_MS ends at the tip; a continuation closes the gap', async () => {
    stack = await startStack({ ...liveChain, env: { INDEXER_HANDOFF_TIMEOUT_MS: '300' } });
    await stack.startWorker();
    await stack.startIndexer();
    await indexerPast(stack, 1_500n);
    // 400 ms per RPC: the indexer's next start of a tracking (tip, family) is seconds away.
    stack.simnet.setKnobs({ latencyMs: 400 });
    const token = stack.chain.package('token');
    const began = performance.now();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: token.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    expect(performance.now() - began).toBeGreaterThanOrEqual(300);
    const endedAt = BigInt(posted.body.toCheckpoint);
    stack.simnet.setKnobs({ latencyMs: 0 });
    const tracking = await startedTracking(stack, token.originalId);
    expect(tracking.firstCheckpoint - 1n).toBeGreaterThan(endedAt);
    const continuation = await requestFrom(stack, token.originalId, endedAt + 1n);
    expect(continuation.toCheckpoint).toBe(String(tracking.firstCheckpoint - 1n));
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await stack.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
    const later = tracking.firstCheckpoint + 30n;
    await indexerPast(stack, later);
    await expectExactCoverage(stack, token.originalId, later);
  });

  it('continues no backfill given its toCheckpoint, and never recreates a continuation the operator cancelled', async () => {
    stack = await startStack(liveChain);
    await stack.startWorker();
    const token = stack.chain.package('token');
    const book = stack.chain.package('book');
    const tokenPublish = stack.chain.publishCheckpoint(token.originalId);
    const explicitTo = 1_000n;
    const explicit = await stack.call('POST', '/v1/backfills', {
      packageId: token.originalId,
      match: 'anywhere',
      fromCheckpoint: Number(tokenPublish),
      toCheckpoint: Number(explicitTo),
    });
    expect(explicit.status).toBe(202);
    const defaulted = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(defaulted.status).toBe(202);
    const endedAt = BigInt(defaulted.body.toCheckpoint);
    await stack.waitForStatus(explicit.body.id, ['completed'], PATIENCE_MS);
    await stack.waitForStatus(defaulted.body.id, ['completed'], PATIENCE_MS);

    // Slow RPCs: the continuation is still walking when it is cancelled.
    stack.simnet.setKnobs({ latencyMs: 300 });
    await stack.startIndexer();
    const continuation = await requestFrom(stack, book.originalId, endedAt + 1n);
    expect((await stack.waitForStatus(continuation.id, ['running'], PATIENCE_MS)).workerId).not.toBeNull();
    const cancelled = await stack.call('POST', `/v1/backfills/${continuation.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    // Nobody holds a cancelled request any more: no holder or heartbeat is shown as if one did.
    expect(cancelled.body).toMatchObject({ status: 'cancelled', workerId: null, heartbeatAt: null });
    stack.simnet.setKnobs({ latencyMs: 0 });

    // Several handoff checks later (RECONCILE_INTERVAL_MS is 500 ms): nothing new for either package.
    await sleep(2_500);
    expect(await requestIds(stack, book.originalId)).toEqual([defaulted.body.id, continuation.id].sort());
    expect(await requestIds(stack, token.originalId)).toEqual([explicit.body.id]);

    // The operator resumes the cancelled continuation: it goes on from its watermark and closes the gap.
    const resumed = await stack.call('POST', `/v1/backfills/${continuation.id}/resume`, {});
    expect(resumed.status).toBe(202);
    expect(resumed.body.toCheckpoint).toBe(continuation.toCheckpoint);
    await stack.waitForStatus(resumed.body.id, ['completed'], PATIENCE_MS);
    const bookTracking = await getTracking(stack.database.db, book.originalId, 'anywhere');
    const tokenTracking = await getTracking(stack.database.db, token.originalId, 'anywhere');
    expect(BigInt(continuation.toCheckpoint)).toBe(bookTracking!.firstCheckpoint! - 1n);
    const later = bookTracking!.firstCheckpoint! + 30n;
    await indexerPast(stack, later);
    const rows = (await stack.objects()).filter((row) => row.checkpoint <= later);
    const bookTruth = stack.truth(book.originalId, 'anywhere', stack.chain.publishCheckpoint(book.originalId), later);
    // The token's explicit range and the indexer's coverage, nothing between.
    const tokenTruth = [
      ...stack.truth(token.originalId, 'anywhere', tokenPublish, explicitTo),
      ...stack.truth(token.originalId, 'anywhere', tokenTracking!.firstCheckpoint!, later),
    ];
    expect(tokenTracking!.firstCheckpoint!).toBeGreaterThan(explicitTo + 1n);
    expect(rows).toEqual(sortRows([...new Map([...bookTruth, ...tokenTruth].map((row) => [`${row.objectId}:${row.version}`, row])).values()]));
  });
});

describe('the handoff owes what the package was asked for, whatever becomes of its requests', { timeout: CASE_TIMEOUT_MS }, () => {
  // The default-range backfills end at the standing tip; the indexer, started at a chosen checkpoint, begins the trackings there.
  const tip = 1_517n;
  const start = 1_546n;

  it('closes the gap of a finished backfill deleted before the handoff check, before or after the tracking started', async () => {
    stack = await startStack(standingAt(Number(tip)));
    const nft = stack.chain.package('nft');
    const book = stack.chain.package('book');
    expectRowsAt(stack, nft.originalId, [tip, tip + 1n, start - 1n, start]);
    const first = await stack.startWorker();
    const posted = await Promise.all([nft, book].map((family) => stack!.call('POST', '/v1/backfills', { packageId: family.originalId, match: 'anywhere' })));
    expect(posted.map((answer) => [answer.status, answer.body.toCheckpoint])).toEqual([[202, String(tip)], [202, String(tip)]]);
    for (const answer of posted) await stack.waitForStatus(answer.body.id, ['completed'], PATIENCE_MS);
    // Housekeeping: one finished request is deleted before the indexer starts tracking its package...
    expect((await stack.call('DELETE', `/v1/backfills/${posted[0].body.id}`)).status).toBe(204);
    // ...the other once the tracking has started, before any handoff check ran (no worker runs one).
    await first.close();
    stack.simnet.setKnobs({ tipAdvanceMs: 20 });
    await stack.startIndexer({ firstCheckpoint: start });
    expect((await startedTracking(stack, nft.originalId)).firstCheckpoint).toBe(start);
    await waitFor('the book tracking', async () => (await getTracking(stack!.database.db, book.originalId, 'anywhere'))?.firstCheckpoint === start, PATIENCE_MS);
    expect((await stack.call('DELETE', `/v1/backfills/${posted[1].body.id}`)).status).toBe(204);
    expect(await obligationOf(stack, nft.originalId)).toEqual({ from: String(stack.chain.publishCheckpoint(nft.originalId)), key: 'match=anywhere', waived: '{}' });

    await stack.startWorker();
    const continuations = await Promise.all([nft, book].map((family) => requestFrom(stack!, family.originalId, tip + 1n)));
    expect(continuations.map((request) => request.toCheckpoint)).toEqual([String(start - 1n), String(start - 1n)]);
    const keys = await stack.database.sql<{ options_key: string }[]>`
      select options_key from package_backfill_requests where id in ${stack.database.sql(continuations.map((request) => request.id))}`;
    expect(keys.map((row) => row.options_key)).toEqual(['match=anywhere', 'match=anywhere']);
    for (const continuation of continuations) await stack.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
    const later = await indexerPast(stack, start + 40n);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(
      truthOf(stack, [nft, book].map((family) => [family.originalId, stack!.chain.publishCheckpoint(family.originalId), later])),
    );
  });

  it('walks a stretch it went around for an active request once that request is cancelled', async () => {
    stack = await startStack(standingAt(Number(tip)));
    const nft = stack.chain.package('nft');
    const publish = stack.chain.publishCheckpoint(nft.originalId);
    // The stretch the continuations go around has rows of the package: losing it changes the rows.
    expect(stack.truth(nft.originalId, 'anywhere', 1_525n, 1_535n).length).toBeGreaterThan(0);
    const first = await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere' });
    expect(posted.body.toCheckpoint).toBe(String(tip));
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await first.close();
    stack.simnet.setKnobs({ tipAdvanceMs: 20 });
    await waitFor('the tip to pass the explicit range', async () => stack!.chain.tip() > 1_535n, PATIENCE_MS);
    // An explicit range inside the future gap, left paused (active, claiming its range) while the handoff runs.
    const explicit = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere', fromCheckpoint: 1_525, toCheckpoint: 1_535 });
    expect(explicit.status).toBe(202);
    expect((await stack.call('POST', `/v1/backfills/${explicit.body.id}/pause`, {})).body.status).toBe('paused');
    await stack.startIndexer({ firstCheckpoint: start });
    expect((await startedTracking(stack, nft.originalId)).firstCheckpoint).toBe(start);
    await stack.startWorker();
    // One continuation at a time, each going around the paused request's range.
    const around = [`${publish}-${tip}:completed`, '1518-1524:completed', '1525-1535:paused', '1536-1545:completed'].sort();
    await waitFor('the continuations around the paused request', async () => (await requestRanges(stack!, nft.originalId)).join() === around.join(), PATIENCE_MS);

    expect((await stack.call('POST', `/v1/backfills/${explicit.body.id}/cancel`, {})).body.status).toBe('cancelled');
    // An explicit range waives nothing: what it left open of the obligation is owed still.
    expect((await obligationOf(stack, nft.originalId)).waived).toBe('{}');
    const reopened = await waitFor('the continuation of the cancelled stretch', async () => {
      const { items } = (await stack!.call('GET', `/v1/backfills?packageId=${nft.originalId}`)).body as { items: ListedRequest[] };
      return items.find((item) => item.fromCheckpoint === '1525' && item.id !== explicit.body.id);
    }, PATIENCE_MS);
    expect(reopened.toCheckpoint).toBe('1535');
    expect((await stack.call('GET', `/v1/backfills/${reopened.id}`)).body.transitions[0]).toMatchObject({ to: 'queued', actor: 'handoff' });
    await stack.waitForStatus(reopened.id, ['completed'], PATIENCE_MS);
    const later = await indexerPast(stack, start + 40n);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(stack.truth(nft.originalId, 'anywhere', publish, later));
    expect(await requestRanges(stack, nft.originalId)).toEqual([...around.filter((range) => !range.startsWith('1525')), '1525-1535:cancelled', '1525-1535:completed'].sort());
  });

  it('never recreates a cancelled continuation, not even once it is deleted', async () => {
    stack = await startStack(standingAt(Number(tip)));
    const nft = stack.chain.package('nft');
    const publish = stack.chain.publishCheckpoint(nft.originalId);
    expectRowsAt(stack, nft.originalId, [tip + 1n, start - 1n]);
    const first = await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, match: 'anywhere' });
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    // No worker runs a handoff check of its own until the continuation is gone: this one makes it.
    await first.close();
    stack.simnet.setKnobs({ tipAdvanceMs: 20 });
    await stack.startIndexer({ firstCheckpoint: start });
    await startedTracking(stack, nft.originalId);
    const handoff = createHandoff(stack.common, stack.database, stack.source, stack.queue);
    const [continuation, ...more] = await handoff.runOnce();
    expect(more).toEqual([]);
    const cancelled = await stack.call('POST', `/v1/backfills/${continuation}/cancel`, {});
    expect(cancelled.body).toMatchObject({ status: 'cancelled', fromCheckpoint: String(tip + 1n), toCheckpoint: String(start - 1n), workerId: null, heartbeatAt: null });
    expect(await obligationOf(stack, nft.originalId)).toEqual({ from: String(publish), key: 'match=anywhere', waived: `{[${tip + 1n},${start})}` });
    expect((await stack.call('DELETE', `/v1/backfills/${continuation}`)).status).toBe(204);

    expect(await handoff.runOnce()).toEqual([]);
    await stack.startWorker();
    // Several of the worker's handoff checks later (RECONCILE_INTERVAL_MS is 500 ms): nothing new.
    await sleep(2_000);
    expect(await requestIds(stack, nft.originalId)).toEqual([posted.body.id]);
    const later = await indexerPast(stack, start + 40n);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(
      truthOf(stack, [[nft.originalId, publish, tip], [nft.originalId, start, later]]),
    );
  });

  it('a database migrated from before keeps the obligation of the requests it holds', async () => {
    const database = await createTestDatabase();
    try {
      const { sql } = database;
      const [a, b] = ['0xa', '0xb'].map((id) => id.padEnd(66, '0'));
      const request = async (packageId: string, match: string, key: string, from: number, to: number, status: string, done?: string) => {
        const [row] = await sql<{ id: string }[]>`
          insert into package_backfill_requests (package_id, requested_package_id, family_ids, match, options_key, from_checkpoint, to_checkpoint, status)
          values (${packageId}, ${packageId}, ${[packageId]}, ${match}, ${key}, ${from}, ${to}, ${status}) returning id`;
        if (done) await sql`insert into package_backfill_watermarks (request_id, checkpoint_hi_inclusive, done_ranges) values (${row.id}, ${from - 1}, ${done}::int8multirange)`;
      };
      // A cancelled default-range request, walked out of order, and its resumed continuation, which asks for its remainder again.
      await request(a, 'anywhere', 'match=anywhere', 100, 500, 'cancelled', '{[100,201),[301,351)}');
      await request(a, 'anywhere', 'match=anywhere', 201, 500, 'completed', '{[201,501)}');
      // A cancelled request with only its fromCheckpoint, never walked: it starts the obligation, and all of it is waived.
      await request(a, 'anywhere', 'match=anywhere;from=50', 50, 80, 'cancelled');
      // An explicit range owes nothing and waives nothing.
      await request(a, 'anywhere', 'match=anywhere;from=10;to=20', 10, 20, 'cancelled');
      await request(a, 'outer', 'match=outer', 100, 400, 'queued');
      await request(b, 'anywhere', 'match=anywhere;from=10;to=20', 10, 20, 'completed', '{[10,21)}');
      await sql`insert into package_backfill_coverage (package_id, match, done_ranges) values (${a}, 'anywhere', '{[100,201),[201,501)}')`;

      const migration = readFileSync(path.join(MIGRATIONS_FOLDER, '0005_handoff_obligation.sql'), 'utf8');
      const seeds = migration.split('--> statement-breakpoint').filter((statement) => !statement.trim().startsWith('ALTER TABLE'));
      expect(seeds).toHaveLength(2);
      for (const statement of seeds) await sql.unsafe(statement);

      const rows = await sql`
        select package_id, match, done_ranges::text as done, handoff_from::text as from, handoff_options_key as key, waived_ranges::text as waived
        from package_backfill_coverage order by package_id, match`;
      expect(rows).toEqual([
        { package_id: a, match: 'anywhere', done: '{[100,501)}', from: '50', key: 'match=anywhere;from=50', waived: '{[50,81)}' },
        { package_id: a, match: 'outer', done: '{}', from: '100', key: 'match=outer', waived: '{}' },
      ]);
    } finally {
      await database.drop();
    }
  });
});
