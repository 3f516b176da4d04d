import { SuiBackfillError } from '../common/errors.ts';

/** The object or checkpoint does not exist on the node (or not yet). */
export class NotFoundError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('not_found', message, { retryable: false, cause });
  }
}

/** The ID names an object that exists but is not a Move package. */
export class NotAPackageError extends SuiBackfillError {
  readonly objectId: string;
  readonly objectType: string;
  constructor(objectId: string, objectType: string) {
    super('not_a_package', `${objectId} is an object of type ${objectType}, not a Move package`, { retryable: false });
    this.objectId = objectId;
    this.objectType = objectType;
  }
}

/** History below the node's lowest available checkpoint was pruned; only an archival node has it. */
export class BelowLowestAvailableError extends SuiBackfillError {
  /** Null when the checkpoint itself is unknown (a pruned publish transaction). */
  readonly checkpoint: bigint | null;
  readonly lowestAvailable: bigint;
  constructor(checkpoint: bigint | null, lowestAvailable: bigint, endpoint: string, what = `checkpoint ${checkpoint}`) {
    super(
      'range_not_served',
      `${what} is below the lowest available checkpoint ${lowestAvailable} of ${endpoint}; ` +
        'configure an archival endpoint (SUI_ARCHIVE_GRPC_URL) that serves this history',
      { retryable: false },
    );
    this.checkpoint = checkpoint;
    this.lowestAvailable = lowestAvailable;
  }
}

/** RESOURCE_EXHAUSTED / HTTP 429: the provider asks us to slow down. */
export class RateLimitedError extends SuiBackfillError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, cause?: unknown) {
    super('rate_limited', message, { retryable: true, cause });
    this.retryAfterMs = retryAfterMs;
  }
}

/** UNAVAILABLE, a reset connection or a deadline: the node may answer next time. */
export class UnavailableError extends SuiBackfillError {
  readonly reason: 'unavailable' | 'deadline' | 'network';
  constructor(message: string, reason: 'unavailable' | 'deadline' | 'network', cause?: unknown) {
    super('rpc_unavailable', message, { retryable: true, cause });
    this.reason = reason;
  }
}

/** A response that could not be decoded, was truncated, or lacks a field we rely on. */
export class MalformedResponseError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('malformed_response', message, { retryable: true, cause });
  }
}

/**
 * The response was larger than the node sends or the client accepts. The same request would be too
 * large again, so it is not retried; callers that can ask for less (fewer transactions per batch,
 * a smaller chunk) catch it by type.
 */
export class ResponseTooLargeError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('response_too_large', message, { retryable: false, cause });
  }
}

/**
 * The endpoint refused our credentials (UNAUTHENTICATED / PERMISSION_DENIED, a proxy's HTTP 401 /
 * 403): an expired or wrong key in its URL. Says nothing about the request, so another endpoint
 * is asked; asking the same one again cannot help until an operator changes the key.
 */
export class EndpointRefusedError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('rpc_refused', message, { retryable: false, cause });
  }
}

/** The node rejected the request as invalid; retrying the same request cannot help. */
export class InvalidRequestError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('invalid_request', message, { retryable: false, cause });
  }
}

/** A string that is not a valid Move type tag. */
export class InvalidTypeError extends SuiBackfillError {
  readonly type: string;
  constructor(type: string, reason: string) {
    super('invalid_type', `invalid Move type ${JSON.stringify(type)}: ${reason}`, { retryable: false });
    this.type = type;
  }
}

/** The node does not implement the method (UNIMPLEMENTED); another route may answer the same question. */
export class UnimplementedError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('rpc_unimplemented', message, { retryable: false, cause });
  }
}
