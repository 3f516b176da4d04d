import { z } from 'zod';
import { createBackfillQueue } from '../../src/backfill/queue.ts';
import { createBackfillWorker } from '../../src/backfill/worker.ts';
import { runService } from '../../src/common/process.ts';
import { createDb } from '../../src/db/client.ts';
import { createSourceFromConfig } from '../../src/sui/from-config.ts';

/**
 * A backfill worker process whose walks give up on Postgres sooner than the worker's (about 20 s):
 * `TEST_COMMIT_RETRY` is the walks' CommitRetry as JSON, so that a test of an outage longer than a
 * commit's retries runs in seconds. A process of its own, as a worker is: a Postgres restart under
 * a transaction can raise an error that only a process can survive (porsager/postgres#1208). It
 * says `backfill worker started` when it takes jobs, and stops on SIGTERM as the worker does.
 */
const CommitRetrySchema = z.object({
  maxRetries: z.number().int().min(0),
  baseMs: z.number().int().positive(),
  maxMs: z.number().int().positive(),
  attemptTimeoutMs: z.number().int().positive(),
});

process.exitCode = await runService('worker', { needs: { postgres: true, redis: true } }, async (common) => {
  const commitRetry = CommitRetrySchema.parse(JSON.parse(process.env.TEST_COMMIT_RETRY ?? ''));
  const db = createDb(common.config.DATABASE_URL, { applicationName: 'sui-backfill test worker' });
  common.shutdown.add('database', () => db.close());
  const queue = createBackfillQueue({ redisUrl: common.config.REDIS_URL, prefix: common.config.REDIS_PREFIX });
  const worker = createBackfillWorker(common, { db, source: createSourceFromConfig(common), queue, commitRetry });
  common.shutdown.add('worker', async () => {
    await worker.close();
    await queue.close();
  });
  common.logger.info({ workerId: worker.workerId, commitRetry }, 'backfill worker started');
});
