import type { Common } from '../common/context.ts';
import { createRpcBudget } from './budget.ts';
import { createSuiSource, type SuiSource } from './source.ts';

/** The process-wide Sui source: one budget shared by everything the process asks the RPC. */
export function createSourceFromConfig(common: Pick<Common, 'config' | 'metrics' | 'logger'>): SuiSource {
  const { config } = common;
  const budget = createRpcBudget({ requestsPerSecond: config.RPC_REQUESTS_PER_SECOND, maxInFlight: config.RPC_CONCURRENCY });
  return createSuiSource({
    url: config.SUI_GRPC_URL[0],
    archiveUrl: config.SUI_ARCHIVE_GRPC_URL,
    timeoutMs: config.RPC_TIMEOUT_MS,
    maxRetries: config.RPC_MAX_RETRIES,
    budget,
    metrics: common.metrics,
    logger: common.logger,
  });
}
