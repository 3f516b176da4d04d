/**
 * Every error the project raises on purpose is a `SuiBackfillError`: it carries a stable `code`
 * (used in API responses and logs) and says whether retrying the same operation can help.
 */
export class SuiBackfillError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable;
  }
}

/** A bad or missing environment variable; the process cannot start. */
export class ConfigError extends SuiBackfillError {
  constructor(message: string) {
    super('config_invalid', message, { retryable: false });
  }
}

/** Postgres or Redis cannot be reached; retrying later can help. */
export class ServiceUnavailableError extends SuiBackfillError {
  readonly service: 'postgres' | 'redis';
  constructor(service: 'postgres' | 'redis', message: string, cause?: unknown) {
    super(`${service}_unavailable`, message, { retryable: true, cause });
    this.service = service;
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof SuiBackfillError ? error.retryable : false;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
