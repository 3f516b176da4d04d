import { setTimeout as sleep } from 'node:timers/promises';
import type { Common } from '../common/context.ts';
import { SuiBackfillError, errorMessage, isRetryable } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { insertObjectVersions } from '../db/objects.ts';
import { recordPublishedPackages, type PublishedPackage } from '../db/packages.ts';
import { NotFoundError } from '../sui/errors.ts';
import { extractObjectVersions, extractPackageWrites } from '../sui/object-versions.ts';
import { orderedStream } from '../sui/ordered-stream.ts';
import type { CheckpointRecord, ObjectVersionRow } from '../sui/records.ts';
import { liveMaxInFlight, type LiveBudgetSource } from '../sui/rpc-control.ts';
import type { SuiSource } from '../sui/source.ts';
import { createFamilyMatcher } from '../sui/types.ts';
import { currentFamilyIds } from './families.ts';
import { createIndexerLock } from './lock.ts';
import { addFamilyMember, allTrackings, startTrackings, type Tracking } from './registry.ts';
import { advanceWatermark, readWatermark } from './watermark.ts';

/** What the indexer asks of the Sui source; its fetches follow the process's live cap on calls in flight. */
export type IndexerSource = Pick<SuiSource, 'getServiceInfo' | 'getCheckpoint' | 'describePackage' | 'resolvePackage'> & LiveBudgetSource;

type Indexer = {
  /**
   * Runs until `common.shutdown.signal` aborts or `stop()` is called; rejects with the error when
   * one that no retry can fix stops it.
   */
  run: () => Promise<void>;
  stop: () => Promise<void>;
};

/**
 * Errors after which going on is pointless: a configuration or an answer no retry changes (a first
 * checkpoint the node pruned, another indexer holding the lock). A checkpoint or package a lagging
 * replica does not know yet is only a retry away.
 */
function stopsTheIndexer(error: unknown): boolean {
  return error instanceof SuiBackfillError && !error.retryable && !(error instanceof NotFoundError);
}

/** A matcher over every tracking that covers a checkpoint, rebuilt only when that set changes. */
function createTrackedMatcher() {
  let trackings: Tracking[] = [];
  let cache: { key: string; matches: (type: string) => boolean } | undefined;
  return {
    set(next: Tracking[]) {
      trackings = next;
      cache = undefined;
    },
    addMember(originalId: string, packageId: string) {
      let changed = false;
      for (const tracking of trackings) {
        if (tracking.originalId === originalId && !tracking.familyIds.includes(packageId)) {
          tracking.familyIds = [...tracking.familyIds, packageId];
          changed = true;
        }
      }
      if (changed) cache = undefined;
    },
    tracks: (originalId: string) => trackings.some((tracking) => tracking.originalId === originalId),
    /** The matcher for checkpoint `sequence`, or undefined when no tracking covers it. */
    at(sequence: bigint) {
      const covering = trackings.filter((tracking) => tracking.firstCheckpoint !== null && tracking.firstCheckpoint <= sequence);
      if (covering.length === 0) return undefined;
      const key = covering.map((tracking) => `${tracking.originalId}/${tracking.match}/${tracking.familyIds.length}`).join(',');
      if (cache?.key !== key) {
        const matchers = covering.map((tracking) => createFamilyMatcher(tracking.familyIds, tracking.match));
        cache = { key, matches: (type) => matchers.some((matches) => matches(type)) };
      }
      return cache.matches;
    },
  };
}

/**
 * The live indexer: follows the chain from its watermark (or the configured first checkpoint, or
 * the tip at first start), records every package published or upgraded into `sui_packages`,
 * writes the object versions of tracked packages into `sui_objects`, and advances the framework
 * watermark in the same transaction. A pending tracking starts in the transaction that commits the
 * first batch covering it (or, while the indexer waits at the tip, right after its watermark), so
 * a recorded start is always covered: a crash before that commit leaves the tracking pending.
 */
export async function createIndexer(common: Common, deps: { db: Db; source: IndexerSource; firstCheckpoint?: bigint }): Promise<Indexer> {
  const { config, logger, metrics } = common;
  const { db, source } = deps;
  const lock = createIndexerLock(config.DATABASE_URL, logger);
  try {
    await lock.hold();
  } catch (error) {
    await lock.release();
    throw error;
  }

  const watermark = await readWatermark(db.sql);
  const firstCheckpoint = deps.firstCheckpoint ?? config.INDEXER_FIRST_CHECKPOINT;
  let next = watermark ? watermark.checkpointHiInclusive + 1n : (firstCheckpoint ?? (await source.getServiceInfo()).checkpointHeight);
  if (!watermark && firstCheckpoint !== undefined) {
    const tip = (await source.getServiceInfo()).checkpointHeight;
    // Not refused (the node may lag the chain), but said: until the tip gets there nothing is indexed, and intake waits on it.
    if (firstCheckpoint > tip) logger.warn({ firstCheckpoint, tip }, 'the first checkpoint is past the tip; the indexer waits for the chain to reach it');
  }
  // reader_lo of a new watermark row: the first checkpoint this pipeline holds.
  const readerLo = next;
  // Whether the watermark row ends at next - 1: only then may a tracking start between batches.
  let committed = watermark !== undefined;
  const matcher = createTrackedMatcher();
  // Family IDs re-read for pending trackings, with the tip they were read at (valid while it is at least next - 1).
  const families = new Map<string, { ids: string[]; tip: bigint }>();
  const maxInFlight = liveMaxInFlight(source);
  const stopping = new AbortController();
  const signal = AbortSignal.any([stopping.signal, common.shutdown.signal]);
  let running: Promise<void> | undefined;
  logger.info({ next, resumed: watermark !== undefined }, 'indexer starting');

  /**
   * Pending trackings as they start at `next`, each with its family as it is now. One whose family
   * the RPC cannot re-read for a reason no retry of the batch fixes (a lagging node that does not
   * know a version yet) stays pending and is tried again at the next round, while the others start;
   * an outage fails the batch, which is retried.
   */
  const starting = async (pending: Tracking[], tip: bigint): Promise<Tracking[]> => {
    const result: Tracking[] = [];
    for (const tracking of pending) {
      let known = families.get(tracking.originalId);
      if (!known || known.tip < next - 1n) {
        try {
          known = { ids: await currentFamilyIds({ db: db.db, source }, tracking.originalId, signal), tip };
        } catch (error) {
          if (isRetryable(error) || signal.aborted) throw error;
          logger.warn({ packageId: tracking.originalId, match: tracking.match, next, err: errorMessage(error) }, 'tracking not started: its family could not be re-read; trying again');
          continue;
        }
        families.set(tracking.originalId, known);
      }
      result.push({ ...tracking, familyIds: [...new Set([...tracking.familyIds, ...known.ids])].sort(), firstCheckpoint: next });
    }
    return result;
  };

  const started = (trackings: Tracking[]) => {
    if (trackings.length === 0) return;
    for (const tracking of trackings) families.delete(tracking.originalId);
    logger.info({ packages: trackings.map((t) => `${t.originalId}/${t.match}`), firstCheckpoint: trackings[0].firstCheckpoint }, 'tracking started');
  };

  const packageWrites = async (checkpoint: CheckpointRecord): Promise<PublishedPackage[]> => {
    const published: PublishedPackage[] = [];
    for (const write of extractPackageWrites(checkpoint)) {
      const facts = await source.describePackage(write.packageId, { signal });
      published.push({
        packageId: write.packageId,
        originalId: facts.originalId,
        version: write.version,
        upgradedInPlace: write.inPlace,
        publishCheckpoint: write.checkpoint,
        publishTxDigest: write.txDigest,
        publishedAtMs: write.timestampMs,
        typeOrigins: facts.typeOrigins,
      });
    }
    return published;
  };

  const processBatch = async (from: bigint, to: bigint, pending: Tracking[]) => {
    logger.debug({ from, to }, 'indexer batch fetching');
    const rows = new Map<string, ObjectVersionRow>();
    const published: PublishedPackage[] = [];
    let last: CheckpointRecord | undefined;
    for await (const { value: checkpoint } of orderedStream({
      from,
      to,
      concurrency: maxInFlight,
      window: () => maxInFlight() * 2,
      signal,
      fetch: (sequence, fetchSignal) => source.getCheckpoint(sequence, { signal: fetchSignal }),
    })) {
      // Upgrades first: a struct added by an upgrade may appear later in the same checkpoint.
      for (const pkg of await packageWrites(checkpoint)) {
        published.push(pkg);
        if (matcher.tracks(pkg.originalId)) matcher.addMember(pkg.originalId, pkg.packageId);
      }
      const matches = matcher.at(checkpoint.sequenceNumber);
      if (matches) for (const row of extractObjectVersions(checkpoint, matches)) rows.set(`${row.objectId}:${row.version}`, row);
      last = checkpoint;
    }
    if (!last) return;
    if (last.epoch === null || last.networkTotalTransactions === null) {
      throw new SuiBackfillError('malformed_response', `checkpoint ${last.sequenceNumber} came without epoch or network total transactions`, {
        retryable: true,
      });
    }
    const hi = { epochHiInclusive: last.epoch, checkpointHiInclusive: last.sequenceNumber, txHi: last.networkTotalTransactions, timestampMsHiInclusive: last.timestampMs };
    let inserted = 0;
    let startedNow: Tracking[] = [];
    await db.sql.begin(async (tx) => {
      await recordPublishedPackages(tx, published);
      for (const pkg of published) await addFamilyMember(tx, pkg.originalId, pkg.packageId);
      startedNow = await startTrackings(tx, pending, from);
      inserted = await insertObjectVersions(tx, [...rows.values()]);
      await advanceWatermark(tx, hi, readerLo);
    });
    committed = true;
    started(startedNow);
    metrics.checkpointsProcessed.inc({ pipeline: 'indexer' }, Number(to - from + 1n));
    metrics.objectsMatched.inc({ pipeline: 'indexer' }, rows.size);
    metrics.rowsInserted.inc({ pipeline: 'indexer' }, inserted);
    metrics.indexerCheckpoint.set(Number(to));
    logger.debug({ from, to, matched: rows.size, inserted, packages: published.length }, 'indexer batch committed');
    if (published.length > 0) {
      logger.info({ packages: published.map((pkg) => ({ id: pkg.packageId, original: pkg.originalId, version: pkg.version, checkpoint: pkg.publishCheckpoint })) }, 'packages published');
    }
  };

  const loop = async () => {
    while (!signal.aborted) {
      try {
        await lock.hold();
        const trackings = await allTrackings(db.db);
        const tip = (await source.getServiceInfo({ signal })).checkpointHeight;
        const pending = await starting(
          trackings.filter((tracking) => tracking.firstCheckpoint === null),
          tip,
        );
        if (next > tip) {
          // Nothing to fetch: whatever the indexer commits next starts at its watermark + 1.
          if (pending.length > 0 && committed) started(await db.sql.begin((tx) => startTrackings(tx, pending, next)));
          await sleep(config.INDEXER_POLL_INTERVAL_MS, undefined, { signal });
          continue;
        }
        matcher.set([...trackings.filter((tracking) => tracking.firstCheckpoint !== null), ...pending]);
        const to = tip < next + BigInt(config.INDEXER_BATCH_SIZE) - 1n ? tip : next + BigInt(config.INDEXER_BATCH_SIZE) - 1n;
        await processBatch(next, to, pending);
        next = to + 1n;
      } catch (error) {
        if (signal.aborted) break;
        if (stopsTheIndexer(error)) {
          logger.error({ err: errorMessage(error), next }, 'indexer stopped: the error is not one a retry can fix');
          throw error;
        }
        // Every RPC call already retried; Postgres or a node outage: wait and go on from the watermark.
        logger.warn({ err: errorMessage(error), retryable: isRetryable(error), next }, 'indexer batch failed; retrying');
        await sleep(Math.max(config.INDEXER_POLL_INTERVAL_MS, 1_000), undefined, { signal }).catch(() => {});
      }
    }
  };

  return {
    run: () => {
      running ??= loop().finally(async () => {
        await lock.release();
        logger.info({ next }, 'indexer stopped');
      });
      return running;
    },
    stop: async () => {
      stopping.abort(new Error('indexer stopping'));
      if (running) await running.catch(() => {});
      else await lock.release();
    },
  };
}
