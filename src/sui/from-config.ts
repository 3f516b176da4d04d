import { Redis } from 'ioredis';
import type { Common } from '../common/context.ts';
import { createDb } from '../db/client.ts';
import { createRpcBudget } from './budget.ts';
import { createRpcControl, type RpcControl } from './rpc-control.ts';
import { environmentRpcLimits } from './rpc-settings.ts';
import { createRedisRateLimiter } from './shared-budget.ts';
import { createSuiSource, type SuiSource } from './source.ts';

/** The process's Sui source with the operator's handle on its budget. */
export type ConfiguredSuiSource = SuiSource & { control: RpcControl };

/**
 * The process-wide Sui source: one budget shared by everything the process asks the RPC (backfill
 * chunks, package resolution, the live indexer), with the limits operators set at runtime applied
 * as they change and, with RPC_SHARED_BUDGET, one bucket in Redis for every replica. Build it once
 * per process; it closes with the process's shutdown.
 */
export function createSourceFromConfig(common: Pick<Common, 'config' | 'metrics' | 'logger' | 'shutdown'>): ConfiguredSuiSource {
  const { config, logger } = common;
  // Commands give up after a second, so an unreachable Redis costs the budget little: the shared
  // limiter then steps aside for a while and the state board reports the failure.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 1_000, retryStrategy: (attempt) => Math.min(attempt * 200, 2_000) });
  redis.on('error', () => {});
  const budget = createRpcBudget({
    ...environmentRpcLimits(config),
    shared: config.RPC_SHARED_BUDGET ? createRedisRateLimiter(redis, `${config.REDIS_PREFIX}:rpc:budget`) : undefined,
    logger,
  });
  const source = createSuiSource({
    url: config.SUI_GRPC_URL,
    archiveUrl: config.SUI_ARCHIVE_GRPC_URL,
    timeoutMs: config.RPC_TIMEOUT_MS,
    maxRetries: config.RPC_MAX_RETRIES,
    cooldownMs: config.RPC_ENDPOINT_COOLDOWN_MS,
    budget,
    metrics: common.metrics,
    logger,
  });
  const db = createDb(config.DATABASE_URL, { max: 1, applicationName: 'sui-backfill rpc settings' });
  const control = createRpcControl({ common, budget, endpoints: source.endpoints, db, redis });
  common.shutdown.add('rpc control', () => control.close());
  return { ...source, control };
}
