import { SuiBackfillError } from '../common/errors.ts';

/** The request was paused, cancelled or taken over while this worker walked it: stop, write nothing. */
export class LostOwnershipError extends SuiBackfillError {
  constructor(requestId: string) {
    super('ownership_lost', `request ${requestId} is no longer held by this worker`, { retryable: false });
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
