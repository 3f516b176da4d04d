import { GrpcWebFetchTransport, RpcError, SuiGrpcClient } from '@mysten/sui/grpc';
import { SuiBackfillError } from '../common/errors.ts';
import {
  EndpointRefusedError,
  InvalidRequestError,
  MalformedResponseError,
  NotFoundError,
  RateLimitedError,
  ResponseTooLargeError,
  UnavailableError,
  UnimplementedError,
} from './errors.ts';

/** A `SuiGrpcClient` speaking binary gRPC-web: smaller and cheaper to decode than the text format. */
export function createGrpcClient(url: string): SuiGrpcClient {
  const { baseUrl, fetch: target = fetch } = transportTarget(url);
  return new SuiGrpcClient({ network: 'mainnet', transport: new GrpcWebFetchTransport({ baseUrl, fetch: withNetworkCause(target), format: 'binary' }) });
}

/**
 * fetch that names the network failure: undici rejects with `fetch failed` and the reason
 * (`connect ECONNREFUSED 127.0.0.1:9000`) in `cause`, which the transport drops, keeping the
 * message alone.
 */
function withNetworkCause(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    try {
      return await inner(input, init);
    } catch (error) {
      if (error instanceof TypeError && error.cause instanceof Error && error.cause.message) {
        throw new TypeError(`${error.message} (${error.cause.message})`, { cause: error.cause });
      }
      throw error;
    }
  };
}

/**
 * Where the transport sends calls, for a URL that may carry a provider's key in its path, query or
 * userinfo. The transport appends `/<service>/<method>` to its base URL, which would land inside a
 * query, and fetch refuses a URL with credentials: so the query follows the method's path, and
 * userinfo goes as HTTP Basic authorization (as curl sends it).
 */
function transportTarget(url: string): { baseUrl: string; fetch?: typeof fetch } {
  const parsed = new URL(url);
  const { search } = parsed;
  const credentials = parsed.username || parsed.password ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}` : undefined;
  if (!search && credentials === undefined) return { baseUrl: url };
  const authorization = credentials === undefined ? undefined : `Basic ${Buffer.from(credentials).toString('base64')}`;
  return {
    baseUrl: `${parsed.protocol}//${parsed.host}${parsed.pathname}`,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      if (authorization) headers.set('authorization', authorization);
      return fetch(`${String(input)}${search}`, { ...init, headers });
    },
  };
}

export type CallOptions = { timeout: number; abort: AbortSignal };

/**
 * Per-call options: a deadline the server sees (`grpc-timeout`) and one we enforce, since a hung
 * connection never answers; the caller's signal aborts the call too. `done()` must follow the call:
 * it clears the timer and the listener at once. (`AbortSignal.timeout` keeps its timer until
 * garbage collection, and `AbortSignal.any` on a walk-long signal makes Node rescan every call's
 * composite at each collection: a cost that grows with the walk.)
 */
export function callDeadline(timeoutMs: number, signal?: AbortSignal): { options: CallOptions; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`The operation timed out after ${timeoutMs} ms.`, 'TimeoutError')), timeoutMs);
  const onAbort = () => controller.abort(signal!.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    options: { timeout: timeoutMs, abort: controller.signal },
    done: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * A message over a size limit, as gRPC implementations word it: tonic (Sui full nodes are Rust)
 * answers OUT_OF_RANGE "Error, encoded message length too large: found N bytes, the limit is: M
 * bytes" for a response over the node's limit and "decoded message length too large" for one over
 * a receiving side's (a relaying proxy's, a tonic client's); grpc-go and grpc-js say "received
 * message larger than max (N vs. M)", grpc-java "message exceeds maximum size N", both
 * RESOURCE_EXHAUSTED.
 */
const SIZE_LIMIT = /message length too large|larger than max|exceeds maximum size/i;
const NETWORK_FAILURE = /fetch failed|terminated|other side closed|socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR/i;
const DECODE_FAILURE = /premature EOF|invalid wire type|cant skip wire type|illegal tag|invalid varint|invalid utf-?8|response content type/i;

/**
 * The longest pause a `retry-after` hint gets: it stops every RPC of the process, so an hour asked
 * for (a misconfigured proxy, a provider's daily quota) is honoured as a minute, after which calls
 * ask again and a provider still refusing sends a new hint.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * `retry-after` as delta-seconds (`2`, `0.5`) or as an HTTP date (a date already past: no wait),
 * at most MAX_RETRY_AFTER_MS.
 */
function retryAfterMs(meta: RpcError['meta']): number | undefined {
  const raw = meta?.['retry-after'];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(value)) ms = Math.round(Number(value) * 1000);
  else {
    // Every HTTP date names its month; anything else (`-1`, `soon`) is no hint.
    const at = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - Date.now());
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * Maps what a gRPC call threw to the project's typed errors, so callers decide on retries by type.
 * `context` names the call and endpoint (`getCheckpoint(42) at https://…`). Anything unrecognised
 * (a bug, not a node answer) is returned unchanged.
 */
export function toSuiError(error: unknown, context: string): unknown {
  if (error instanceof SuiBackfillError) return error;
  if (error instanceof RpcError) {
    const message = `${context}: ${error.code}: ${error.message}`;
    switch (error.code) {
      case 'NOT_FOUND':
        return new NotFoundError(message, error);
      case 'RESOURCE_EXHAUSTED':
        return SIZE_LIMIT.test(error.message) ? new ResponseTooLargeError(message, error) : new RateLimitedError(message, retryAfterMs(error.meta), error);
      case 'OUT_OF_RANGE':
        return SIZE_LIMIT.test(error.message) ? new ResponseTooLargeError(message, error) : new InvalidRequestError(message, error);
      case 'UNAVAILABLE':
      case 'ABORTED':
        return new UnavailableError(message, 'unavailable', error);
      case 'DEADLINE_EXCEEDED':
        return new UnavailableError(message, 'deadline', error);
      case 'CANCELLED':
        return new UnavailableError(message, /time|deadline/i.test(error.message) ? 'deadline' : 'network', error);
      case 'INTERNAL':
      case 'UNKNOWN':
        // The transport reports its own failures as INTERNAL: a failed fetch is the network, not the node.
        return NETWORK_FAILURE.test(error.message) ? new UnavailableError(message, 'network', error) : new MalformedResponseError(message, error);
      case 'DATA_LOSS':
        return new MalformedResponseError(message, error);
      case 'UNIMPLEMENTED':
        return new UnimplementedError(message, error);
      case 'UNAUTHENTICATED':
      case 'PERMISSION_DENIED':
        // Also a proxy's HTTP 401 / 403, which the transport reads as these.
        return new EndpointRefusedError(`${context}: the endpoint refused our credentials (${error.code}: ${error.message}); check the API key in its URL`, error);
      default:
        // INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION, ...:
        // asking again the same way cannot help.
        return new InvalidRequestError(message, error);
    }
  }
  if (error instanceof Error) {
    const message = `${context}: ${error.message}`;
    if (error.name === 'TimeoutError') return new UnavailableError(message, 'deadline', error);
    if (error instanceof RangeError || DECODE_FAILURE.test(error.message)) return new MalformedResponseError(message, error);
    const code = (error as { code?: unknown }).code;
    if (NETWORK_FAILURE.test(error.message) || (typeof code === 'string' && NETWORK_FAILURE.test(code))) return new UnavailableError(message, 'network', error);
  }
  return error;
}
