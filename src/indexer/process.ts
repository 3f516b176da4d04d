import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { startMetricsServer } from '../common/metrics-server.ts';
import { EXIT, parseFlags, runService, type Command } from '../common/process.ts';
import { createDb, type Db } from '../db/client.ts';
import { requireMigrated, runMigrations } from '../db/migrate.ts';
import { RPC_ENVIRONMENT_HELP } from '../sui/environment-help.ts';
import { createSourceFromConfig } from '../sui/from-config.ts';
import { createIndexer, type IndexerSource } from './indexer.ts';

export type IndexerService = {
  /** Settles when the indexer stops: after `close`, or rejected with the error no retry could fix. */
  done: Promise<void>;
  close: () => Promise<void>;
};

/** Starts the live indexer in the background; `close` stops it after the batch in flight. */
export async function startIndexer(common: Common, deps: { db: Db; source: IndexerSource; firstCheckpoint?: bigint }): Promise<IndexerService> {
  const indexer = await createIndexer(common, deps);
  const done = indexer.run();
  done.catch((error) => common.logger.error({ err: errorMessage(error) }, 'indexer stopped on an error'));
  return { done, close: () => indexer.stop() };
}

export const indexerCommand: Command = {
  name: 'indexer',
  help: `Usage: sui-backfill indexer [--first-checkpoint N] [--no-migrate]

Follows the chain from its watermark (pipeline sui_objects in the framework watermarks table), or
on its first start from --first-checkpoint / INDEXER_FIRST_CHECKPOINT, or else from the tip. For
every checkpoint it records the packages published or upgraded into sui_packages, and writes the
object versions of tracked packages (every package a backfill was posted for) into sui_objects,
advancing the watermark in the same transaction. A newly tracked package is covered from the
first checkpoint the indexer had not processed yet; its backfill ends just before it.
Only one indexer may run per database; a second one exits with a message. An error no retry can
fix (a first checkpoint the node no longer serves, the lock taken by another indexer) stops it with
one line and exit code 1; everything else (RPC or Postgres outages) is retried.

Options:
  --first-checkpoint N   where to start when there is no watermark yet (default: the tip)
  --no-migrate           do not apply pending migrations at start
  -h, --help             show this help

Environment: DATABASE_URL, REDIS_URL, REDIS_PREFIX, INDEXER_FIRST_CHECKPOINT, INDEXER_POLL_INTERVAL_MS,
INDEXER_BATCH_SIZE, METRICS_PORT (serve /metrics), LOG_LEVEL, LOG_FORMAT

${RPC_ENVIRONMENT_HELP}`,
  async run(argv) {
    const { values } = parseFlags(argv, { 'first-checkpoint': { type: 'string' }, 'no-migrate': { type: 'boolean', default: false } });
    if (values.help) {
      console.log(this.help);
      return EXIT.ok;
    }
    return runService('indexer', { needs: { postgres: true }, flags: { INDEXER_FIRST_CHECKPOINT: ['--first-checkpoint', values['first-checkpoint']] } }, async (common, fail) => {
      if (values['no-migrate']) await requireMigrated(common.config.DATABASE_URL);
      else await runMigrations(common.config.DATABASE_URL);
      const db = createDb(common.config.DATABASE_URL, { applicationName: 'sui-backfill indexer' });
      common.shutdown.add('database', () => db.close());
      // First: a METRICS_PORT it cannot listen on stops it before it says it started.
      const metricsServer = await startMetricsServer(common);
      if (metricsServer) common.shutdown.add('metrics', () => metricsServer.close());
      const indexer = await startIndexer(common, { db, source: createSourceFromConfig(common) });
      common.shutdown.add('indexer', () => indexer.close());
      indexer.done.catch(fail);
    });
  },
};
