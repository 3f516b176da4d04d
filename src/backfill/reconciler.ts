import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import type { Database } from '../db/client.ts';
import type { BackfillQueue } from './queue.ts';
import { requestsNeedingAJob } from './requests.ts';

export type Reconciler = {
  /** Enqueues every request that needs a job and has none; returns the ids enqueued. */
  runOnce: () => Promise<string[]>;
  start: () => void;
  stop: () => void;
};

/**
 * The request row (Postgres) and its job (Redis) are written separately, so either can be missing
 * the other after a crash or an outage. Postgres is the truth: a queued request without a job, or a
 * running one whose worker went silent and whose job is gone, gets a job again.
 */
export function createReconciler(common: Pick<Common, 'config' | 'logger'>, db: Database, queue: BackfillQueue): Reconciler {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<string[]> | undefined;

  const runOnce = () => {
    running ??= (async () => {
      const enqueued: string[] = [];
      try {
        for (const id of await requestsNeedingAJob(db, common.config.STALE_AFTER_MS)) {
          if (await queue.hasJob(id)) continue;
          await queue.enqueue(id);
          enqueued.push(id);
        }
        if (enqueued.length > 0) common.logger.info({ requests: enqueued }, 're-enqueued requests that had no job');
      } catch (error) {
        common.logger.warn({ err: errorMessage(error) }, 'reconcile failed; will try again');
      }
      return enqueued;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    runOnce,
    start: () => {
      timer ??= setInterval(() => void runOnce(), common.config.RECONCILE_INTERVAL_MS);
      timer.unref();
    },
    stop: () => {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
