import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DelayedError, WaitingError, Worker, type Job } from 'bullmq';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { ChunkFailedError, LostOwnershipError, WorkerShuttingDownError } from './errors.ts';
import { BACKFILL_QUEUE, createRedisConnection, type BackfillJobData } from './queue.ts';
import { beatHeartbeat, claimBlocker, claimRequest, finishHeldRequest, holdsRequest } from './requests.ts';
import { walkRequest, type CheckpointSource, type ChunkReport } from './walker.ts';
import { ensureWatermark } from './watermarks.ts';

export type BackfillProgress = {
  checkpointHiInclusive: string;
  toCheckpoint: string;
  percent: number;
  rowsInserted: string;
};

export type JobOutcome = 'completed' | 'failed' | 'skipped' | 'lost';

export type BackfillWorker = {
  workerId: string;
  worker: Worker<BackfillJobData, JobOutcome>;
  /**
   * Stops taking jobs; walks in progress stop after their current chunk, or abandon it when it
   * has not committed within WORKER_SHUTDOWN_GRACE_MS, and go back to the queue.
   */
  close: () => Promise<void>;
};

export function createWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * The BullMQ worker that walks backfill requests. Postgres decides who holds a request (a
 * conditional update), BullMQ only delivers jobs. A job redelivered while the holder's heartbeat is
 * fresh (its BullMQ lock expired: a frozen or overloaded process) waits, delayed, until that
 * heartbeat would be stale, then takes the request over or ends; a job for a paused, cancelled or
 * finished request ends at once.
 */
export function createBackfillWorker(common: Common, db: Db, source: CheckpointSource): BackfillWorker {
  const { config, logger } = common;
  const workerId = createWorkerId();
  const connection = createRedisConnection(config.REDIS_URL);
  connection.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'redis connection error'));
  let closing = false;
  /** Walks in progress, aborted when the shutdown grace period ends. */
  const walks = new Set<AbortController>();

  const processJob = async (job: Job<BackfillJobData, JobOutcome>, token?: string, jobSignal?: AbortSignal): Promise<JobOutcome> => {
    const { requestId } = job.data;
    const log = logger.child({ requestId, workerId });
    const request = await claimRequest(db.db, requestId, workerId, config.STALE_AFTER_MS);
    if (!request) {
      const blocker = await claimBlocker(db.db, requestId, config.STALE_AFTER_MS);
      if (blocker?.status === 'running') {
        const delayMs = blocker.msUntilStale + config.HEARTBEAT_INTERVAL_MS;
        log.info({ holder: blocker.workerId, delayMs }, 'request is held by a worker whose heartbeat is fresh; job delayed until it would be stale');
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }
      log.info({ status: blocker?.status ?? 'deleted' }, 'request is not claimable (paused, cancelled, finished or deleted); job ends');
      return 'skipped';
    }
    await ensureWatermark(db.sql, request.id, request.fromCheckpoint);
    log.info(
      { packageId: request.packageId, match: request.match, from: request.fromCheckpoint, to: request.toCheckpoint, attempt: request.attempts },
      'backfill walk started',
    );

    const walk = new AbortController();
    walks.add(walk);
    const abortWalk = (reason: unknown) => walk.abort(reason);
    jobSignal?.addEventListener('abort', () => abortWalk(jobSignal.reason), { once: true });
    const heartbeat = setInterval(() => {
      beatHeartbeat(db.db, request.id, workerId).then(
        (held) => held || abortWalk(new LostOwnershipError(request.id)),
        (error) => log.warn({ err: errorMessage(error) }, 'heartbeat failed'),
      );
    }, config.HEARTBEAT_INTERVAL_MS);

    const total = request.toCheckpoint - request.fromCheckpoint + 1n;
    const onChunk = async (chunk: ChunkReport) => {
      const done = chunk.watermark.checkpointHiInclusive - request.fromCheckpoint + 1n;
      const progress: BackfillProgress = {
        checkpointHiInclusive: chunk.watermark.checkpointHiInclusive.toString(),
        toCheckpoint: request.toCheckpoint.toString(),
        percent: Number((done * 10_000n) / total) / 100,
        rowsInserted: chunk.watermark.rowsInserted.toString(),
      };
      log.info(
        {
          from: chunk.from,
          to: chunk.to,
          matched: chunk.objectsMatched,
          inserted: chunk.rowsInserted,
          rpcCalls: chunk.rpcCalls,
          ms: Math.round(chunk.durationMs),
          watermark: chunk.watermark.checkpointHiInclusive,
          percent: progress.percent,
        },
        'chunk committed',
      );
      // Not awaited: with Redis down the update waits for the reconnection, and the walk must not.
      void job.updateProgress(progress).catch((error) => log.warn({ err: errorMessage(error) }, 'progress update failed'));
    };

    /** Shutting down: hand the request back so any replica continues from the watermark at once. */
    const handBack = async (reason: string): Promise<JobOutcome> => {
      if (!(await finishHeldRequest(db.db, request.id, workerId, 'queued', { reason }))) {
        log.info('request is no longer held by this worker; walk stopped');
        return 'lost';
      }
      await job.moveToWait(token);
      log.info({ reason }, 'walk handed back to the queue for shutdown');
      throw new WaitingError();
    };

    try {
      const result = await walkRequest(common, db.sql, source, request, {
        workerId,
        chunkSize: config.BACKFILL_CHUNK_SIZE,
        concurrency: config.RPC_CONCURRENCY,
        signal: walk.signal,
        // Between chunks: stop for a shutdown, or when the request was paused, cancelled or taken
        // over (Postgres says so; a failed check is no answer, the next commit checks again).
        shouldStop: async () => closing || !(await holdsRequest(db.db, request.id, workerId).catch(() => true)),
        idleTimeoutMs: config.STALE_AFTER_MS / 2,
        onChunk,
      });
      if (result.outcome === 'stopped') {
        if (closing) return await handBack('worker shutting down');
        log.info('request is no longer held by this worker (paused, cancelled or taken over); walk stopped');
        return 'lost';
      }
      if (!(await finishHeldRequest(db.db, request.id, workerId, 'completed', { reason: `walked to checkpoint ${request.toCheckpoint}` }))) {
        log.info('walk finished but the request is no longer held by this worker; it stays as it is');
        return 'lost';
      }
      log.info({ chunks: result.chunks }, 'backfill completed');
      return 'completed';
    } catch (error) {
      if (error instanceof WaitingError) throw error;
      if (error instanceof LostOwnershipError || walk.signal.reason instanceof LostOwnershipError) {
        log.info('request is no longer held by this worker; walk stopped');
        return 'lost';
      }
      if (walk.signal.reason instanceof WorkerShuttingDownError) return await handBack(walk.signal.reason.message);
      log.error({ err: error }, 'backfill failed');
      const failed = await finishHeldRequest(db.db, request.id, workerId, 'failed', {
        error: errorMessage(error),
        errorDetail: error instanceof ChunkFailedError ? error.detail() : { code: (error as { code?: unknown }).code ?? null },
      });
      return failed ? 'failed' : 'lost';
    } finally {
      clearInterval(heartbeat);
      walks.delete(walk);
    }
  };

  const worker = new Worker<BackfillJobData, JobOutcome>(BACKFILL_QUEUE, processJob, {
    connection,
    prefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // Stalled jobs (a silent worker) go back to the queue; the heartbeat decides if the walk is
    // really free. BullMQ notices first (half the staleness): the redelivered job waits, delayed,
    // until Postgres lets another replica take the request over, then does so at once.
    maxStalledCount: 1_000,
    lockDuration: Math.max(config.STALE_AFTER_MS / 2, 200),
    stalledInterval: Math.max(config.STALE_AFTER_MS / 4, 100),
  });
  worker.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'worker error'));

  return {
    workerId,
    worker,
    close: async () => {
      closing = true;
      const abandon = setTimeout(() => {
        for (const walk of walks) walk.abort(new WorkerShuttingDownError(config.WORKER_SHUTDOWN_GRACE_MS));
      }, config.WORKER_SHUTDOWN_GRACE_MS);
      try {
        await worker.close();
      } finally {
        clearTimeout(abandon);
        connection.disconnect();
      }
    },
  };
}
