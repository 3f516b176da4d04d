import { startApi } from './api/process.ts';
import { ApiRequestError, createApiClient, type ApiClient, type BackfillCreated } from './api/client.ts';
import { watchBackfill } from './api/watch.ts';
import { startWorker } from './backfill/process.ts';
import { BACKFILL_QUEUE } from './backfill/queue.ts';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { configSchema, parseVariables } from './common/config.ts';
import { ConfigError } from './common/errors.ts';
import { EXIT, parseFlagValues, parseFlags, runService, type Command } from './common/process.ts';
import type { Common } from './common/context.ts';
import { redactPassword } from './common/redact-url.ts';
import { createDb } from './db/client.ts';
import { runMigrations } from './db/migrate.ts';
import { startIndexer } from './indexer/process.ts';
import { simnetFlagsSchema, startSimnet } from './simnet/process.ts';
import { createSourceFromConfig } from './sui/from-config.ts';

const DEV_TOKEN = 'dev-token-not-for-production';
const DEV_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sui_backfill_dev';
const DEV_REDIS_PREFIX = 'sui-backfill-dev';

/** The simulator's flags dev passes on, by the simulator's rules. */
const DEV_FLAGS = z.object({ 'simnet-port': simnetFlagsSchema.shape.port.unwrap(), checkpoints: simnetFlagsSchema.shape.checkpoints.unwrap() });

function banner(common: Common, apiUrl: string, simnetUrl: string, packages: Record<string, string>): string {
  const curl = `curl -s -X POST ${apiUrl}/v1/backfills -H 'Authorization: Bearer ${common.config.API_TOKEN}' -H 'Content-Type: application/json'`;
  return [
    '',
    `sui-backfill dev is running`,
    `  admin page   ${apiUrl}/`,
    `  API          ${apiUrl}/openapi.json   metrics ${apiUrl}/metrics`,
    `  simnet       ${simnetUrl}   (${simnetUrl}/simnet/stats; its tip advances every 250 ms)`,
    `  indexer      following the tip; it covers every package you backfill from the moment you post it`,
    `  database     ${redactPassword(common.config.DATABASE_URL)}   (DEV_DATABASE_URL; reset at each start)`,
    `  queue        Redis ${redactPassword(common.config.REDIS_URL)}, prefix ${common.config.REDIS_PREFIX}   (DEV_REDIS_PREFIX; emptied at each start)`,
    '',
    'Simulated packages:',
    ...Object.entries(packages).map(([name, id]) => `  ${name.padEnd(6)} ${id}`),
    '',
    'Post another backfill:',
    `  ${curl} -d '{"packageId": "${packages.book}", "match": "anywhere"}'`,
    '',
  ].join('\n');
}

/**
 * dev resets its database and empties its queue, so it reads them from variables of its own: a
 * shell set up for production (DATABASE_URL, REDIS_PREFIX exported) cannot have its data wiped.
 */
function devTargets(env: Record<string, string | undefined>): { DATABASE_URL: string; REDIS_PREFIX: string } {
  const schema = z.object({
    DEV_DATABASE_URL: configSchema.shape.DATABASE_URL.unwrap().default(DEV_DATABASE_URL),
    DEV_REDIS_PREFIX: configSchema.shape.REDIS_PREFIX.unwrap().default(DEV_REDIS_PREFIX),
  });
  const { DEV_DATABASE_URL: databaseUrl, DEV_REDIS_PREFIX: prefix } = parseVariables(schema, { DEV_DATABASE_URL: env.DEV_DATABASE_URL, DEV_REDIS_PREFIX: env.DEV_REDIS_PREFIX });
  if (env.DATABASE_URL && sameDatabase(databaseUrl, env.DATABASE_URL)) {
    throw new ConfigError('Invalid configuration: DEV_DATABASE_URL: names the same database as DATABASE_URL, which dev would reset; expected another database');
  }
  if (env.REDIS_PREFIX && prefix === env.REDIS_PREFIX) {
    throw new ConfigError('Invalid configuration: DEV_REDIS_PREFIX: equals REDIS_PREFIX, whose queue dev would empty; expected another prefix');
  }
  return { DATABASE_URL: databaseUrl, REDIS_PREFIX: prefix };
}

function sameDatabase(a: string, b: string): boolean {
  const key = (value: string) => {
    const url = new URL(value);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  };
  try {
    return key(a) === key(b);
  } catch {
    return false;
  }
}

/** Posts the demo backfill; on refusal, one line saying why and undefined. */
async function postDemo(client: ApiClient, packageId: string): Promise<BackfillCreated | undefined> {
  try {
    return (await client.createBackfill({ packageId, match: 'anywhere' })).body;
  } catch (error) {
    if (!(error instanceof ApiRequestError)) throw error;
    console.error(`Demo backfill not accepted: HTTP ${error.status} ${`${error.code}: ${error.message}`.replace(/\s+/g, ' ')}`);
    return undefined;
  }
}

export const devCommand: Command = {
  name: 'dev',
  help: `Usage: sui-backfill dev [--port N] [--simnet-port N] [--checkpoints N]

Starts a simulated Sui chain (its tip advancing every 250 ms), migrates (and resets) a development
database, starts the API, a backfill worker and the live indexer in this process, posts a demo backfill and shows its progress until it is done,
then keeps serving so you can post more (the curl is printed). Ctrl-C stops everything.

Options:
  --port N           API port (default PORT, 3000; 0 picks a free port)
  --simnet-port N    simulator port (default 9000; 0 picks a free port)
  --checkpoints N    checkpoints in the simulated chain (default 20000)
  -h, --help         show this help

Environment (dev never reads DATABASE_URL or REDIS_PREFIX, so running it in a shell set up for
production cannot touch production data; it refuses DEV_ values equal to those):
  DEV_DATABASE_URL  default ${DEV_DATABASE_URL} (reset at each start)
  DEV_REDIS_PREFIX  default ${DEV_REDIS_PREFIX} (its queue is emptied at each start)
  REDIS_URL      default redis://127.0.0.1:6379
  API_TOKEN      default ${DEV_TOKEN}
  RPC_REQUESTS_PER_SECOND  default 5000 (the simulator does not throttle)
  LOG_LEVEL      default warn (info shows every chunk), LOG_FORMAT default pretty`,
  async run(argv) {
    const { values } = parseFlags(argv, {
      port: { type: 'string' },
      'simnet-port': { type: 'string', default: '9000' },
      checkpoints: { type: 'string', default: '20000' },
    });
    if (values.help) {
      console.log(this.help);
      return EXIT.ok;
    }
    const env = {
      ...devTargets(process.env),
      API_TOKEN: process.env.API_TOKEN || DEV_TOKEN,
      LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
      LOG_FORMAT: process.env.LOG_FORMAT || 'pretty',
      // The simulator has no rate limit of its own unless asked; a real provider's limit is the default elsewhere.
      RPC_REQUESTS_PER_SECOND: process.env.RPC_REQUESTS_PER_SECOND || '5000',
    };
    const flags = parseFlagValues(DEV_FLAGS, values);
    const options = { needs: { postgres: true, redis: true }, env, flags: { PORT: ['--port', values.port] } as const, databaseVariable: 'DEV_DATABASE_URL' };
    return runService('dev', options, async (common) => {
      const { checkpoints } = flags;
      const simnet = await startSimnet(common, {
        host: '127.0.0.1',
        port: flags['simnet-port'],
        chain: { checkpoints, initialTip: Math.floor(checkpoints * 0.9) },
        knobs: { tipAdvanceMs: 250 },
      });
      common.shutdown.add('simnet', () => simnet.close());
      const config = { ...common.config, SUI_GRPC_URL: [simnet.url] };
      const dev: Common = { ...common, config };

      await runMigrations(config.DATABASE_URL, { reset: true });
      const stale = new Queue(BACKFILL_QUEUE, { connection: { url: config.REDIS_URL }, prefix: config.REDIS_PREFIX });
      await stale.obliterate({ force: true });
      await stale.close();

      const db = createDb(config.DATABASE_URL, { applicationName: 'sui-backfill dev' });
      common.shutdown.add('database', () => db.close());
      const source = createSourceFromConfig(dev);
      const api = await startApi(dev, { db, source });
      common.shutdown.add('api', () => api.close());
      const worker = await startWorker(dev, { db, source });
      common.shutdown.add('worker', () => worker.close());
      const indexer = await startIndexer(dev, { db, source });
      common.shutdown.add('indexer', () => indexer.close());

      const packages = Object.fromEntries(simnet.chain.packages.filter((pkg) => pkg.versions[0].publishCheckpoint > 0n).map((pkg) => [pkg.name, pkg.originalId]));
      console.log(banner(dev, api.url, simnet.url, packages));

      const dex = simnet.chain.package('dex');
      const newest = dex.versions[dex.versions.length - 1].id;
      const client = createApiClient({ baseUrl: api.url, token: config.API_TOKEN });
      const posted = await postDemo(client, newest);
      if (!posted) return;
      console.log(`Demo: backfill of the dex package (posted by its newest upgrade ${newest}), match anywhere,`);
      console.log(`checkpoints ${posted.fromCheckpoint}..${posted.toCheckpoint}, request ${posted.id}\n`);
      // The demo's progress until it ends or the process stops: a live bar, or a line every 2 s without a terminal.
      void watchBackfill(client, posted.id, { intervalMs: 250, lineEveryMs: 2_000, signal: common.shutdown.signal }).then(
        (view) => {
          if (view) console.log(`\nDemo backfill ${view.status}: ${view.rowsInserted} object versions written. Still serving; Ctrl-C to stop.`);
        },
        (error) => common.logger.warn({ err: error }, 'progress display stopped'),
      );
    });
  },
};
