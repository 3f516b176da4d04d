import type { Common } from '../common/context.ts';
import { startMetricsServer } from '../common/metrics-server.ts';
import { EXIT, parseFlags, runService, type Command } from '../common/process.ts';
import { createDb, type Db } from '../db/client.ts';
import { requireMigrated, runMigrations } from '../db/migrate.ts';
import { RPC_ENVIRONMENT_HELP } from '../sui/environment-help.ts';
import { createSourceFromConfig } from '../sui/from-config.ts';
import type { ResolvedPackage } from '../sui/records.ts';
import { createHandoff } from './handoff.ts';
import { createBackfillQueue } from './queue.ts';
import { createReconciler } from './reconciler.ts';
import { createBackfillWorker, type WalkSource } from './worker.ts';

/** What a worker process asks the Sui RPC: checkpoints to walk (within its budget), families to continue. */
type WorkerSource = WalkSource & { resolvePackage: (id: string) => Promise<ResolvedPackage> };

export type WorkerService = { workerId: string; close: () => Promise<void> };

/** Starts a backfill worker and its reconciler (which also runs once at start). */
export async function startWorker(common: Common, deps: { db: Db; source: WorkerSource }): Promise<WorkerService> {
  const queue = createBackfillQueue({ redisUrl: common.config.REDIS_URL, prefix: common.config.REDIS_PREFIX });
  const reconciler = createReconciler(common, deps.db.db, queue);
  await reconciler.runOnce();
  reconciler.start();
  const handoff = createHandoff(common, deps.db, deps.source, queue);
  await handoff.runOnce();
  handoff.start();
  const worker = createBackfillWorker(common, { db: deps.db, source: deps.source, queue });
  common.logger.info(
    { workerId: worker.workerId, concurrency: common.config.WORKER_CONCURRENCY, chunkSize: common.config.BACKFILL_CHUNK_SIZE },
    'backfill worker started',
  );
  return {
    workerId: worker.workerId,
    close: async () => {
      handoff.stop();
      reconciler.stop();
      await worker.close();
      await queue.close();
    },
  };
}

export const workerCommand: Command = {
  name: 'worker',
  help: `Usage: sui-backfill worker [--concurrency N] [--chunk-size N] [--no-migrate]

Takes backfill jobs from the queue and walks each package's checkpoint range in chunks of at most
--chunk-size checkpoints (halved when a checkpoint is too large or too slow for the RPC, grown back
after calm chunks), writing matching object versions to sui_objects and advancing the per-request
watermark. Run any number of replicas; a request is walked by one of them at a time. SIGTERM
finishes the chunk in flight (abandoning it, uncommitted, after WORKER_SHUTDOWN_GRACE_MS), hands
the request back to the queue and exits 0.

Options:
  --concurrency N   backfills walked at once by this process (default WORKER_CONCURRENCY, 2)
  --chunk-size N    most checkpoints per chunk/transaction (default BACKFILL_CHUNK_SIZE)
  --no-migrate      do not apply pending migrations at start
  -h, --help        show this help

Environment: DATABASE_URL, REDIS_URL, REDIS_PREFIX, BACKFILL_CHUNK_SIZE, BACKFILL_CHUNK_RETRIES,
BACKFILL_CHUNK_RETRY_BASE_MS (a chunk still failing transiently after the RPC's or Postgres' own
retries is tried again from the watermark that many times, the pauses doubling from that, up to
30 s), WORKER_CONCURRENCY, METRICS_PORT (serve /metrics), HEARTBEAT_INTERVAL_MS, STALE_AFTER_MS,
RECONCILE_INTERVAL_MS, WORKER_SHUTDOWN_GRACE_MS, LOG_LEVEL, LOG_FORMAT

${RPC_ENVIRONMENT_HELP}`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      concurrency: { type: 'string' },
      'chunk-size': { type: 'string' },
      'no-migrate': { type: 'boolean', default: false },
    });
    if (values.help) {
      console.log(this.help);
      return EXIT.ok;
    }
    const flags = { WORKER_CONCURRENCY: ['--concurrency', values.concurrency], BACKFILL_CHUNK_SIZE: ['--chunk-size', values['chunk-size']] } as const;
    return runService('worker', { needs: { postgres: true, redis: true }, flags }, async (common) => {
      if (values['no-migrate']) await requireMigrated(common.config.DATABASE_URL);
      else await runMigrations(common.config.DATABASE_URL);
      const db = createDb(common.config.DATABASE_URL, { applicationName: 'sui-backfill worker' });
      common.shutdown.add('database', () => db.close());
      // First: a METRICS_PORT it cannot listen on stops it before it says it started.
      const metricsServer = await startMetricsServer(common);
      if (metricsServer) common.shutdown.add('metrics', () => metricsServer.close());
      const worker = await startWorker(common, { db, source: createSourceFromConfig(common) });
      common.shutdown.add('worker', () => worker.close());
    });
  },
};
