import { expect } from 'vitest';
import { getTracking, type Tracking } from '../../src/indexer/registry.ts';
import { readWatermark } from '../../src/indexer/watermark.ts';
import { waitFor } from './backfill-checks.ts';
import type { Stack } from './stack.ts';

/** Waits until the live indexer has started tracking the package (anywhere match) and returns the tracking. */
export async function startedTracking(stack: Stack, originalId: string): Promise<Tracking & { firstCheckpoint: bigint }> {
  return waitFor('the indexer to start tracking', async () => {
    const found = await getTracking(stack.database.db, originalId, 'anywhere');
    return found?.firstCheckpoint != null ? { ...found, firstCheckpoint: found.firstCheckpoint } : undefined;
  });
}

/** Waits for the package's request starting at `from` (a continuation) and returns it as the list shows it. */
export async function requestFrom(stack: Stack, originalId: string, from: bigint): Promise<{ id: string; fromCheckpoint: string; toCheckpoint: string }> {
  return waitFor(`the request from ${from}`, async () => {
    const { body } = await stack.call('GET', `/v1/backfills?packageId=${originalId}`);
    return body.items.find((item: { fromCheckpoint: string }) => item.fromCheckpoint === String(from));
  });
}

/** Waits until the indexer's framework watermark is at or past `checkpoint`; returns it. */
export async function indexerPast(stack: Stack, checkpoint: bigint): Promise<bigint> {
  return waitFor(`the indexer to pass ${checkpoint}`, async () => {
    const hi = (await readWatermark(stack.database.sql))?.checkpointHiInclusive;
    return hi !== undefined && hi >= checkpoint ? hi : undefined;
  }, 60_000);
}

/** sui_objects rows up to `to` equal the chain's object versions of the family over [publish, to]. */
export async function expectExactCoverage(stack: Stack, packageId: string, to: bigint): Promise<void> {
  const truth = stack.truth(packageId, 'anywhere', stack.chain.publishCheckpoint(packageId), to);
  expect(truth.length).toBeGreaterThan(0);
  expect((await stack.objects()).filter((row) => row.checkpoint <= to)).toEqual(truth);
}
