import { SuiBackfillError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import type { RpcBudget } from './budget.ts';
import { RateLimitedError } from './errors.ts';
import { callOptions, toSuiError } from './grpc.ts';
import { withRetry } from './retry.ts';

export type CallOptions = ReturnType<typeof callOptions>;

/** As RPC_MAX_RETRIES defaults. */
const DEFAULT_MAX_RETRIES = 6;

export type RpcCallOptions = {
  signal?: AbortSignal;
  /** Called before every attempt, retries included: callers count the RPC calls a unit of work cost. */
  onAttempt?: () => void;
};

type RecoverOptions<T> = {
  /**
   * Runs outside the budget when an attempt fails: may answer instead (another route), or throw a
   * better error, which the retry loop then treats like any other.
   */
  recover?: (error: unknown) => Promise<T>;
};

/**
 * One RPC: `fn` issues the gRPC call with the per-attempt options (deadline, abort). It runs inside
 * the budget, is retried on retryable errors, is counted and timed, and fails with typed errors.
 */
export type RpcCall = <T>(method: string, target: string, fn: (options: CallOptions) => Promise<T>, options?: RpcCallOptions & RecoverOptions<T>) => Promise<T>;

export type RpcStats = {
  /** Attempts sent, retries included. */
  calls: number;
  byMethod: Record<string, number>;
  retries: number;
  failures: number;
};

export type RpcCallerOptions = {
  url: string;
  timeoutMs: number;
  budget?: RpcBudget;
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  metrics?: Metrics;
  logger?: Logger;
};

export function createRpcCaller(options: RpcCallerOptions): { call: RpcCall; stats: () => RpcStats } {
  const { url, timeoutMs, budget, metrics, logger } = options;
  const stats: RpcStats = { calls: 0, byMethod: {}, retries: 0, failures: 0 };

  const attempt = async <T>(method: string, context: string, fn: (options: CallOptions) => Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
    stats.calls++;
    stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
    metrics?.rpcInFlight.inc();
    const started = performance.now();
    try {
      const result = await fn(callOptions(timeoutMs, signal));
      metrics?.rpcRequests.inc({ method, outcome: 'ok' });
      return result;
    } catch (error) {
      stats.failures++;
      const typed = toSuiError(error, context);
      metrics?.rpcRequests.inc({ method, outcome: typed instanceof SuiBackfillError ? typed.code : 'error' });
      if (typed instanceof RateLimitedError) metrics?.rpcThrottled.inc();
      throw typed;
    } finally {
      metrics?.rpcInFlight.dec();
      metrics?.rpcDuration.observe({ method }, (performance.now() - started) / 1000);
    }
  };

  const call: RpcCall = (method, target, fn, request = {}) => {
    const { signal, onAttempt, recover } = request;
    const context = `${method}(${target}) at ${url}`;
    if (budget) metrics?.rpcRateLimit.set(budget.stats().requestsPerSecond);
    return withRetry(
      async () => {
        onAttempt?.();
        try {
          return await (budget ? budget.run(() => attempt(method, context, fn, signal), { signal }) : attempt(method, context, fn, signal));
        } catch (error) {
          if (recover === undefined || signal?.aborted) throw error;
          return await recover(error);
        }
      },
      {
        maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
        baseMs: options.retryBaseMs,
        maxMs: options.retryMaxMs,
        signal,
        onRetry: ({ attempt: retry, delayMs, error }) => {
          stats.retries++;
          const level = error instanceof RateLimitedError ? 'debug' : 'warn';
          logger?.[level]({ method, target, url, retry, delayMs: Math.round(delayMs), code: error.code, err: error.message }, 'sui rpc retry');
        },
      },
    );
  };

  return { call, stats: () => ({ ...stats, byMethod: { ...stats.byMethod } }) };
}
