import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ServiceUnavailableError, SuiBackfillError } from '../common/errors.ts';
import { isPostgresUnavailable } from '../db/client.ts';
import { InvalidRangeError, RequestNotFoundError, TransitionNotAllowedError } from '../backfill/errors.ts';
import {
  BelowLowestAvailableError,
  EndpointRefusedError,
  InvalidRequestError,
  NotAPackageError,
  NotFoundError,
  ResponseTooLargeError,
} from '../sui/errors.ts';

type ApiErrorBody = { error: { code: string; message: string } };

/** An error answer the API gives on purpose. */
export class ApiError extends SuiBackfillError {
  readonly status: ContentfulStatusCode;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(code, message, { retryable: status >= 500 });
    this.status = status;
  }
}

/** The largest request body the API reads: every body it takes is a few hundred bytes of JSON. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What a 503 asks the client to wait, in its Retry-After header. */
export const RETRY_AFTER_SECONDS = 5;
const RETRY_AFTER = String(RETRY_AFTER_SECONDS);

/** Maps any error to its HTTP status and JSON body; unknown errors are 500 and logged by the caller. */
export function toErrorResponse(error: unknown): { status: ContentfulStatusCode; body: ApiErrorBody; retryAfter?: string } {
  const body = (code: string, message: string): ApiErrorBody => ({ error: { code, message } });
  if (error instanceof ApiError) return { status: error.status, body: body(error.code, error.message) };
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const message =
      status === 415
        ? 'the request body must be JSON: send Content-Type: application/json'
        : error.message === 'Malformed JSON in request body'
          ? "body: expected a JSON object (the route's schema is in /openapi.json); it was missing or not valid JSON"
          : error.message || 'invalid request';
    return { status, body: body(status === 415 ? 'unsupported_media_type' : 'invalid_request', message) };
  }
  if (error instanceof NotFoundError) return { status: 404, body: body('package_not_found', error.message) };
  if (error instanceof RequestNotFoundError) return { status: 404, body: body(error.code, error.message) };
  if (error instanceof TransitionNotAllowedError) return { status: 409, body: body(error.code, error.message) };
  if (error instanceof NotAPackageError) return { status: 422, body: body(error.code, error.message) };
  if (error instanceof BelowLowestAvailableError) return { status: 422, body: body(error.code, error.message) };
  if (error instanceof InvalidRangeError) return { status: 422, body: body(error.code, error.message) };
  if (error instanceof InvalidRequestError) return { status: 400, body: body('invalid_request', error.message) };
  // The node will not send an answer this large, now or later: no Retry-After.
  if (error instanceof ResponseTooLargeError) return { status: 502, body: body(error.code, `the Sui RPC cannot answer within its response size limit (${error.message})`) };
  // Not the client's fault (not 4xx), and no "retry later" (503): the key stays refused until an operator changes it.
  if (error instanceof EndpointRefusedError) {
    return { status: 502, body: body(error.code, `the Sui RPC refused this service's credentials, which an operator must fix: ${error.message}`) };
  }
  if (error instanceof ServiceUnavailableError) {
    return { status: 503, body: body(error.code, `${error.message}; retry later`), retryAfter: RETRY_AFTER };
  }
  if (isPostgresUnavailable(error)) {
    return { status: 503, body: body('postgres_unavailable', 'Postgres is not available; retry later'), retryAfter: RETRY_AFTER };
  }
  if (error instanceof SuiBackfillError && error.retryable) {
    return {
      status: 503,
      body: body('rpc_unavailable', `the Sui RPC did not answer usefully (${error.code}: ${error.message}); retry later`),
      retryAfter: RETRY_AFTER,
    };
  }
  return { status: 500, body: body('internal_error', 'internal error; see the API logs') };
}

export function errorResponse(c: Context, error: unknown) {
  const { status, body, retryAfter } = toErrorResponse(error);
  if (retryAfter) c.header('Retry-After', retryAfter);
  return c.json(body, status);
}
