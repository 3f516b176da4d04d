import { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ServiceUnavailableError, errorMessage } from '../common/errors.ts';

export const BACKFILL_QUEUE = 'package-backfills';

export type BackfillJobData = { requestId: string };

export type BackfillQueue = {
  queue: Queue<BackfillJobData>;
  /** Adds the job for a request; a job with the same id already there makes this a no-op (BullMQ jobId dedupe). */
  enqueue: (requestId: string) => Promise<void>;
  hasJob: (requestId: string) => Promise<boolean>;
  close: () => Promise<void>;
};

/** Redis connection for BullMQ: reconnects forever, at most every two seconds. */
export function createRedisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...options,
  });
}

const ENQUEUE_TIMEOUT_MS = 3_000;

export function createBackfillQueue(options: { redisUrl: string; prefix: string }): BackfillQueue {
  // Commands wait in ioredis' offline queue while Redis is down (BullMQ needs that to initialise);
  // callers are answered within ENQUEUE_TIMEOUT_MS either way, and a late add is harmless (jobId dedupe).
  const connection = createRedisConnection(options.redisUrl);
  // An unreachable Redis is reported by enqueue; ioredis would otherwise log every reconnect attempt.
  connection.on('error', () => {});
  const queue = new Queue<BackfillJobData>(BACKFILL_QUEUE, {
    connection,
    prefix: options.prefix,
    skipWaitingForReady: true,
    defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  });
  queue.on('error', () => {});

  const withTimeout = async <T>(operation: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        operation,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      throw new ServiceUnavailableError('redis', `Redis is not available: ${errorMessage(error)}`, error);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    queue,
    enqueue: async (requestId) => {
      await withTimeout(queue.add('backfill', { requestId }, { jobId: requestId }));
    },
    hasJob: async (requestId) => (await withTimeout(queue.getJob(requestId))) !== undefined,
    close: async () => {
      await queue.close();
      connection.disconnect();
    },
  };
}
