/**
 * The process-wide RPC budget: a token bucket (smooth rate, bursts of at most one second of
 * tokens) and a cap on calls in flight. Callers are served strictly first come, first served, so a
 * busy backfill cannot starve the live indexer's occasional call.
 */
export type RpcBudget = {
  run<T>(fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  setRate(requestsPerSecond: number): void;
  stats(): RpcBudgetStats;
};

export type RpcBudgetStats = {
  requestsPerSecond: number;
  maxInFlight: number;
  inFlight: number;
  queued: number;
  /** Calls started since creation. */
  started: number;
};

type Waiter = { start: () => void };

export function createRpcBudget(options: { requestsPerSecond: number; maxInFlight: number }): RpcBudget {
  if (!(options.requestsPerSecond > 0)) throw new RangeError(`requestsPerSecond must be positive, got ${options.requestsPerSecond}`);
  if (!(options.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1, got ${options.maxInFlight}`);
  let rate = options.requestsPerSecond;
  const maxInFlight = options.maxInFlight;
  const capacity = () => Math.max(1, rate);
  let tokens = capacity();
  let refilledAt = performance.now();
  let inFlight = 0;
  let started = 0;
  const queue: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;

  const refill = () => {
    const now = performance.now();
    tokens = Math.min(capacity(), tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
  };

  const pump = () => {
    refill();
    while (queue.length > 0 && inFlight < maxInFlight && tokens >= 1) {
      tokens -= 1;
      inFlight++;
      started++;
      queue.shift()!.start();
    }
    if (timer === undefined && queue.length > 0 && inFlight < maxInFlight) {
      // Wake when the next token is due; a finishing call pumps on its own.
      timer = setTimeout(() => {
        timer = undefined;
        pump();
      }, Math.max(1, Math.ceil(((1 - tokens) / rate) * 1000)));
    }
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
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            Promise.resolve()
              .then(fn)
              .then(resolve, reject)
              .finally(() => {
                inFlight--;
                pump();
              });
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
        pump();
      });
    },
    setRate(requestsPerSecond) {
      if (!(requestsPerSecond > 0)) throw new RangeError(`requestsPerSecond must be positive, got ${requestsPerSecond}`);
      refill();
      rate = requestsPerSecond;
      tokens = Math.min(tokens, capacity());
      clearTimeout(timer);
      timer = undefined;
      pump();
    },
    stats: () => ({ requestsPerSecond: rate, maxInFlight, inFlight, queued: queue.length, started }),
  };
}
