import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createIntake, type IntakeSource } from '../backfill/intake.ts';
import { createBackfillQueue } from '../backfill/queue.ts';
import type { Config } from '../common/config.ts';
import type { Common } from '../common/context.ts';
import { ConfigError } from '../common/errors.ts';
import { whenListening } from '../common/listen.ts';
import { EXIT, parseFlags, runService, type Command } from '../common/process.ts';
import { checkServices } from '../common/services.ts';
import { createDb, type Db } from '../db/client.ts';
import { requireMigrated, runMigrations } from '../db/migrate.ts';
import { RPC_ENVIRONMENT_HELP } from '../sui/environment-help.ts';
import { createSourceFromConfig } from '../sui/from-config.ts';
import type { RpcControl } from '../sui/rpc-control.ts';
import { createApp } from './app.ts';

export type ApiService = { url: string; close: () => Promise<void> };

/**
 * Starts the HTTP API on config.HOST:config.PORT (0 picks a free port). `addressSettings` names
 * what chose that address in the error of a failed listen.
 */
export async function startApi(
  common: Common,
  deps: { db: Db; source: IntakeSource & { control: RpcControl } },
  options: { addressSettings?: string } = {},
): Promise<ApiService> {
  const { config } = common;
  const queue = createBackfillQueue({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX });
  const intake = createIntake(common, deps.db, deps.source, queue);
  const app = createApp({
    common,
    db: deps.db,
    intake,
    queue,
    rpc: deps.source.control,
    ready: async () => {
      const problems = await checkServices({ databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL }, 1_000);
      return { postgres: !problems.some((p) => p.startsWith('PostgreSQL')), redis: !problems.some((p) => p.startsWith('Redis')) };
    },
  });
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  try {
    await whenListening(server, { host: config.HOST, port: config.PORT, settings: options.addressSettings ?? 'HOST, PORT' });
  } catch (error) {
    await queue.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.HOST}:${port}`;
  common.logger.info({ url }, 'api listening');
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue.close();
    },
  };
}

export const apiCommand: Command = {
  name: 'api',
  help: `Usage: sui-backfill api [--port N] [--no-migrate]

Serves POST /v1/backfills, GET /v1/backfills[/:id], POST /v1/backfills/:id/pause|resume|cancel,
DELETE /v1/backfills/:id, GET /v1/packages/:id/watermark,
GET|PUT|DELETE /v1/config/rpc (the RPC limits every process applies), the admin page at /, the
OpenAPI document at /openapi.json and Prometheus metrics at /metrics.

Options:
  --port N       listen on N (default PORT, 3000)
  --no-migrate   do not apply pending migrations at start
  -h, --help     show this help

Environment: DATABASE_URL, REDIS_URL, REDIS_PREFIX, HOST, PORT,
API_TOKEN (required: mutating routes need "Authorization: Bearer <API_TOKEN>"),
INTAKE_TIMEOUT_MS (how long a POST's calls to the Sui RPC may take in all before it answers 503),
INDEXER_HANDOFF_TIMEOUT_MS (how long a POST waits for a running indexer to start covering the package),
HEARTBEAT_INTERVAL_MS, STALE_AFTER_MS (when the admin page marks a backfill late or stalled), LOG_LEVEL, LOG_FORMAT

${RPC_ENVIRONMENT_HELP}`,
  async run(argv) {
    const { values } = parseFlags(argv, { port: { type: 'string' }, 'no-migrate': { type: 'boolean', default: false } });
    if (values.help) {
      console.log(this.help);
      return EXIT.ok;
    }
    const validate = (config: Config) => {
      if (!config.API_TOKEN) throw new ConfigError('Invalid configuration: API_TOKEN: required by the api, expected at least 16 characters (missing)');
    };
    return runService('api', { needs: { postgres: true, redis: true }, flags: { PORT: ['--port', values.port] }, validate }, async (common) => {
      if (values['no-migrate']) await requireMigrated(common.config.DATABASE_URL);
      else await runMigrations(common.config.DATABASE_URL);
      const db = createDb(common.config.DATABASE_URL, { applicationName: 'sui-backfill api' });
      common.shutdown.add('database', () => db.close());
      const api = await startApi(common, { db, source: createSourceFromConfig(common) }, { addressSettings: values.port === undefined ? 'HOST, PORT' : 'HOST, --port' });
      common.shutdown.add('api', () => api.close());
    });
  },
};
