import { expect } from 'vitest';
import { getTracking, isIndexerRunning, type Tracking } from '../../src/indexer/registry.ts';
import { readWatermark } from '../../src/indexer/watermark.ts';
import { waitFor } from './backfill-checks.ts';
import type { Stack } from './stack.ts';

/**
 * How long a wait on the indexer or a backfill may take before it counts as stuck. Generous: on a
 * loaded machine (many test files, two cores) what takes a second alone can take tens.
 */
export const PATIENCE_MS = 120_000;

/** A live-indexer case's time limit: room for several waits of a loaded machine. */
export const CASE_TIMEOUT_MS = 240_000;

/** Waits until the live indexer has started tracking the package (anywhere match) and returns the tracking. */
export async function startedTracking(stack: Stack, originalId: string): Promise<Tracking & { firstCheckpoint: bigint }> {
  return waitFor('the indexer to start tracking', async () => {
    const found = await getTracking(stack.database.db, originalId, 'anywhere');
    return found?.firstCheckpoint != null ? { ...found, firstCheckpoint: found.firstCheckpoint } : undefined;
  }, PATIENCE_MS);
}

/** Waits for the package's request starting at `from` (a continuation) and returns it as the list shows it. */
export async function requestFrom(stack: Stack, originalId: string, from: bigint): Promise<{ id: string; fromCheckpoint: string; toCheckpoint: string }> {
  return waitFor(`the request from ${from}`, async () => {
    const { body } = await stack.call('GET', `/v1/backfills?packageId=${originalId}`);
    return body.items.find((item: { fromCheckpoint: string }) => item.fromCheckpoint === String(from));
  }, PATIENCE_MS);
}

/** Waits until the indexer's framework watermark is at or past `checkpoint`; returns it. */
export async function indexerPast(stack: Stack, checkpoint: bigint): Promise<bigint> {
  return waitFor(`the indexer to pass ${checkpoint}`, async () => {
    const hi = (await readWatermark(stack.database.sql))?.checkpointHiInclusive;
    return hi !== undefined && hi >= checkpoint ? hi : undefined;
  }, PATIENCE_MS);
}

/** Waits until no indexer holds the database's lock: a killed one's session has ended. */
export async function noIndexerRunning(stack: Stack): Promise<void> {
  await waitFor('the indexer lock to be free', async () => !(await isIndexerRunning(stack.database.sql)), PATIENCE_MS);
}

/** sui_objects rows up to `to` equal the chain's object versions of the family over [publish, to]. */
export async function expectExactCoverage(stack: Stack, packageId: string, to: bigint): Promise<void> {
  const truth = stack.truth(packageId, 'anywhere', stack.chain.publishCheckpoint(packageId), to);
  expect(truth.length).toBeGreaterThan(0);
  expect((await stack.objects()).filter((row) => row.checkpoint <= to)).toEqual(truth);
}
