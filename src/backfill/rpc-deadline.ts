/**
 * A budget of time for a series of RPC calls, whatever their own retries and timeouts would allow:
 * its signal, passed to every call, aborts the call in flight (and any retry) with `onExpiry()`'s
 * error once `ms` of running time are spent. Time spent in `paused` is not counted.
 */
export type RpcDeadline = {
  readonly signal: AbortSignal;
  /** Runs `wait` with the clock stopped (a wait bounded by its own timeout). */
  paused: <T>(wait: () => Promise<T>) => Promise<T>;
  /** Stops the clock for good. */
  dispose: () => void;
};

export function createRpcDeadline(ms: number, onExpiry: () => Error): RpcDeadline {
  const controller = new AbortController();
  let left = ms;
  let since = 0;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    since = performance.now();
    timer = setTimeout(() => controller.abort(onExpiry()), Math.max(0, left));
  };
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
    left -= performance.now() - since;
  };
  start();
  return {
    signal: controller.signal,
    paused: async (wait) => {
      stop();
      try {
        return await wait();
      } finally {
        if (!controller.signal.aborted) start();
      }
    },
    dispose: () => clearTimeout(timer),
  };
}
