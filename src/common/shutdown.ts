import type { Logger } from './logger.ts';
import { withTimeout } from './timeout.ts';

export type Shutdown = {
  /** Aborted when shutdown begins; long loops watch it. */
  signal: AbortSignal;
  readonly isShuttingDown: boolean;
  /** Registers a closer; closers run in reverse order of registration. */
  add: (name: string, close: () => Promise<void> | void) => void;
  /** Runs every closer once, in reverse order, each bounded by `timeoutMs`. */
  run: (reason: string, timeoutMs?: number) => Promise<void>;
};

export function createShutdown(logger: Logger): Shutdown {
  const controller = new AbortController();
  const closers: { name: string; close: () => Promise<void> | void }[] = [];
  let running: Promise<void> | undefined;

  return {
    signal: controller.signal,
    get isShuttingDown() {
      return controller.signal.aborted;
    },
    add(name, close) {
      closers.push({ name, close });
    },
    run(reason, timeoutMs = 30_000) {
      running ??= (async () => {
        logger.info({ reason }, 'shutting down');
        controller.abort(new Error(`shutdown: ${reason}`));
        for (const { name, close } of closers.reverse()) {
          try {
            await withTimeout(Promise.resolve().then(close), timeoutMs, () => new Error(`${name} did not close within ${timeoutMs} ms`));
          } catch (error) {
            logger.warn({ err: error, closer: name }, 'closer failed');
          }
        }
      })();
      return running;
    },
  };
}
