import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { createBackfillQueue, type BackfillQueue } from '../../src/backfill/queue.ts';
import { startApi, type ApiService } from '../../src/api/process.ts';
import { startWorker, type WorkerService } from '../../src/backfill/process.ts';
import { startIndexer, type IndexerService } from '../../src/indexer/process.ts';
import { loadConfig, type Config } from '../../src/common/config.ts';
import { createCommon, type Common } from '../../src/common/context.ts';
import type { Logger } from '../../src/common/logger.ts';
import { createSimChain, type SimChain, type SimChainOptions } from '../../src/simnet/chain.ts';
import { createSimnetServer, type SimnetKnobs, type SimnetServer } from '../../src/simnet/server.ts';
import { createSourceFromConfig, type ConfiguredSuiSource } from '../../src/sui/from-config.ts';
import { compareObjectVersions, type MatchMode, type ObjectVersionRow } from '../../src/sui/records.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { createTestRedisNamespace } from './redis.ts';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export type Stack = {
  chain: SimChain;
  simnet: SimnetServer;
  database: TestDatabase;
  /** The environment a process of this stack runs with (spawned processes get it too). */
  env: Record<string, string>;
  common: Common;
  source: ConfiguredSuiSource;
  queue: BackfillQueue;
  api: ApiService;
  /** JSON call to the API with the token. */
  call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any; headers: Headers }>;
  /** An in-process worker with its own config overrides (chunk size, ...). */
  startWorker: (overrides?: Partial<Config>) => Promise<WorkerService>;
  /** An in-process live indexer (stopped by close() unless stopped before). */
  startIndexer: (options?: { firstCheckpoint?: bigint }) => Promise<IndexerService>;
  waitForStatus: (id: string, statuses: string[], timeoutMs?: number) => Promise<any>;
  /** sui_objects as rows, sorted by (object_id, version). */
  objects: () => Promise<ObjectVersionRow[]>;
  truth: (packageId: string, match: MatchMode, from: bigint, to: bigint) => ObjectVersionRow[];
  /** Empties the backfill requests (and what hangs off them), the packages' coverage, sui_objects and sui_packages: a fresh start for the next test. */
  clearBackfills: () => Promise<void>;
  close: () => Promise<void>;
};

export function sortRows(rows: ObjectVersionRow[]): ObjectVersionRow[] {
  return [...rows].sort(compareObjectVersions);
}

/** Posts a backfill (202) and waits, up to `timeoutMs`, for it to complete without an error; its final view. */
export async function backfillToCompletion(stack: Stack, body: Record<string, unknown>, timeoutMs: number): Promise<any> {
  const posted = await stack.call('POST', '/v1/backfills', body);
  expect(posted.status).toBe(202);
  const done = await stack.waitForStatus(posted.body.id, ['completed', 'failed'], timeoutMs);
  expect(done.lastError).toBeNull();
  expect(done.status).toBe('completed');
  return done;
}

/** The most RPC calls the stack's process had in flight, and queued in its budget, over `ms`. */
export async function peakRpcLoad(stack: Stack, ms: number): Promise<{ inFlight: number; queued: number }> {
  let inFlight = 0;
  let queued = 0;
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(5)) {
    const stats = stack.source.control.budget.stats();
    inFlight = Math.max(inFlight, stats.inFlight);
    queued = Math.max(queued, stats.queued);
  }
  return { inFlight, queued };
}

async function readObjects(database: TestDatabase): Promise<ObjectVersionRow[]> {
  const rows = await database.sql`select * from sui_objects order by object_id, version`;
  return rows.map((row) => ({
    objectId: row.object_id,
    version: BigInt(row.version),
    objectType: row.object_type,
    typePackage: row.type_package,
    typeModule: row.type_module,
    typeName: row.type_name,
    ownerKind: row.owner_kind,
    ownerAddress: row.owner_address,
    checkpoint: BigInt(row.checkpoint),
    txDigest: row.tx_digest,
    objectDigest: row.object_digest,
    change: row.change,
  }));
}

export type StackOptions = {
  chain?: SimChainOptions;
  knobs?: Partial<SimnetKnobs>;
  env?: Record<string, string>;
  /** Replaces the stack's logger, to read what it logs. */
  logger?: Logger;
  /** A database of the test's own (another Postgres server); dropped, i.e. closed, by close(). */
  database?: TestDatabase;
  /** Another Redis server than the shared one. */
  redisUrl?: string;
};

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const chain = createSimChain({ checkpoints: 1_500, txPerCheckpoint: 4, packageTrafficFraction: 0.3, ...options.chain });
  const simnet = await createSimnetServer({ chain, ...options.knobs });
  const database = options.database ?? (await createTestDatabase());
  const redis = createTestRedisNamespace(options.redisUrl);
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    SUI_GRPC_URL: simnet.url,
    API_TOKEN: TEST_TOKEN,
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RPC_CONCURRENCY: '16',
    RPC_REQUESTS_PER_SECOND: '100000',
    RPC_MAX_RETRIES: '3',
    RPC_TIMEOUT_MS: '5000',
    HEARTBEAT_INTERVAL_MS: '500',
    STALE_AFTER_MS: '3000',
    RECONCILE_INTERVAL_MS: '500',
    ...options.env,
  };
  const common = createCommon(loadConfig(env));
  if (options.logger) common.logger = options.logger;
  const source = createSourceFromConfig(common);
  const queue = createBackfillQueue({ redisUrl: redis.url, prefix: redis.prefix });
  const api = await startApi(common, { db: database, source });
  const workers: WorkerService[] = [];
  const indexers: IndexerService[] = [];

  const call: Stack['call'] = async (method, path, body, headers = {}) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed, headers: response.headers };
  };

  return {
    chain,
    simnet,
    database,
    env,
    common,
    source,
    queue,
    api,
    call,
    startWorker: async (overrides = {}) => {
      const worker = await startWorker({ ...common, config: { ...common.config, ...overrides } }, { db: database, source });
      workers.push(worker);
      return worker;
    },
    startIndexer: async (indexerOptions = {}) => {
      const indexer = await startIndexer(common, { db: database, source, firstCheckpoint: indexerOptions.firstCheckpoint });
      indexers.push(indexer);
      return indexer;
    },
    clearBackfills: async () => {
      await database.sql`truncate package_backfill_requests, package_backfill_coverage, sui_objects, sui_packages cascade`;
    },
    waitForStatus: async (id, statuses, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { body } = await call('GET', `/v1/backfills/${id}`);
        if (statuses.includes(body.status)) return body;
        if (Date.now() > deadline) throw new Error(`backfill ${id} is ${body.status}, not ${statuses.join('|')}, after ${timeoutMs} ms: ${JSON.stringify(body)}`);
        await sleep(50);
      }
    },
    objects: () => readObjects(database),
    truth: (packageId, match, from, to) => sortRows(chain.groundTruth({ packageId, match, fromCheckpoint: from, toCheckpoint: to })),
    close: async () => {
      for (const worker of workers) await worker.close();
      for (const indexer of indexers) await indexer.close();
      await api.close();
      await source.control.close();
      await queue.close();
      await database.drop();
      await simnet.close();
      await redis.cleanup();
    },
  };
}
