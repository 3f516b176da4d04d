import type { z } from '@hono/zod-openapi';
import { errorMessage, SuiBackfillError } from '../common/errors.ts';
import type { BackfillCreatedSchema, BackfillPageSchema, BackfillSchema, ResumedBackfillSchema } from './schemas.ts';

export type Backfill = z.infer<typeof BackfillSchema>;
export type BackfillCreated = z.infer<typeof BackfillCreatedSchema>;
export type BackfillPage = z.infer<typeof BackfillPageSchema>;
export type ResumedBackfill = z.infer<typeof ResumedBackfillSchema>;

export type NewBackfill = {
  packageId: string;
  match?: 'outer' | 'anywhere';
  fromCheckpoint?: string;
  toCheckpoint?: string;
};

export type BackfillQuery = { status?: string; packageId?: string; limit?: number | string; cursor?: string };

/** The API answered with an error status; `code` and `message` are its error body. */
export class ApiRequestError extends SuiBackfillError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message, { retryable: status >= 500 });
    this.status = status;
  }
}

/** No HTTP answer at all: refused, reset, timed out. */
export class ApiUnreachableError extends SuiBackfillError {
  constructor(url: string, cause: unknown) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
    const reason = cause instanceof Error && cause.cause !== undefined ? `${cause.message} (${errorMessage(cause.cause)})` : errorMessage(cause);
    super('api_unreachable', `the API at ${url} did not answer: ${reason}`, { retryable: true, cause });
  }
}

export type ApiClient = {
  readonly baseUrl: string;
  /** 202 for a new backfill, 200 for the active one of the same package and options. */
  createBackfill: (input: NewBackfill) => Promise<{ status: number; body: BackfillCreated }>;
  listBackfills: (query?: BackfillQuery) => Promise<BackfillPage>;
  getBackfill: (id: string) => Promise<Backfill>;
  pauseBackfill: (id: string, reason?: string) => Promise<Backfill>;
  cancelBackfill: (id: string, reason?: string) => Promise<Backfill>;
  /** 202 when a cancelled backfill is continued by a new one, 200 otherwise. */
  resumeBackfill: (id: string, reason?: string) => Promise<{ status: number; body: ResumedBackfill }>;
  deleteBackfill: (id: string) => Promise<void>;
};

/**
 * A typed client of the sui-backfill API (fetch-based); errors are `ApiRequestError` or
 * `ApiUnreachableError`. `actor` is sent as X-Actor: the API records changes as `api:<actor>`.
 */
export function createApiClient(options: { baseUrl: string; token?: string; actor?: string; timeoutMs?: number }): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;

  const request = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.actor && method !== 'GET') headers['x-actor'] = options.actor;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ApiUnreachableError(baseUrl, error);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiRequestError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? (text.trim() || response.statusText));
    }
    return { status: response.status, body: parsed as T };
  };

  const action = (id: string, verb: string, reason?: string) =>
    request<Backfill>('POST', `/v1/backfills/${encodeURIComponent(id)}/${verb}`, reason === undefined ? undefined : { reason });

  return {
    baseUrl,
    createBackfill: (input) => request<BackfillCreated>('POST', '/v1/backfills', input),
    listBackfills: async (query = {}) => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const search = params.size > 0 ? `?${params}` : '';
      return (await request<BackfillPage>('GET', `/v1/backfills${search}`)).body;
    },
    getBackfill: async (id) => (await request<Backfill>('GET', `/v1/backfills/${encodeURIComponent(id)}`)).body,
    pauseBackfill: async (id, reason) => (await action(id, 'pause', reason)).body,
    cancelBackfill: async (id, reason) => (await action(id, 'cancel', reason)).body,
    resumeBackfill: (id, reason) =>
      request<ResumedBackfill>('POST', `/v1/backfills/${encodeURIComponent(id)}/resume`, reason === undefined ? undefined : { reason }),
    deleteBackfill: async (id) => {
      await request<undefined>('DELETE', `/v1/backfills/${encodeURIComponent(id)}`);
    },
  };
}
