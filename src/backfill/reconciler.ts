import type { Common } from '../common/context.ts';
import { createPeriodicTask, type PeriodicTask } from '../common/periodic.ts';
import type { Database } from '../db/client.ts';
import type { BackfillQueue } from './queue.ts';
import { requestsNeedingAJob } from './requests.ts';

type Reconciler = PeriodicTask<string[]>;

/**
 * The request row (Postgres) and its job (Redis) are written separately, so either can be missing
 * the other after a crash or an outage. Postgres is the truth: a queued request without a job, or a
 * running one whose worker went silent and whose job is gone, gets a job again.
 */
export function createReconciler(common: Pick<Common, 'config' | 'logger'>, db: Database, queue: BackfillQueue): Reconciler {
  const reconcile = async (): Promise<string[]> => {
    const enqueued: string[] = [];
    for (const id of await requestsNeedingAJob(db, common.config.STALE_AFTER_MS)) {
      if (await queue.hasJob(id)) continue;
      await queue.enqueue(id);
      enqueued.push(id);
    }
    if (enqueued.length > 0) common.logger.info({ requests: enqueued }, 're-enqueued requests that had no job');
    return enqueued;
  };

  return createPeriodicTask({ name: 'reconcile', intervalMs: common.config.RECONCILE_INTERVAL_MS, logger: common.logger, fallback: [], run: reconcile });
}
