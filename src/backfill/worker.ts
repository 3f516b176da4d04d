import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { WaitingError, Worker, type Job } from 'bullmq';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Db } from '../db/client.ts';
import { LostOwnershipError } from './errors.ts';
import { BACKFILL_QUEUE, createRedisConnection, type BackfillJobData } from './queue.ts';
import { beatHeartbeat, claimRequest, finishHeldRequest } from './requests.ts';
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
  /** Stops taking jobs; walks in progress stop after their current chunk and go back to the queue. */
  close: () => Promise<void>;
};

export function createWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * The BullMQ worker that walks backfill requests. Postgres decides who holds a request (a
 * conditional update), BullMQ only delivers jobs: a duplicate delivery finds the request held and
 * does nothing.
 */
export function createBackfillWorker(common: Common, db: Db, source: CheckpointSource): BackfillWorker {
  const { config, logger } = common;
  const workerId = createWorkerId();
  const connection = createRedisConnection(config.REDIS_URL);
  connection.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'redis connection error'));
  let closing = false;

  const processJob = async (job: Job<BackfillJobData, JobOutcome>, token?: string, jobSignal?: AbortSignal): Promise<JobOutcome> => {
    const { requestId } = job.data;
    const log = logger.child({ requestId, workerId });
    const request = await claimRequest(db.db, requestId, workerId, config.STALE_AFTER_MS);
    if (!request) {
      log.info('request is not claimable (finished, paused, or held by a live worker); job ends');
      return 'skipped';
    }
    await ensureWatermark(db.sql, request.id, request.fromCheckpoint);
    log.info(
      { packageId: request.packageId, match: request.match, from: request.fromCheckpoint, to: request.toCheckpoint, attempt: request.attempts },
      'backfill walk started',
    );

    const walk = new AbortController();
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
      await job.updateProgress(progress).catch((error) => log.warn({ err: errorMessage(error) }, 'progress update failed'));
    };

    try {
      const result = await walkRequest(common, db.sql, source, request, {
        workerId,
        chunkSize: config.BACKFILL_CHUNK_SIZE,
        concurrency: config.RPC_CONCURRENCY,
        signal: walk.signal,
        shouldStop: () => closing,
        onChunk,
      });
      if (result.outcome === 'stopped') {
        // Shutting down: hand the request back so any replica continues from the watermark.
        await finishHeldRequest(db.db, request.id, workerId, 'queued');
        await job.moveToWait(token);
        log.info('walk handed back to the queue for shutdown');
        throw new WaitingError();
      }
      await finishHeldRequest(db.db, request.id, workerId, 'completed');
      log.info({ chunks: result.chunks }, 'backfill completed');
      return 'completed';
    } catch (error) {
      if (error instanceof WaitingError) throw error;
      if (error instanceof LostOwnershipError || walk.signal.reason instanceof LostOwnershipError) {
        log.info('request is no longer held by this worker; walk stopped');
        return 'lost';
      }
      log.error({ err: error }, 'backfill failed');
      await finishHeldRequest(db.db, request.id, workerId, 'failed', errorMessage(error));
      return 'failed';
    } finally {
      clearInterval(heartbeat);
    }
  };

  const worker = new Worker<BackfillJobData, JobOutcome>(BACKFILL_QUEUE, processJob, {
    connection,
    prefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // Stalled jobs (a dead worker) go back to the queue; the heartbeat decides if the walk is really free.
    maxStalledCount: 1_000,
  });
  worker.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'worker error'));

  return {
    workerId,
    worker,
    close: async () => {
      closing = true;
      await worker.close();
      connection.disconnect();
    },
  };
}
