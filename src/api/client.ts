import { z } from '@hono/zod-openapi';
import { errorMessage, SuiBackfillError } from '../common/errors.ts';
import { jsonOf } from '../common/json.ts';
import { redactUrl } from '../common/redact-url.ts';
import { describeZodError } from '../common/zod-issues.ts';
import { BackfillCreatedSchema, BackfillPageSchema, BackfillSchema, ErrorSchema, ResumedBackfillSchema } from './schemas.ts';

export type Backfill = z.infer<typeof BackfillSchema>;
export type BackfillCreated = z.infer<typeof BackfillCreatedSchema>;
type BackfillPage = z.infer<typeof BackfillPageSchema>;
type ResumedBackfill = z.infer<typeof ResumedBackfillSchema>;

type NewBackfill = {
  packageId: string;
  match?: 'outer' | 'anywhere';
  fromCheckpoint?: string;
  toCheckpoint?: string;
};

type BackfillQuery = { status?: string; packageId?: string; limit?: number | string; cursor?: string };

/** The bodies the API answers with, as text: each JSON response checked against the API's own schema. */
const ANSWERS = {
  created: jsonOf(BackfillCreatedSchema),
  page: jsonOf(BackfillPageSchema),
  backfill: jsonOf(BackfillSchema),
  resumed: jsonOf(ResumedBackfillSchema),
  error: jsonOf(ErrorSchema),
  /** 204: nothing. */
  none: z.literal(''),
};

/** The API answered with an error status; `code` and `message` are its error body. */
export class ApiRequestError extends SuiBackfillError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message, { retryable: status >= 500 });
    this.status = status;
  }
}

/** The API answered with a body its schema does not allow: another version of the API, or not the API at all. */
class ApiResponseError extends SuiBackfillError {
  constructor(url: string, what: string, problem: string) {
    super('api_response_invalid', `the API at ${url} answered ${what} with a body that is not what this client expects (${problem})`, { retryable: false });
  }
}

/** No HTTP answer at all: refused, reset, timed out. The URL is shown redacted, in the reason too (fetch may quote it). */
export class ApiUnreachableError extends SuiBackfillError {
  constructor(url: string, cause: unknown) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
    const reason = cause instanceof Error && cause.cause !== undefined ? `${cause.message} (${errorMessage(cause.cause)})` : errorMessage(cause);
    const shown = redactUrl(url);
    super('api_unreachable', `the API at ${shown} did not answer: ${reason.replaceAll(url, shown)}`, { retryable: true, cause });
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
 * A typed client of the sui-backfill API (fetch-based); errors are `ApiRequestError`,
 * `ApiUnreachableError` or, for an answer that is not what the API's schemas say, `ApiResponseError`. `actor` is sent as X-Actor: the API records changes as `api:<actor>`.
 */
export function createApiClient(options: { baseUrl: string; token?: string; actor?: string; timeoutMs?: number }): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;

  /** `answer` checks the text of a successful response. */
  const request = async <T extends z.ZodType>(method: string, path: string, answer: T, body?: unknown): Promise<{ status: number; body: z.output<T> }> => {
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
    if (!response.ok) {
      // Not the API's error body (a proxy's page, say): the text itself says what went wrong.
      const error = ANSWERS.error.safeParse(text);
      if (error.success) throw new ApiRequestError(response.status, error.data.error.code, error.data.error.message);
      throw new ApiRequestError(response.status, `http_${response.status}`, text.trim() || response.statusText);
    }
    const parsed = answer.safeParse(text);
    if (!parsed.success) throw new ApiResponseError(baseUrl, `${method} ${path}`, describeZodError(parsed.error));
    return { status: response.status, body: parsed.data };
  };

  const action = (id: string, verb: string, reason?: string) =>
    request('POST', `/v1/backfills/${encodeURIComponent(id)}/${verb}`, ANSWERS.backfill, reason === undefined ? undefined : { reason });

  return {
    baseUrl,
    createBackfill: (input) => request('POST', '/v1/backfills', ANSWERS.created, input),
    listBackfills: async (query = {}) => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const search = params.size > 0 ? `?${params}` : '';
      return (await request('GET', `/v1/backfills${search}`, ANSWERS.page)).body;
    },
    getBackfill: async (id) => (await request('GET', `/v1/backfills/${encodeURIComponent(id)}`, ANSWERS.backfill)).body,
    pauseBackfill: async (id, reason) => (await action(id, 'pause', reason)).body,
    cancelBackfill: async (id, reason) => (await action(id, 'cancel', reason)).body,
    resumeBackfill: (id, reason) =>
      request('POST', `/v1/backfills/${encodeURIComponent(id)}/resume`, ANSWERS.resumed, reason === undefined ? undefined : { reason }),
    deleteBackfill: async (id) => {
      await request('DELETE', `/v1/backfills/${encodeURIComponent(id)}`, ANSWERS.none);
    },
  };
}
