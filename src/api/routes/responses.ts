import { MAX_BODY_BYTES, RETRY_AFTER_SECONDS } from '../errors.ts';
import { ErrorSchema } from '../schemas.ts';

/** A JSON response of the OpenAPI document. */
export const json = <T>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

/** A 503: what is down, answered with a Retry-After header. */
const unavailable = (what: string) => ({
  ...json(ErrorSchema, `${what}; retry after the Retry-After seconds`),
  headers: {
    'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' as const, example: RETRY_AFTER_SECONDS } },
  },
});

/** The error answers routes share, as the OpenAPI document declares them. */
export const errorResponses = {
  malformed: json(ErrorSchema, 'Malformed input: the message names the field and why'),
  unauthorized: json(ErrorSchema, 'Missing or wrong bearer token'),
  notJson: json(ErrorSchema, 'A body sent with a Content-Type other than application/json'),
  tooLarge: json(ErrorSchema, `A body larger than ${MAX_BODY_BYTES / 1024} KiB`),
  postgresDown: unavailable('Postgres is unavailable'),
  unavailable,
};
