/**
 * Fetches items `from..to` (inclusive) with at most `concurrency` calls in flight and yields their
 * results in order. Fetching runs ahead of the consumer by up to `window` items even while the
 * consumer is busy (writing to Postgres, say), so the RPC is never idle waiting for the writer.
 * The first error stops the stream and is thrown to the consumer in order; leaving the loop early
 * aborts the calls in flight. `concurrency` and `window` may be functions, read before each launch,
 * so a consumer can narrow or widen them while the stream runs.
 */
export async function* orderedStream<T>(options: {
  from: bigint;
  to: bigint;
  concurrency: number | (() => number);
  window: number | (() => number);
  fetch: (sequence: bigint, signal: AbortSignal) => Promise<T>;
  signal?: AbortSignal;
}): AsyncGenerator<{ sequence: bigint; value: T }> {
  const { from, to, fetch } = options;
  const read = (value: number | (() => number)) => (typeof value === 'function' ? value() : value);
  const concurrency = () => Math.max(1, read(options.concurrency));
  const window = () => BigInt(Math.max(concurrency(), read(options.window)));
  const controller = new AbortController();
  const abortFromOutside = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', abortFromOutside, { once: true });
  if (options.signal?.aborted) abortFromOutside();

  const settled = new Map<bigint, { ok: true; value: T } | { ok: false; error: unknown }>();
  let next = from;
  let emit = from;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  controller.signal.addEventListener('abort', () => wake?.(), { once: true });

  const launch = () => {
    while (!controller.signal.aborted && inFlight < concurrency() && next <= to && next - emit < window()) {
      const sequence = next++;
      inFlight++;
      fetch(sequence, controller.signal).then(
        (value) => settled.set(sequence, { ok: true, value }),
        (error: unknown) => settled.set(sequence, { ok: false, error }),
      ).finally(() => {
        inFlight--;
        launch();
        wake?.();
      });
    }
  };

  try {
    launch();
    while (emit <= to) {
      if (controller.signal.aborted) throw controller.signal.reason;
      let result = settled.get(emit);
      while (result === undefined) {
        if (controller.signal.aborted) throw controller.signal.reason;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        result = settled.get(emit);
      }
      settled.delete(emit);
      if (!result.ok) throw result.error;
      const sequence = emit++;
      launch();
      yield { sequence, value: result.value };
    }
  } finally {
    options.signal?.removeEventListener('abort', abortFromOutside);
    if (!controller.signal.aborted) controller.abort(new Error('stream closed'));
  }
}
