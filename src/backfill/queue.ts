import { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { ServiceUnavailableError, errorMessage } from '../common/errors.ts';
import { jsonOf } from '../common/json.ts';
import type { Logger } from '../common/logger.ts';
import { withTimeout } from '../common/timeout.ts';

export const BACKFILL_QUEUE = 'package-backfills';

export type BackfillJobData = { requestId: string };

/**
 * An operator paused or cancelled a request: whichever worker walks it abandons the chunk in flight
 * at once. `attempts` is the request's claim count at the change, so a late message never stops a
 * later walk of the same request.
 */
const StopMessageSchema = z.object({
  requestId: z.string().uuid(),
  status: z.enum(['paused', 'cancelled']),
  attempts: z.number().int().min(0),
});
type StopMessage = z.infer<typeof StopMessageSchema>;
const StopMessageJsonSchema = jsonOf(StopMessageSchema);

/** The pub/sub channel of stop messages, in the deployment's Redis namespace. */
const stopChannel = (prefix: string) => `${prefix}:backfill-stops`;

export type BackfillQueue = {
  queue: Queue<BackfillJobData>;
  /**
   * Adds the job for a queued request. A job of the same id already there is kept (BullMQ jobId
   * dedupe); one waiting delayed, redelivered behind a holder that was still beating, is promoted:
   * that holder has let go of the request since (paused, failed, handed back), so it runs now.
   */
  enqueue: (requestId: string) => Promise<void>;
  hasJob: (requestId: string) => Promise<boolean>;
  /**
   * Tells the workers to stop a walk now. Best effort: false when Redis is not connected, and then
   * the walk stops at its next chunk commit or heartbeat, which read the status in Postgres.
   */
  publishStop: (message: StopMessage) => Promise<boolean>;
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

  const answered = async <T>(operation: Promise<T>): Promise<T> => {
    try {
      return await withTimeout(operation, ENQUEUE_TIMEOUT_MS, () => new Error(`no answer within ${ENQUEUE_TIMEOUT_MS} ms`));
    } catch (error) {
      throw new ServiceUnavailableError('redis', `Redis is not available: ${errorMessage(error)}`, error);
    }
  };

  return {
    queue,
    enqueue: async (requestId) => {
      await answered(
        (async () => {
          await queue.add('backfill', { requestId }, { jobId: requestId });
          const job = await queue.getJob(requestId);
          if (!job || !(await job.isDelayed())) return;
          // A worker may have taken it meanwhile: only a job still delayed is a failure to promote.
          await job.promote().catch(async (error: unknown) => {
            if (await job.isDelayed()) throw error;
          });
        })(),
      );
    },
    hasJob: async (requestId) => (await answered(queue.getJob(requestId))) !== undefined,
    publishStop: async (message) => {
      // Not queued offline: a stop delivered after Redis returns would be stale.
      if (connection.status !== 'ready') return false;
      await answered(connection.publish(stopChannel(options.prefix), JSON.stringify(message)));
      return true;
    },
    close: async () => {
      await queue.close();
      connection.disconnect();
    },
  };
}

/**
 * Listens for stop messages on a connection of its own (a subscribed connection can do nothing
 * else); ioredis subscribes again after every reconnection. Malformed messages are logged and dropped.
 */
export function subscribeToStops(
  options: { redisUrl: string; prefix: string; logger: Logger },
  onStop: (message: StopMessage) => void,
): { close: () => void } {
  const channel = stopChannel(options.prefix);
  const subscriber = createRedisConnection(options.redisUrl);
  subscriber.on('error', (error) => options.logger.warn({ err: errorMessage(error) }, 'redis subscriber connection error'));
  subscriber.subscribe(channel).catch((error: unknown) => options.logger.warn({ err: errorMessage(error) }, 'could not subscribe to stop messages'));
  subscriber.on('message', (from, text) => {
    if (from !== channel) return;
    const message = StopMessageJsonSchema.safeParse(text);
    if (message.success) onStop(message.data);
    else options.logger.warn({ channel, message: text }, 'ignored a malformed stop message');
  });
  return { close: () => subscriber.disconnect() };
}
