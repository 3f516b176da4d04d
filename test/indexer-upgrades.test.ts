import { afterEach, describe, expect, it } from 'vitest';
import { startIndexer } from '../src/indexer/process.ts';
import { readWatermark } from '../src/indexer/watermark.ts';
import { NotFoundError } from '../src/sui/errors.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { CASE_TIMEOUT_MS, expectExactCoverage, indexerPast, PATIENCE_MS, requestFrom, startedTracking } from './helpers/indexer.ts';
import { startStack, type Stack, type StackOptions } from './helpers/stack.ts';

/**
 * A tracked package's family grows while the tip advances: `late` v3 adds `late::Extra` after the
 * stack's initial tip. Whoever resolved the family before that upgrade must still match its objects.
 */

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const LATE_AT = [1_000, 1_200, 1_600];
/**
 * A POST waits for a running indexer as long as a loaded machine may need: the cases assert where
 * the indexer's coverage begins, never intake giving up on it and ending at the tip.
 */
const HANDOFF_ENV = { INDEXER_HANDOFF_TIMEOUT_MS: String(PATIENCE_MS) };
const upgrading = (overrides: Partial<StackOptions> = {}): StackOptions => ({
  chain: { checkpoints: 6_000, initialTip: 1_500, publishAt: { late: LATE_AT } },
  knobs: { tipAdvanceMs: 20 },
  env: HANDOFF_ENV,
  ...overrides,
});

/**
 * A worker and an indexer that saw late's first versions and is behind its last upgrade, at 100 ms
 * per RPC: a batch of 400 checkpoints in flight takes seconds. The tip stays at 1750.
 */
async function behindTheLastUpgrade(): Promise<Stack> {
  const started = await startStack(
    upgrading({
      chain: { checkpoints: 6_000, initialTip: 1_750, publishAt: { late: LATE_AT } },
      knobs: { tipAdvanceMs: 0, latencyMs: 100 },
      env: { ...HANDOFF_ENV, INDEXER_BATCH_SIZE: '400' },
    }),
  );
  await started.startWorker();
  await started.startIndexer({ firstCheckpoint: 900n });
  await indexerPast(started, 1_299n);
  const late = started.chain.package('late');
  expect((await readWatermark(started.database.sql))!.checkpointHiInclusive).toBeLessThan(late.versions[2].publishCheckpoint);
  return started;
}

/**
 * A stack whose backfill of late ended before its last upgrade, which is then published with no
 * indexer to see it. The tip stands until the backfill is posted: however long the stack took to
 * start, the request ends before the upgrade.
 */
async function backfilledBeforeTheUpgrade(): Promise<{ endedAt: bigint }> {
  stack = await startStack(upgrading({ knobs: { tipAdvanceMs: 0 } }));
  await stack.startWorker();
  const late = stack.chain.package('late');
  const posted = await stack.call('POST', '/v1/backfills', { packageId: late.originalId, match: 'anywhere' });
  expect(posted.status).toBe(202);
  const endedAt = BigInt(posted.body.toCheckpoint);
  expect(endedAt).toBe(1_500n);
  stack.simnet.setKnobs({ tipAdvanceMs: 20 });
  await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
  await waitFor('the upgrade to be published', async () => stack!.chain.tip() >= late.versions[2].publishCheckpoint + 20n, PATIENCE_MS);
  return { endedAt };
}

/**
 * Once an indexer runs: its tracking of late holds the last upgrade, the continuation from `endedAt`
 * completes, and the coverage, late::Extra objects included, is exact. Returns the tracking.
 */
async function expectTrackedWithTheUpgrade(s: Stack, endedAt: bigint) {
  const late = s.chain.package('late');
  const tracking = await startedTracking(s, late.originalId);
  expect(tracking.familyIds).toContain(late.versions[2].id);
  const continuation = await requestFrom(s, late.originalId, endedAt + 1n);
  await s.waitForStatus(continuation.id, ['completed'], PATIENCE_MS);
  const later = await indexerPast(s, tracking.firstCheckpoint + 60n);
  expect(extras(s, tracking.firstCheckpoint, later).length).toBeGreaterThan(0);
  await expectExactCoverage(s, late.originalId, later);
  return tracking;
}

/** The `late::Extra` object versions the chain holds over [from, to]: what only the upgraded family matches. */
function extras(s: Stack, from: bigint, to: bigint) {
  return s.truth(s.chain.package('late').originalId, 'anywhere', from, to).filter((row) => row.typeName === 'Extra');
}

describe('upgrades of a tracked package', { timeout: CASE_TIMEOUT_MS }, () => {
  it('an upgrade adding a struct while the indexer runs: the new objects are indexed, coverage exact', async () => {
    // The tip stands until the tracking has started: however long the stack took to start, it starts before the upgrade.
    stack = await startStack(upgrading({ knobs: { tipAdvanceMs: 0 } }));
    await stack.startIndexer();
    await stack.startWorker();
    const late = stack.chain.package('late');
    expect(late.versions[2].publishCheckpoint).toBeGreaterThan(1_500n);
    const posted = await stack.call('POST', '/v1/backfills', { packageId: late.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const tracking = await startedTracking(stack, late.originalId);
    expect(tracking.firstCheckpoint).toBeLessThan(late.versions[2].publishCheckpoint);
    // Resolved before the upgrade: the request knows two versions.
    expect(tracking.familyIds).not.toContain(late.versions[2].id);
    stack.simnet.setKnobs({ tipAdvanceMs: 20 });
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);

    const later = await indexerPast(stack, late.versions[2].publishCheckpoint + 60n);
    expect(extras(stack, late.versions[2].publishCheckpoint, later).length).toBeGreaterThan(0);
    await expectExactCoverage(stack, late.originalId, later);
    expect((await startedTracking(stack, late.originalId)).familyIds).toContain(late.versions[2].id);
  });

  it('an upgrade while no indexer ran: the indexer starting later tracks the whole family, coverage exact', async () => {
    const { endedAt } = await backfilledBeforeTheUpgrade();
    await stack!.startIndexer();
    const tracking = await expectTrackedWithTheUpgrade(stack!, endedAt);
    expect(tracking.firstCheckpoint).toBeGreaterThan(stack!.chain.package('late').versions[2].publishCheckpoint);
  });

  it('an upgrade the indexer commits while intake waits is part of the request', async () => {
    // The indexer saw late's first versions, so intake resolves the family from the registry, then
    // waits while the indexer's slow batch in flight commits the upgrade; the tracking starts after it.
    stack = await behindTheLastUpgrade();
    const late = stack.chain.package('late');
    const before = stack.simnet.stats().requests;
    const posted = await stack.call('POST', '/v1/backfills', { packageId: late.originalId, match: 'anywhere' });
    stack.simnet.setKnobs({ latencyMs: 0 });
    expect(posted.status).toBe(202);
    // Resolved from the registry: no package lookups at the RPC.
    expect((stack.simnet.stats().requests.ListPackageVersions ?? 0) - (before.ListPackageVersions ?? 0)).toBe(0);
    const tracking = await startedTracking(stack, late.originalId);
    expect(tracking.firstCheckpoint).toBeGreaterThan(late.versions[2].publishCheckpoint);
    expect(BigInt(posted.body.toCheckpoint)).toBe(tracking.firstCheckpoint - 1n);
    const [request] = await stack.database.sql<{ family_ids: string[] }[]>`select family_ids from package_backfill_requests where id = ${posted.body.id}`;
    expect(request.family_ids).toContain(late.versions[2].id);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);

    expect(extras(stack, late.versions[2].publishCheckpoint, tracking.firstCheckpoint - 1n).length).toBeGreaterThan(0);
    await expectExactCoverage(stack, late.originalId, await indexerPast(stack, 1_750n));
  });

  it('an indexer that started after the publish saw only an upgrade: intake resolves the family from the RPC, from its publish', async () => {
    stack = await startStack(upgrading());
    await stack.startIndexer({ firstCheckpoint: 1_100n });
    const late = stack.chain.package('late');
    await indexerPast(stack, late.versions[1].publishCheckpoint + 20n);
    const registry = await stack.database.sql<{ package_id: string; recorded_by: string }[]>`select package_id, recorded_by from sui_packages`;
    // The last upgrade may be in already; the publish is not.
    expect(registry.filter((row) => row.package_id !== late.versions[2].id)).toEqual([{ package_id: late.versions[1].id, recorded_by: 'indexer' }]);
    await stack.startWorker();
    const posted = await stack.call('POST', '/v1/backfills', { packageId: late.versions[1].id, match: 'anywhere' });
    expect(posted.status).toBe(202);
    expect(posted.body.fromCheckpoint).toBe(String(late.versions[0].publishCheckpoint));
    const tracking = await startedTracking(stack, late.originalId);
    expect(BigInt(posted.body.toCheckpoint)).toBe(tracking.firstCheckpoint - 1n);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await expectExactCoverage(stack, late.originalId, await indexerPast(stack, tracking.firstCheckpoint + 30n));
  });

  it('an explicit range past the indexer\'s position is resolved from the RPC: upgrades the indexer has not reached are matched', async () => {
    // The range holds late::Extra objects of the upgrade the indexer has not reached.
    stack = await behindTheLastUpgrade();
    const late = stack.chain.package('late');
    const range = { fromCheckpoint: late.versions[0].publishCheckpoint, toCheckpoint: 1_740n };
    const posted = await stack.call('POST', '/v1/backfills', {
      packageId: late.originalId,
      match: 'anywhere',
      fromCheckpoint: Number(range.fromCheckpoint),
      toCheckpoint: Number(range.toCheckpoint),
    });
    stack.simnet.setKnobs({ latencyMs: 0 });
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ fromCheckpoint: String(range.fromCheckpoint), toCheckpoint: String(range.toCheckpoint) });
    const [request] = await stack.database.sql<{ family_ids: string[] }[]>`select family_ids from package_backfill_requests where id = ${posted.body.id}`;
    expect(request.family_ids).toContain(late.versions[2].id);
    await stack.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    expect(extras(stack, late.versions[2].publishCheckpoint, range.toCheckpoint).length).toBeGreaterThan(0);
    expect((await stack.objects()).filter((row) => row.checkpoint <= range.toCheckpoint)).toEqual(
      stack.truth(late.originalId, 'anywhere', range.fromCheckpoint, range.toCheckpoint),
    );
  });

  it('a node that does not know the newest version yet holds the tracking back: it never starts with a stale family', async () => {
    const { endedAt } = await backfilledBeforeTheUpgrade();
    const s = stack!;

    // The first re-reads of the family reach a node that lags behind the upgrade and does not know the package yet.
    let lagging = 3;
    const source = {
      ...s.source,
      resolvePackage: async (id: string, options?: { signal?: AbortSignal }) => {
        if (lagging > 0) {
          lagging--;
          throw new NotFoundError(`no package or object with ID ${id} exists`);
        }
        return s.source.resolvePackage(id, options);
      },
    };
    const indexer = await startIndexer(s.common, { db: s.database, source });
    try {
      await expectTrackedWithTheUpgrade(s, endedAt);
      expect(lagging).toBe(0);
    } finally {
      await indexer.close();
    }
  });
});
