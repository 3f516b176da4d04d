import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/common/config.ts';
import { getTracking } from '../src/indexer/registry.ts';
import { createSimChain } from '../src/simnet/chain.ts';
import { createSimnetServer, type SimnetServer } from '../src/simnet/server.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { startStack, type Stack } from './helpers/stack.ts';

/** Intake's side of the handoff: what it checks before tracking a package, and what it answers. */

const CHAIN = { checkpoints: 1_500, txPerCheckpoint: 4, packageTrafficFraction: 0.3 };

async function trackedPackages(stack: Stack): Promise<string[]> {
  return (await stack.database.sql<{ original_id: string }[]>`select original_id from indexer_tracked_packages order by original_id`).map((row) => row.original_id);
}

describe('intake refusals', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ chain: CHAIN });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a refused POST tracks nothing; an accepted one tracks its package', async () => {
    const nft = stack.chain.package('nft');
    const tip = Number(stack.chain.tip());
    const publish = Number(stack.chain.publishCheckpoint(nft.originalId));
    const refusals: [string, Record<string, unknown>, string][] = [
      ['end beyond the tip', { toCheckpoint: tip + 1 }, 'invalid_range'],
      ['start beyond the tip', { fromCheckpoint: tip + 1 }, 'invalid_range'],
      ['end before the publish', { toCheckpoint: publish - 1 }, 'invalid_range'],
    ];
    for (const [what, range, code] of refusals) {
      const response = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, ...range });
      expect([what, response.status, response.body.error?.code]).toEqual([what, 422, code]);
    }
    stack.simnet.setKnobs({ lowestAvailableCheckpoint: publish + 50 });
    try {
      const pruned = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId, fromCheckpoint: publish });
      expect([pruned.status, pruned.body.error?.code]).toEqual([422, 'range_not_served']);
    } finally {
      stack.simnet.setKnobs({ lowestAvailableCheckpoint: 0 });
    }
    expect(await trackedPackages(stack)).toEqual([]);

    const accepted = await stack.call('POST', '/v1/backfills', { packageId: nft.originalId });
    expect(accepted.status).toBe(202);
    expect(await trackedPackages(stack)).toEqual([nft.originalId]);
  });
});

describe('intake with several full nodes of different retention', () => {
  // Two nodes over the same seeded chain: the preferred one pruned below 500, the other one not.
  let pruned: SimnetServer;
  let full: SimnetServer;
  let stack: Stack;
  beforeAll(async () => {
    pruned = await createSimnetServer({ chain: createSimChain(CHAIN), lowestAvailableCheckpoint: 500 });
    full = await createSimnetServer({ chain: createSimChain(CHAIN) });
    stack = await startStack({ chain: CHAIN, env: { SUI_GRPC_URL: `${pruned.url},${full.url}` } });
  });
  afterAll(async () => {
    await stack?.close();
    await pruned?.close();
    await full?.close();
  });

  it('accepts a range only another node serves, and the walk reads it there: exact rows', async () => {
    await stack.startWorker();
    const token = stack.chain.package('token');
    const response = await stack.call('POST', '/v1/backfills', { packageId: token.originalId, match: 'anywhere', fromCheckpoint: 100 });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ fromCheckpoint: '100', toCheckpoint: String(stack.chain.tip()) });
    await stack.waitForStatus(response.body.id, ['completed']);
    expect(await stack.objects()).toEqual(stack.truth(token.originalId, 'anywhere', 100n, stack.chain.tip()));
    expect(full.stats().requests.GetCheckpoint).toBeGreaterThanOrEqual(400);
  });

  it('refuses a range no node serves, naming the lowest checkpoint any of them serves', async () => {
    full.setKnobs({ lowestAvailableCheckpoint: 200 });
    try {
      const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId, fromCheckpoint: 150 });
      expect(response.status).toBe(422);
      expect(response.body.error.message).toBe(
        `checkpoint 150 is below the lowest available checkpoint 200 of ${full.url}; ` +
          'configure an archival endpoint (SUI_ARCHIVE_GRPC_URL) that serves this history',
      );
    } finally {
      full.setKnobs({ lowestAvailableCheckpoint: 0 });
    }
  });
});

describe('what enqueued says', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ chain: { ...CHAIN, checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 50 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a duplicate reports whether its job exists; a request created completed has nothing to queue', async () => {
    const book = stack.chain.package('book');
    const first = await stack.call('POST', '/v1/backfills', { packageId: book.originalId });
    expect([first.status, first.body.status, first.body.enqueued]).toEqual([202, 'queued', true]);
    const again = await stack.call('POST', '/v1/backfills', { packageId: book.originalId });
    expect([again.status, again.body.id, again.body.enqueued]).toEqual([200, first.body.id, true]);
    await stack.queue.queue.remove(first.body.id);
    const jobless = await stack.call('POST', '/v1/backfills', { packageId: book.originalId });
    expect([jobless.status, jobless.body.id, jobless.body.enqueued]).toEqual([200, first.body.id, false]);

    // With the live indexer covering the package from F on, a request from F on has nothing to do.
    await stack.startIndexer();
    const tracked = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(tracked.status).toBe(202);
    const start = (await getTracking(stack.database.db, book.originalId, 'anywhere'))!.firstCheckpoint!;
    expect(BigInt(tracked.body.toCheckpoint)).toBe(start - 1n);
    await waitFor('the tip to pass the coverage start', async () => stack.chain.tip() >= start + 5n);
    const covered = await stack.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere', fromCheckpoint: Number(start + 2n) });
    expect(covered.status).toBe(202);
    expect(covered.body).toMatchObject({ status: 'completed', fromCheckpoint: String(start + 2n), toCheckpoint: String(start + 1n), enqueued: false });
  });
});

describe('intake deadline', () => {
  let stack: Stack;
  // The Sui source's own retry settings are the defaults (the test stack's are shorter).
  const defaults = loadConfig({});
  beforeAll(async () => {
    stack = await startStack({
      chain: CHAIN,
      env: { RPC_MAX_RETRIES: String(defaults.RPC_MAX_RETRIES), RPC_TIMEOUT_MS: String(defaults.RPC_TIMEOUT_MS), INTAKE_TIMEOUT_MS: '1500' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a hanging RPC answers 503 naming the Sui RPC once INTAKE_TIMEOUT_MS is spent, and nothing is created or tracked', async () => {
    // Without the deadline a POST would wait several calls of RPC_TIMEOUT_MS × (RPC_MAX_RETRIES + 1).
    expect(defaults.RPC_TIMEOUT_MS * (defaults.RPC_MAX_RETRIES + 1)).toBeGreaterThan(60_000);
    stack.simnet.setKnobs({ hangRate: 1, hangMs: 120_000 });
    const began = performance.now();
    try {
      const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('nft').originalId });
      const elapsed = performance.now() - began;
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.body).toEqual({
        error: {
          code: 'rpc_unavailable',
          message: `the Sui RPC did not answer usefully (rpc_unavailable: ${stack.simnet.url} did not answer within INTAKE_TIMEOUT_MS (1500 ms)); retry later`,
        },
      });
      expect(elapsed).toBeGreaterThanOrEqual(1_500);
      expect(elapsed).toBeLessThan(4_000);
    } finally {
      stack.simnet.setKnobs({ hangRate: 0 });
    }
    expect(await stack.database.sql`select 1 from package_backfill_requests`).toHaveLength(0);
    expect(await trackedPackages(stack)).toEqual([]);
  });
});
