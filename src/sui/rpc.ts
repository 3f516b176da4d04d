import { DEFAULT_RPC_MAX_RETRIES } from '../common/config.ts';
import { SuiBackfillError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import type { RpcBudget } from './budget.ts';
import { isEndpointFailure, type Endpoint, type EndpointPool } from './endpoints.ts';
import { EndpointRefusedError, RateLimitedError, ResponseTooLargeError, UnavailableError } from './errors.ts';
import { callDeadline, toSuiError, type CallOptions } from './grpc.ts';
import { withRpcRetry } from './retry.ts';

/**
 * Rate-limit replies a call may meet before it gives up. Larger than the failure bound: each reply
 * already slows the whole process down, so they end once the budget has settled under the limit.
 */
const DEFAULT_MAX_THROTTLED_RETRIES = 30;

/** Why an attempt suggests asking for less at a time: a response over the node's size limit, or a deadline. */
export type StrainReason = 'response_too_large' | 'deadline';

export type RpcCallOptions = {
  signal?: AbortSignal;
  /** Called before every attempt, retries included: callers count the RPC calls a unit of work cost. */
  onAttempt?: () => void;
  /** Called when an attempt ran into the node's response size limit or our deadline. */
  onStrain?: (reason: StrainReason, detail: string) => void;
};

export type RouteOptions = {
  /** Ask this endpoint and no other (to explain its own answer, or the archive on purpose). */
  endpoint?: Endpoint;
  /** The checkpoint the call is about: endpoints that pruned it are skipped. */
  checkpoint?: bigint;
};

type RecoverOptions<T> = {
  /**
   * Runs outside the budget when an attempt fails, with the endpoint that failed: may answer
   * instead (another route), or throw a better error, which the retry loop then treats like any other.
   */
  recover?: (error: unknown, at: Endpoint) => Promise<T>;
};

/**
 * One RPC: `fn` issues the gRPC call to the given endpoint with the per-attempt options (deadline,
 * abort). Each attempt picks a healthy endpoint and runs inside the budget; the call is retried on
 * retryable errors, counted and timed, and fails with typed errors. An endpoint that refuses our
 * credentials is not asked again by the same call: the next one is, at once, and the call fails
 * (EndpointRefusedError) only once every endpoint it may ask has refused.
 */
export type RpcCall = <T>(
  method: string,
  target: string,
  fn: (options: CallOptions, at: Endpoint) => Promise<T>,
  options?: RpcCallOptions & RouteOptions & RecoverOptions<T>,
) => Promise<T>;

export type RpcStats = {
  /** Attempts sent, retries included. */
  calls: number;
  byMethod: Record<string, number>;
  retries: number;
  failures: number;
};

export type RpcCallerOptions = {
  pool: EndpointPool;
  timeoutMs: number;
  budget?: RpcBudget;
  maxRetries?: number;
  /** Rate-limit replies a call may meet before it fails (default 30). */
  maxThrottledRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  metrics?: Metrics;
  logger?: Logger;
};

export function createRpcCaller(options: RpcCallerOptions): { call: RpcCall; stats: () => RpcStats } {
  const { pool, timeoutMs, budget, metrics, logger } = options;
  const stats: RpcStats = { calls: 0, byMethod: {}, retries: 0, failures: 0 };

  const attempt = async <T>(method: string, target: string, at: Endpoint, fn: (options: CallOptions, at: Endpoint) => Promise<T>, request: RpcCallOptions): Promise<T> => {
    stats.calls++;
    stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
    metrics?.rpcInFlight.inc();
    const started = performance.now();
    const deadline = callDeadline(timeoutMs, request.signal);
    try {
      const result = await fn(deadline.options, at);
      metrics?.rpcRequests.inc({ method, outcome: 'ok' });
      pool.report(at, 'answered');
      return result;
    } catch (error) {
      stats.failures++;
      const typed = toSuiError(error, `${method}(${target}) at ${at.url}`);
      metrics?.rpcRequests.inc({ method, outcome: typed instanceof SuiBackfillError ? typed.code : 'error' });
      if (typed instanceof RateLimitedError) metrics?.rpcThrottled.inc();
      if (typed instanceof ResponseTooLargeError) request.onStrain?.('response_too_large', typed.message);
      if (typed instanceof UnavailableError && typed.reason === 'deadline') request.onStrain?.('deadline', typed.message);
      pool.report(at, request.signal?.aborted ? 'unknown' : isEndpointFailure(typed) ? 'failed' : typed instanceof SuiBackfillError ? 'answered' : 'unknown', typed);
      throw typed;
    } finally {
      deadline.done();
      metrics?.rpcInFlight.dec();
      metrics?.rpcDuration.observe({ method }, (performance.now() - started) / 1000);
    }
  };

  /** What a call says once every endpoint it asked refused our credentials (`last` the latest refusal). */
  const allRefused = (method: string, target: string, refused: ReadonlySet<Endpoint>, last: EndpointRefusedError) =>
    refused.size < 2
      ? last
      : new EndpointRefusedError(`${method}(${target}): every endpoint refused our credentials (${[...refused].map((at) => at.url).join(', ')}); the last said: ${last.message}`, last);

  const call: RpcCall = (method, target, fn, request = {}) => {
    const { signal, onAttempt, recover, endpoint, checkpoint } = request;
    // The endpoint that just failed this call: the next attempt prefers another.
    let failedAt: Endpoint | undefined;
    // Endpoints that refused our credentials: this call asks them no more.
    const refused = new Set<Endpoint>();
    let lastRefusal: EndpointRefusedError | undefined;
    return withRpcRetry(
      async () => {
        for (;;) {
          onAttempt?.();
          let at: Endpoint | undefined;
          const run = () => {
            // Picked once the budget lets the call go, so the choice reflects health at that moment.
            at = endpoint ?? pool.pick({ checkpoint, avoid: failedAt, exclude: refused });
            if (at === undefined) throw allRefused(method, target, refused, lastRefusal!);
            return attempt(method, target, at, fn, request);
          };
          try {
            return await (budget ? budget.run(run, { signal }) : run());
          } catch (error) {
            if (at !== undefined && isEndpointFailure(error)) failedAt = at;
            if (error instanceof EndpointRefusedError && at !== undefined && endpoint === undefined && !signal?.aborted) {
              refused.add(at);
              lastRefusal = error;
              if (pool.pick({ checkpoint, exclude: refused }) !== undefined) continue;
              throw allRefused(method, target, refused, error);
            }
            if (recover === undefined || signal?.aborted || at === undefined) throw error;
            try {
              return await recover(error, at);
            } catch (recovered) {
              // `recover` found this endpoint cannot serve the call (a node behind): the retry asks another.
              if (isEndpointFailure(recovered)) failedAt = at;
              throw recovered;
            }
          }
        }
      },
      {
        maxRetries: options.maxRetries ?? DEFAULT_RPC_MAX_RETRIES,
        maxThrottledRetries: options.maxThrottledRetries ?? DEFAULT_MAX_THROTTLED_RETRIES,
        baseMs: options.retryBaseMs,
        maxMs: options.retryMaxMs,
        signal,
        onRetry: ({ attempt: retry, delayMs, error }) => {
          stats.retries++;
          metrics?.rpcRetries.inc({ method, code: error.code });
          const level = error instanceof RateLimitedError ? 'debug' : 'warn';
          logger?.[level]({ method, target, retry, delayMs: Math.round(delayMs), code: error.code, err: error.message }, 'sui rpc retry');
        },
      },
    );
  };

  return { call, stats: () => ({ ...stats, byMethod: { ...stats.byMethod } }) };
}
