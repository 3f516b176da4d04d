import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createShutdown, type Shutdown } from './shutdown.ts';

/** What every module receives instead of reaching for globals. */
export type Common = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  shutdown: Shutdown;
};

export function createCommon(config: Config, bindings: Record<string, unknown> = {}): Common {
  const logger = createLogger(config, bindings);
  return { config, logger, metrics: createMetrics(), shutdown: createShutdown(logger) };
}
