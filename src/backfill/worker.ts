import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, WaitingError, Worker, type Job } from 'bullmq';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createProcessId } from '../common/process-id.ts';
import { createPeriodicTask } from '../common/periodic.ts';
import { postgresCode, withPostgresRetry, type Db } from '../db/client.ts';
import { liveMaxInFlight, type LiveBudgetSource } from '../sui/rpc-control.ts';
import { createChunkRetries } from './chunk-retries.ts';
import { LostOwnershipError, StopRequestedError, WalkStepFailedError, WorkerShuttingDownError } from './errors.ts';
import { BACKFILL_QUEUE, createRedisConnection, subscribeToStops, type BackfillJobData, type BackfillQueue } from './queue.ts';
import { beatHeartbeat, claimBlocker, claimRequest, finishHeldRequest, getRequest, holdsRequest, type BackfillRequest, type WalkHolder } from './requests.ts';
import { watermarkProgress } from './views.ts';
import { forgetWalkMetrics, walkRequest, type CheckpointSource, type ChunkReport, type WalkResult } from './walker.ts';
import { ensureWatermark, type CommitRetry } from './watermarks.ts';

type BackfillProgress = {
  checkpointHiInclusive: string;
  toCheckpoint: string;
  percent: number;
  rowsInserted: string;
};

type JobOutcome = 'completed' | 'failed' | 'skipped' | 'lost';

type BackfillWorker = {
  workerId: string;
  worker: Worker<BackfillJobData, JobOutcome>;
  /**
   * Stops taking jobs; walks in progress stop after their current chunk, or abandon it when it
   * has not committed within WORKER_SHUTDOWN_GRACE_MS, and go back to the queue.
   */
  close: () => Promise<void>;
};

/** The innermost cause: what went wrong, without the layers that passed it on (drizzle's "Failed query: ..."). */
function rootCause(error: unknown): unknown {
  return error instanceof Error && error.cause !== undefined ? rootCause(error.cause) : error;
}

/**
 * What `last_error_detail` keeps of a failure: where in the walk and over which range (see
 * WalkStepFailedError), else `start`: the walk failed as it began, before reading what it has left.
 */
function failureDetail(error: unknown, request: BackfillRequest): Record<string, unknown> {
  if (error instanceof WalkStepFailedError) return error.detail();
  return {
    stage: 'start',
    range: { fromCheckpoint: request.fromCheckpoint.toString(), toCheckpoint: request.toCheckpoint.toString() },
    code: postgresCode(error) ?? null,
  };
}

/** What a worker asks of the Sui source: checkpoints, and the process's live RPC budget, whose cap on calls in flight its walks follow. */
export type WalkSource = CheckpointSource & LiveBudgetSource;

type BackfillWorkerDeps = {
  db: Db;
  source: WalkSource;
  queue: BackfillQueue;
  /** How a walk retries its chunk commits and its read of what is left while Postgres is unreachable (default: about 20 s). */
  commitRetry?: CommitRetry;
};

/**
 * The BullMQ worker that walks backfill requests. Postgres decides who holds a request (a
 * conditional update), BullMQ only delivers jobs. A job redelivered while the holder's heartbeat is
 * fresh (its BullMQ lock expired: a frozen or overloaded process), or while this very process still
 * walks the request, waits, delayed, until that heartbeat would be stale, then takes the request
 * over or ends; a job for a paused, cancelled or finished request ends at once. An operator's pause
 * or cancel reaches the walk through a stop message, which aborts it, so the chunk in flight is
 * abandoned at once; without the message (Redis down) the next chunk commit or heartbeat finds the
 * status in Postgres. A chunk (or the read of what is left that begins each walk) that still fails
 * transiently after the RPC's or Postgres' own retries is tried again from the watermark,
 * BACKFILL_CHUNK_RETRIES times with growing pauses, before the request fails.
 */
/** How long after the shutdown grace period BullMQ may take to close before its connections are cut. */
const CLOSE_MARGIN_MS = 3_000;

export function createBackfillWorker(common: Common, deps: BackfillWorkerDeps): BackfillWorker {
  const { config, logger } = common;
  const { db, source, queue } = deps;
  const workerId = createProcessId();
  const connection = createRedisConnection(config.REDIS_URL);
  connection.on('error', (error) => logger.warn({ err: errorMessage(error) }, 'redis connection error'));
  let closing = false;
  /** Aborted when close() begins: ends the pause before a chunk's next try at once. */
  const stopping = new AbortController();
  /**
   * Walks in progress by request: aborted by a stop message, or when the shutdown grace period
   * ends. `attempts` is the claim count of the walk, so a stop message meant for an earlier walk is
   * ignored.
   */
  const walks = new Map<string, { controller: AbortController; attempts: number }>();

  /** Claims the request, or finds it already held by this worker with no walk here (a claim whose answer was lost). */
  const claim = async (requestId: string, log: typeof logger): Promise<BackfillRequest | undefined> => {
    const claimed = await withPostgresRetry(() => claimRequest(db.db, requestId, workerId, config.STALE_AFTER_MS), { logger: log, what: 'claiming the request' });
    if (claimed) return claimed;
    const current = await withPostgresRetry(() => getRequest(db.db, requestId), { logger: log, what: 'reading the request' });
    return current?.status === 'running' && current.workerId === workerId && !walks.has(requestId) ? current : undefined;
  };

  const processJob = async (job: Job<BackfillJobData, JobOutcome>, token?: string): Promise<JobOutcome> => {
    const { requestId } = job.data;
    const log = logger.child({ requestId, workerId });
    const retrying = <T>(what: string, work: () => Promise<T>) => withPostgresRetry(work, { logger: log, what });
    // Fetched while close() waits for the walks in progress: another replica, or this one's successor, takes it.
    if (closing) {
      await job.moveToWait(token);
      log.info('worker shutting down: job handed back to the queue unclaimed');
      throw new WaitingError();
    }
    const readBlocker = () => retrying('reading who holds the request', () => claimBlocker(db.db, requestId, config.STALE_AFTER_MS));
    /** Back to the queue until the walk holding the request would be stale (or has ended by then). */
    const delayJob = async (msUntilStale: number, holder: string | null, message: string): Promise<never> => {
      const delayMs = msUntilStale + config.HEARTBEAT_INTERVAL_MS;
      log.info({ holder, delayMs }, message);
      await job.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    };
    // Its BullMQ lock lapsed (a stalled event loop) and the job came back here: the walk goes on, alone.
    if (walks.has(requestId)) return delayJob((await readBlocker())?.msUntilStale ?? 0, workerId, 'this process walks the request already (its job was redelivered); job delayed');
    const request = await claim(requestId, log);
    if (!request) {
      const blocker = await readBlocker();
      if (blocker?.status === 'running') return delayJob(blocker.msUntilStale, blocker.workerId, 'request is held by a worker whose heartbeat is fresh; job delayed until it would be stale');
      log.info({ status: blocker?.status ?? 'deleted' }, 'request is not claimable (paused, cancelled, finished or deleted); job ends');
      return 'skipped';
    }

    const holder: WalkHolder = { workerId, attempts: request.attempts };
    const walk = new AbortController();
    walks.set(request.id, { controller: walk, attempts: request.attempts });
    // Never two beats at once: a beat stuck behind a lock must not take another pooled connection each interval.
    const heartbeat = createPeriodicTask({
      name: 'heartbeat',
      intervalMs: config.HEARTBEAT_INTERVAL_MS,
      logger: log,
      fallback: undefined,
      run: async () => {
        if (!(await beatHeartbeat(db.db, request.id, holder))) walk.abort(new LostOwnershipError(request.id));
      },
    });
    heartbeat.start();
    const retries = createChunkRetries({ retries: config.BACKFILL_CHUNK_RETRIES, baseMs: config.BACKFILL_CHUNK_RETRY_BASE_MS });

    const onChunk = async (chunk: ChunkReport) => {
      retries.committed();
      const { percent } = watermarkProgress(request, chunk.watermark.checkpointHiInclusive);
      const progress: BackfillProgress = {
        checkpointHiInclusive: chunk.watermark.checkpointHiInclusive.toString(),
        toCheckpoint: request.toCheckpoint.toString(),
        percent,
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
          percent,
        },
        'chunk committed',
      );
      // Not awaited: with Redis down the update waits for the reconnection, and the walk must not.
      void job.updateProgress(progress).catch((error) => log.warn({ err: errorMessage(error) }, 'progress update failed'));
    };

    /** Shutting down: hand the request back so any replica continues from the watermark at once. */
    const handBack = async (reason: string): Promise<JobOutcome> => {
      if (!(await retrying('handing the request back', () => finishHeldRequest(db.db, request.id, holder, 'queued', { reason })))) {
        log.info('request is no longer held by this walk; walk stopped');
        return 'lost';
      }
      await job.moveToWait(token);
      log.info({ reason }, 'walk handed back to the queue for shutdown');
      throw new WaitingError();
    };

    const walkOnce = () =>
      walkRequest(common, db.sql, source, request, {
        holder,
        chunkSize: config.BACKFILL_CHUNK_SIZE,
        maxInFlight: liveMaxInFlight(source),
        signal: walk.signal,
        // Between chunks: stop for a shutdown, or when the request was paused, cancelled or taken
        // over (Postgres says so; a failed check is no answer, the next commit checks again).
        shouldStop: async () => closing || !(await holdsRequest(db.db, request.id, holder).catch(() => true)),
        idleTimeoutMs: config.STALE_AFTER_MS / 2,
        commitRetry: deps.commitRetry,
        onChunk,
      });

    /** Walks what is left; 'done' when the whole range is, else how the job ends. */
    const walkToEnd = async (): Promise<'done' | JobOutcome> => {
      try {
        await retrying('creating the watermark', () => ensureWatermark(db.sql, request.id, request.fromCheckpoint));
        log.info(
          { packageId: request.packageId, match: request.match, from: request.fromCheckpoint, to: request.toCheckpoint, attempt: request.attempts },
          'backfill walk started',
        );
        for (;;) {
          let result: WalkResult;
          try {
            result = await walkOnce();
          } catch (error) {
            const decision = retries.failed(error);
            if (!decision.retry) throw decision.error;
            const { from, to, stage, attempts } = decision.error;
            log.warn(
              { from, to, stage, attempts, retry: decision.retries, of: config.BACKFILL_CHUNK_RETRIES, delayMs: decision.delayMs, err: errorMessage(decision.error.cause) },
              'chunk still failed after its retries; walking on from the watermark after a pause',
            );
            // The heartbeat goes on meanwhile; a stop, a lost request or a shutdown ends the pause.
            await sleep(decision.delayMs, undefined, { signal: AbortSignal.any([walk.signal, stopping.signal]) }).catch(() => {});
            if (walk.signal.aborted) throw walk.signal.reason;
            if (closing) return await handBack('worker shutting down');
            continue;
          }
          if (result.outcome === 'done') return 'done';
          if (closing) return await handBack('worker shutting down');
          log.info('request is no longer held by this walk (paused, cancelled or taken over); walk stopped');
          return 'lost';
        }
      } catch (error) {
        if (error instanceof WaitingError) throw error;
        const reason: unknown = walk.signal.reason;
        if (reason instanceof StopRequestedError) {
          log.info({ reason: reason.message }, 'walk stopped at once by an operator; the chunk in flight is abandoned');
          return 'lost';
        }
        if (error instanceof LostOwnershipError || reason instanceof LostOwnershipError) {
          log.info('request is no longer held by this walk; walk stopped');
          return 'lost';
        }
        if (reason instanceof WorkerShuttingDownError) return await handBack(reason.message);
        log.error({ err: error }, 'backfill failed');
        const failed = await retrying('recording the failure', () =>
          finishHeldRequest(db.db, request.id, holder, 'failed', { error: errorMessage(error), errorDetail: failureDetail(error, request) }),
        );
        return failed ? 'failed' : 'lost';
      }
    };

    try {
      const walked = await walkToEnd();
      if (walked !== 'done') return walked;
      // Everything is walked: a failure to record that now is retried, and never turns into a failed backfill.
      const completed = await retrying('recording the completion', () =>
        finishHeldRequest(db.db, request.id, holder, 'completed', { reason: `walked to checkpoint ${request.toCheckpoint}` }),
      );
      if (!completed) {
        log.info('walk finished but the request is no longer held by this walk; it stays as it is');
        return 'lost';
      }
      log.info('backfill completed');
      return 'completed';
    } finally {
      heartbeat.stop();
      walks.delete(request.id);
      forgetWalkMetrics(common.metrics, request);
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
  // A resume while the job was still active could not add a job of the same id (BullMQ keeps the
  // first); now that this one is gone, a request queued again meanwhile gets its job at once.
  const enqueueIfQueued = (requestId: string) =>
    withPostgresRetry(() => getRequest(db.db, requestId), { logger, what: 'reading the request after its job', context: { requestId } })
      .then(async (current) => {
        if (current?.status !== 'queued') return;
        await queue.enqueue(requestId);
        logger.info({ requestId, workerId }, 'request is queued without a job now that its job ended; enqueued it anew');
      })
      .catch((error: unknown) => logger.warn({ requestId, err: errorMessage(error) }, 'could not enqueue a request queued again; the reconciler will'));
  worker.on('completed', (job, outcome) => {
    if (outcome !== 'completed') void enqueueIfQueued(job.data.requestId);
  });
  // Something outside the walk's own handling failed (Postgres or Redis unavailable for longer than
  // the retries): the job is gone, so say so, and give a request left queued its job back.
  worker.on('failed', (job, error) => {
    logger.error({ requestId: job?.data.requestId, workerId, err: errorMessage(rootCause(error)), code: postgresCode(error) ?? null }, 'backfill job failed');
    if (job) void enqueueIfQueued(job.data.requestId);
  });

  const stops = subscribeToStops({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, logger }, (stop) => {
    const walk = walks.get(stop.requestId);
    if (!walk || walk.attempts !== stop.attempts) return;
    const reason = `${stop.status} by an operator`;
    logger.info({ requestId: stop.requestId, workerId, status: stop.status }, 'stop message: aborting the walk');
    // The walk's own controller: BullMQ tracks jobs by id, and a redelivered copy of the job may have replaced this walk's.
    walk.controller.abort(new StopRequestedError(stop.requestId, reason));
  });

  return {
    workerId,
    worker,
    close: async () => {
      closing = true;
      stopping.abort();
      const abandon = setTimeout(() => {
        for (const { controller } of walks.values()) controller.abort(new WorkerShuttingDownError(config.WORKER_SHUTDOWN_GRACE_MS));
      }, config.WORKER_SHUTDOWN_GRACE_MS);
      try {
        // BullMQ's close waits on Redis; with Redis gone it would wait until the process is killed.
        // Past the grace period (every walk abandoned by then) its connections are cut instead:
        // the job's lock expires and it is redelivered when Redis is back, the request handed back in Postgres.
        const closed = worker.close().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'closing the BullMQ worker failed'));
        const late = await Promise.race([closed.then(() => false), sleep(config.WORKER_SHUTDOWN_GRACE_MS + CLOSE_MARGIN_MS, true, { ref: false })]);
        if (late) {
          logger.warn({ waitedMs: config.WORKER_SHUTDOWN_GRACE_MS + CLOSE_MARGIN_MS }, 'the BullMQ worker did not close (Redis unreachable?); disconnecting it');
          // Not awaited: its disconnect waits on the same close.
          worker.disconnect().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'disconnecting the BullMQ worker failed'));
        }
      } finally {
        clearTimeout(abandon);
        stops.close();
        connection.disconnect();
      }
    },
  };
}
