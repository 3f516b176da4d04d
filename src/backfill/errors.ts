import { isRetryable, SuiBackfillError } from '../common/errors.ts';
import { isPostgresTransient } from '../db/client.ts';

/** Whether trying again later can help with what went wrong: an RPC or Postgres that was unavailable, a rate limit, a conflict. */
const retryableCause = (cause: unknown) => isRetryable(cause) || isPostgresTransient(cause);

/** The request was paused, cancelled or taken over while this worker walked it: stop, write nothing. */
export class LostOwnershipError extends SuiBackfillError {
  constructor(requestId: string) {
    super('ownership_lost', `request ${requestId} is no longer held by this worker`, { retryable: false });
  }
}

/**
 * An operator paused or cancelled the request while this worker walked it (a stop message): the
 * chunk in flight is abandoned at once, never committed.
 */
export class StopRequestedError extends SuiBackfillError {
  constructor(requestId: string, reason: string) {
    super('stop_requested', `request ${requestId}: ${reason}`, { retryable: false });
  }
}

/** The request named does not exist. */
export class RequestNotFoundError extends SuiBackfillError {
  constructor(requestId: string) {
    super('request_not_found', `no backfill request ${requestId}`, { retryable: false });
  }
}

/** The asked range is not a range a backfill can walk (reversed, beyond the tip, ...). */
export class InvalidRangeError extends SuiBackfillError {
  constructor(message: string) {
    super('invalid_range', message, { retryable: false });
  }
}

/** An operator action that the request's current status does not allow (resume a completed one, delete a running one). */
export class TransitionNotAllowedError extends SuiBackfillError {
  readonly requestId: string;
  readonly status: string;
  constructor(requestId: string, status: string, message: string) {
    super('transition_not_allowed', message, { retryable: false });
    this.requestId = requestId;
    this.status = status;
  }
}

/**
 * Where a walk failed: reading the ranges it has left (as it starts, and as it walks on after a
 * chunk's retry), or a chunk's checkpoints, turning them into rows, or committing them.
 */
type WalkStage = 'ranges' | 'fetch' | 'process' | 'commit';

/**
 * A step of a walk that still failed after its own retries, over the checkpoints it worked on: a
 * chunk's range, or the request's for reading the ranges left. Retryable when its cause is (the
 * worker then walks on from the watermark after a while); else, or once the worker's retries are
 * spent too, the request fails, keeping its watermark.
 */
export class WalkStepFailedError extends SuiBackfillError {
  readonly from: bigint;
  readonly to: bigint;
  readonly stage: WalkStage;
  readonly attempts: number;
  constructor(step: { from: bigint; to: bigint; stage: WalkStage; attempts: number }, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const what = step.stage === 'ranges' ? `reading the ranges left to walk of [${step.from}, ${step.to}]` : `chunk [${step.from}, ${step.to}]`;
    super(step.stage === 'ranges' ? 'ranges_failed' : 'chunk_failed', `${what} failed (${step.stage}, ${step.attempts} attempt(s)): ${reason}`, {
      retryable: retryableCause(cause),
      cause,
    });
    this.from = step.from;
    this.to = step.to;
    this.stage = step.stage;
    this.attempts = step.attempts;
  }

  /** What `last_error_detail` keeps of it: a chunk's range as `chunk`, the request's as `range`. */
  detail(): Record<string, unknown> {
    const cause = this.cause as { code?: unknown } | undefined;
    return {
      stage: this.stage,
      [this.stage === 'ranges' ? 'range' : 'chunk']: { fromCheckpoint: this.from.toString(), toCheckpoint: this.to.toString() },
      attempts: this.attempts,
      ...(typeof cause?.code === 'string' ? { code: cause.code } : {}),
    };
  }
}

/** A checkpoint the RPC did not serve after the source's retries; the walker names the chunk. */
export class CheckpointFetchError extends SuiBackfillError {
  readonly sequence: bigint;
  readonly attempts: number;
  constructor(sequence: bigint, attempts: number, cause: unknown) {
    super('checkpoint_fetch_failed', `checkpoint ${sequence}: ${cause instanceof Error ? cause.message : String(cause)}`, { retryable: retryableCause(cause), cause });
    this.sequence = sequence;
    this.attempts = attempts;
  }
}

/** The worker is shutting down and its grace period ended: the chunk in flight is abandoned, not committed. */
export class WorkerShuttingDownError extends SuiBackfillError {
  constructor(graceMs: number) {
    super('worker_shutting_down', `worker shutting down: the chunk in flight did not finish within ${graceMs} ms and is abandoned`, { retryable: true });
  }
}
