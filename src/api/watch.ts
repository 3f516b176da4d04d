import { setTimeout as sleep } from 'node:timers/promises';
import { SuiBackfillError } from '../common/errors.ts';
import type { ApiClient, Backfill } from './client.ts';
import { formatDuration, progressLine } from './progress-bar.ts';

type WatchOptions = {
  /** How often the backfill is read. */
  intervalMs: number;
  /** One JSON line per poll instead of the progress bar. */
  json?: boolean;
  /** Without a terminal: at most one progress line per this many ms (default: one per change). */
  lineEveryMs?: number;
  /** How long an unreachable API, or one answering 5xx, is retried before the watch gives up with its error. */
  giveUpAfterMs?: number;
  /** Stops the watch after its current poll. */
  signal?: AbortSignal;
};

export const DEFAULT_GIVE_UP_AFTER_MS = 60_000;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 5_000;

/** Resolves after `ms`, or at once when the signal aborts. */
const pause = (ms: number, signal?: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => {});

/**
 * Follows a backfill until it is completed, failed or cancelled: a live bar with rate and ETA on a
 * terminal, a line per change otherwise, one JSON line per poll with `json`. An hours-long watch
 * outlives API restarts: an unreachable API, or a 5xx answer, is retried with backoff (said on
 * stderr) until it has failed for `giveUpAfterMs`, then its error is thrown. Other errors (404, ...)
 * are thrown at once. Returns the last view, or undefined when the signal stopped the watch first.
 */
export async function watchBackfill(client: ApiClient, id: string, options: WatchOptions): Promise<Backfill | undefined> {
  // The lifecycle brings the database schema with it: loaded by a watch, not by importing this
  // module (the backfill command's help reads its default).
  const { isFinished } = await import('../backfill/lifecycle.ts');
  const tty = process.stdout.isTTY === true && !options.json;
  const giveUpAfterMs = options.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS;
  let last = '';
  let lastPrintedAt = 0;
  let barShown = false;
  let failingSince: number | undefined;
  let retries = 0;
  for (;;) {
    let view: Backfill;
    try {
      view = await client.getBackfill(id);
    } catch (error) {
      if (!(error instanceof SuiBackfillError && error.retryable)) throw error;
      const now = Date.now();
      failingSince ??= now;
      const left = giveUpAfterMs - (now - failingSince);
      if (left <= 0) throw error;
      const delayMs = Math.min(RETRY_BASE_MS * 2 ** retries++, RETRY_MAX_MS, left);
      if (barShown) process.stdout.write('\n');
      barShown = false;
      console.error(`${error.code}: ${error.message}; retrying in ${(delayMs / 1000).toFixed(1)}s (giving up after ${formatDuration(giveUpAfterMs / 1000)} without an answer)`);
      await pause(delayMs, options.signal);
      if (options.signal?.aborted) return undefined;
      continue;
    }
    if (failingSince !== undefined) console.error(`the API answers again after ${formatDuration((Date.now() - failingSince) / 1000)}; following ${id}`);
    failingSince = undefined;
    retries = 0;

    const finished = isFinished(view.status);
    const line = options.json ? JSON.stringify(view) : progressLine(view);
    if (tty) {
      process.stdout.write(`\r${line}\x1b[K${finished ? '\n' : ''}`);
      barShown = !finished;
    } else if (finished || (line !== last && Date.now() - lastPrintedAt >= (options.lineEveryMs ?? 0))) {
      console.log(line);
      last = line;
      lastPrintedAt = Date.now();
    }
    if (finished) return view;
    if (options.signal?.aborted) {
      if (barShown) process.stdout.write('\n');
      return undefined;
    }
    await pause(options.intervalMs, options.signal);
  }
}
