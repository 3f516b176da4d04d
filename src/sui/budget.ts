import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { RateLimitedError } from './errors.ts';

/**
 * The process-wide RPC budget: a token bucket and a cap on calls in flight, shared by everything
 * the process asks the RPC. Callers are served first come, first served: a call waits for the
 * calls queued before it and is never passed over, so the live indexer's occasional call is
 * delayed by a busy backfill's queue (which its fetch concurrency bounds) but always served. The
 * one exception is `interactive`: calls a person waits on (intake) go ahead of the queued others.
 *
 * The bucket runs at an effective rate that adapts to the provider (AIMD): a rate-limit reply
 * halves it and pauses every call for the reply's retry-after; successful calls bring it back
 * additively, never above the configured rate. With a shared limiter (Redis), every call also
 * needs a token from a bucket all replicas draw from, so together they stay under the limit. Each
 * replica asks that bucket for its configured rate (the stored setting every replica applies, or
 * its environment's without one), never for its lowered rate, and the bucket runs at the lowest
 * rate asked lately; a replica that drew rate-limit replies slows itself down through its own bucket.
 */
export type RpcBudget = {
  run<T>(fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  /**
   * Runs `fn` with every call it makes through `run`, at any depth, queued ahead of the calls made
   * outside such a scope (and behind earlier interactive ones). They still take a token and an
   * in-flight slot: only the order changes, never the rate or the cap.
   */
  interactive<T>(fn: () => Promise<T>): Promise<T>;
  /** New configured limits (an operator's change): the effective rate starts again from the new rate. */
  setLimits(limits: Partial<RpcLimits>): void;
  stats(): RpcBudgetStats;
};

export type RpcLimits = { requestsPerSecond: number; maxInFlight: number };

export const RpcBudgetStatsSchema = z.object({
  requestsPerSecond: z.number().describe('The configured rate: the effective rate never exceeds it'),
  effectiveRequestsPerSecond: z.number().describe('The rate it runs at now: lowered after rate-limit replies, recovering while calls succeed'),
  achievedRequestsPerSecond: z.number().describe('Calls started per second over the last 5 s'),
  maxInFlight: z.number().int(),
  inFlight: z.number().int(),
  queued: z.number().int(),
  started: z.number().int().describe('Calls started since creation'),
  throttled: z.number().int().describe('Rate-limit replies (RESOURCE_EXHAUSTED / 429) since creation'),
  backoffMs: z.number().int().describe('How much longer every call waits because of the last rate-limit reply'),
  shared: z.boolean().describe('Whether it draws from the shared (cross-replica) Redis budget'),
});

type RpcBudgetStats = z.infer<typeof RpcBudgetStatsSchema>;

/** A token bucket several processes draw from. */
export type SharedRateLimiter = {
  /**
   * Takes up to `want` tokens from the bucket, asking it to refill at `requestsPerSecond` and hold
   * at most `capacity` (this process's configured rate and its burst). Resolves with how many were
   * granted, when none the milliseconds until one is due, and the rate the bucket runs at (the
   * lowest any process asks for).
   */
  take(want: number, requestsPerSecond: number, capacity: number): Promise<{ granted: number; waitMs: number; requestsPerSecond: number }>;
};

type RpcBudgetOptions = RpcLimits & {
  /**
   * Seconds of tokens one burst may use. Below a provider's own burst (commonly a second), so its
   * bucket keeps a cushion that absorbs the jitter between our sends and its arrivals.
   */
  burstSeconds?: number;
  shared?: SharedRateLimiter;
  logger?: Logger;
};

/** Seconds of tokens a burst may use unless `burstSeconds` says otherwise. */
export const DEFAULT_BURST_SECONDS = 0.5;

/** Halving on a rate-limit reply, at most once per interval: replies to a burst arrive together. */
const DECREASE_FACTOR = 0.5;
const DECREASE_INTERVAL_MS = 1_000;
/** Recovery: each second of successful calls adds this fraction of the configured rate. */
const RECOVERY_PER_SECOND = 0.05;
/** The pause after a rate-limit reply that gives no retry-after. */
const DEFAULT_BACKOFF_MS = 1_000;
/** A pause longer than this is said at warn: every call of the process waits it out. */
const LONG_PAUSE_MS = 5_000;
/** After the shared limiter fails, the local budget alone decides for this long. */
const SHARED_OUTAGE_MS = 5_000;
const ACHIEVED_SLOT_MS = 100;
const ACHIEVED_SLOTS = 50;

type Waiter = { start: () => void; interactive: boolean };

function checkLimits(limits: Partial<RpcLimits>): void {
  if (limits.requestsPerSecond !== undefined && !(limits.requestsPerSecond > 0)) throw new RangeError(`requestsPerSecond must be positive, got ${limits.requestsPerSecond}`);
  if (limits.maxInFlight !== undefined && !(Number.isInteger(limits.maxInFlight) && limits.maxInFlight >= 1)) {
    throw new RangeError(`maxInFlight must be an integer of at least 1, got ${limits.maxInFlight}`);
  }
}

export function createRpcBudget(options: RpcBudgetOptions): RpcBudget {
  checkLimits(options);
  const { shared, logger } = options;
  const burstSeconds = options.burstSeconds ?? DEFAULT_BURST_SECONDS;
  const createdAt = performance.now();
  let configured = options.requestsPerSecond;
  let effective = configured;
  let maxInFlight = options.maxInFlight;
  const capacity = () => Math.max(1, effective * burstSeconds);
  let tokens = capacity();
  let refilledAt = createdAt;
  let inFlight = 0;
  let started = 0;
  let throttled = 0;
  let backoffUntil = 0;
  let lastDecreaseAt = -Infinity;
  let lastIncreaseAt = createdAt;
  let sharedPending = false;
  // Counts rate-limit replies: tokens granted to an ask made before one are not spent.
  let throttleEpoch = 0;
  let sharedRetryAt = 0;
  let sharedDownUntil = 0;
  let sharedRate: number | undefined;
  const queue: Waiter[] = [];
  // The scope is the budget's own: a call's caller need not pass it down through the RPC layers.
  const interactiveScope = new AsyncLocalStorage<true>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  const slots = new Array<number>(ACHIEVED_SLOTS).fill(0);
  const slotIds = new Array<number>(ACHIEVED_SLOTS).fill(-1);

  const refill = (now: number) => {
    tokens = Math.min(capacity(), tokens + ((now - refilledAt) / 1000) * effective);
    refilledAt = now;
  };

  const countStart = (now: number) => {
    const id = Math.floor(now / ACHIEVED_SLOT_MS);
    const index = id % ACHIEVED_SLOTS;
    if (slotIds[index] !== id) {
      slotIds[index] = id;
      slots[index] = 0;
    }
    slots[index]++;
  };

  const achieved = (now: number) => {
    const current = Math.floor(now / ACHIEVED_SLOT_MS);
    let count = 0;
    for (let i = 0; i < ACHIEVED_SLOTS; i++) if (slotIds[i] > current - ACHIEVED_SLOTS) count += slots[i];
    const seconds = Math.min((ACHIEVED_SLOTS * ACHIEVED_SLOT_MS) / 1000, Math.max(0.1, (now - createdAt) / 1000));
    return Math.round((count / seconds) * 10) / 10;
  };

  const schedule = (delayMs: number) => {
    const at = performance.now() + Math.max(1, delayMs);
    if (timer !== undefined && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      pump();
    }, Math.max(1, Math.ceil(delayMs)));
  };

  const useShared = (now: number) => shared !== undefined && now >= sharedDownUntil;

  const canStart = () => queue.length > 0 && inFlight < maxInFlight && tokens >= 1;

  const startNext = (now: number) => {
    tokens -= 1;
    inFlight++;
    started++;
    countStart(now);
    queue.shift()!.start();
  };

  /**
   * Asks the shared bucket for a token per call that could start now, and starts that many when
   * they come. A grant is spent on the calls ready when it comes or not at all: a token kept for
   * later would be spent on top of what the other replicas draw by then (after a pause, on top of
   * the bucket's refill), so each token is taken once and spent at once, or dropped.
   */
  const askShared = (now: number) => {
    if (sharedPending || now < sharedRetryAt) return;
    sharedPending = true;
    const epoch = throttleEpoch;
    const want = Math.max(1, Math.min(queue.length, maxInFlight - inFlight, Math.floor(tokens)));
    shared!.take(want, configured, Math.max(1, configured * burstSeconds)).then(
      ({ granted, waitMs, requestsPerSecond }) => {
        sharedPending = false;
        if (requestsPerSecond !== sharedRate && requestsPerSecond < configured) {
          logger?.info({ sharedRequestsPerSecond: requestsPerSecond, requestsPerSecond: configured }, 'shared rpc budget runs at a lower rate another replica asks for');
        }
        sharedRate = requestsPerSecond;
        const at = performance.now();
        refill(at);
        // A rate-limit reply since the ask drops the grant: the calls it was for wait out the pause.
        if (epoch === throttleEpoch) {
          for (let left = granted; left > 0 && canStart(); left--) startNext(at);
        }
        if (granted === 0) {
          sharedRetryAt = at + waitMs;
          schedule(waitMs);
        }
        pump();
      },
      (error: unknown) => {
        sharedPending = false;
        sharedDownUntil = performance.now() + SHARED_OUTAGE_MS;
        logger?.warn({ err: errorMessage(error), forMs: SHARED_OUTAGE_MS }, 'shared rpc budget unavailable; the local budget alone applies');
        pump();
      },
    );
  };

  const pump = () => {
    const now = performance.now();
    refill(now);
    if (queue.length === 0 || inFlight >= maxInFlight) return;
    if (now < backoffUntil) {
      schedule(backoffUntil - now);
      return;
    }
    while (canStart()) {
      if (useShared(now)) {
        askShared(now);
        if (!sharedPending && now < sharedRetryAt) schedule(sharedRetryAt - now);
        return;
      }
      startNext(now);
    }
    // Wake when the next token is due; a finishing call pumps on its own.
    if (queue.length > 0 && inFlight < maxInFlight) schedule(((1 - tokens) / effective) * 1000);
  };

  const onThrottled = (retryAfterMs: number | undefined) => {
    const now = performance.now();
    throttled++;
    throttleEpoch++;
    const pauseMs = retryAfterMs ?? DEFAULT_BACKOFF_MS;
    // Once per long pause: the replies to calls already in flight extend it by moments only.
    if (pauseMs > LONG_PAUSE_MS && now + pauseMs > backoffUntil + LONG_PAUSE_MS) {
      logger?.warn({ pauseMs }, 'every rpc call paused for the retry-after of a rate-limit reply');
    }
    backoffUntil = Math.max(backoffUntil, now + pauseMs);
    // The burst that drew the reply must not continue after the pause.
    refill(now);
    tokens = 0;
    if (now - lastDecreaseAt < DECREASE_INTERVAL_MS) return;
    const floor = Math.min(configured, 1);
    const lowered = Math.max(floor, effective * DECREASE_FACTOR);
    if (lowered < effective) {
      logger?.warn({ from: round(effective), to: round(lowered), configured, retryAfterMs }, 'rpc rate lowered after a rate-limit reply');
      effective = lowered;
    }
    lastDecreaseAt = now;
    lastIncreaseAt = now;
  };

  const onSuccess = () => {
    if (effective >= configured) return;
    const now = performance.now();
    const seconds = Math.min(1, (now - lastIncreaseAt) / 1000);
    lastIncreaseAt = now;
    refill(now);
    effective = Math.min(configured, effective + configured * RECOVERY_PER_SECOND * seconds);
    if (effective === configured) logger?.info({ requestsPerSecond: configured }, 'rpc rate recovered to the configured rate');
  };

  return {
    run<T>(fn: () => Promise<T>, runOptions: { signal?: AbortSignal } = {}): Promise<T> {
      const { signal } = runOptions;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          interactive: interactiveScope.getStore() === true,
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            Promise.resolve()
              .then(fn)
              .then(
                (value) => {
                  onSuccess();
                  resolve(value);
                },
                (error: unknown) => {
                  if (error instanceof RateLimitedError) onThrottled(error.retryAfterMs);
                  reject(error);
                },
              )
              .finally(() => {
                inFlight--;
                pump();
              });
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const behind = waiter.interactive ? queue.findIndex((queued) => !queued.interactive) : -1;
        if (behind >= 0) queue.splice(behind, 0, waiter);
        else queue.push(waiter);
        pump();
      });
    },
    interactive: (fn) => interactiveScope.run(true, fn),
    setLimits(limits) {
      checkLimits(limits);
      const now = performance.now();
      refill(now);
      if (limits.requestsPerSecond !== undefined && limits.requestsPerSecond !== configured) {
        configured = limits.requestsPerSecond;
        effective = configured;
        tokens = Math.min(tokens, capacity());
      }
      if (limits.maxInFlight !== undefined) maxInFlight = limits.maxInFlight;
      clearTimeout(timer);
      timer = undefined;
      timerAt = Infinity;
      pump();
    },
    stats: () => {
      const now = performance.now();
      return {
        requestsPerSecond: configured,
        effectiveRequestsPerSecond: round(effective),
        achievedRequestsPerSecond: achieved(now),
        maxInFlight,
        inFlight,
        queued: queue.length,
        started,
        throttled,
        backoffMs: Math.max(0, Math.round(backoffUntil - now)),
        shared: shared !== undefined,
      };
    },
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
