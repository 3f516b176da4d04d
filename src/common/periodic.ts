import type { Logger } from './logger.ts';
import { errorMessage } from './errors.ts';

export type PeriodicTask<T> = {
  /** Runs the task now, or joins the run in progress; a failure is logged and yields `fallback`. */
  runOnce: () => Promise<T>;
  start: () => void;
  stop: () => void;
};

/** A task run every `intervalMs` (and on demand), never twice at once, whose failures only log. */
export function createPeriodicTask<T>(options: { name: string; intervalMs: number; logger: Logger; fallback: T; run: () => Promise<T> }): PeriodicTask<T> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<T> | undefined;

  const runOnce = () => {
    running ??= options
      .run()
      .catch((error) => {
        options.logger.warn({ err: errorMessage(error) }, `${options.name} failed; will try again`);
        return options.fallback;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    runOnce,
    start: () => {
      timer ??= setInterval(() => void runOnce(), options.intervalMs);
      timer.unref();
    },
    stop: () => {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
