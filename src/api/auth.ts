import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Mutating routes need `Authorization: Bearer <API_TOKEN>`; reads are open. */
export function requireTokenForMutations(token: string): MiddlewareHandler {
  const expected = Buffer.from(token);
  return async (c, next) => {
    if (MUTATING.has(c.req.method)) {
      // The scheme is case-insensitive (RFC 9110), the token is not.
      const scheme = /^bearer\s+(.*)$/i.exec(c.req.header('authorization') ?? '');
      const given = Buffer.from(scheme ? scheme[1].trim() : '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ApiError(401, 'unauthorized', 'send the API token as "Authorization: Bearer <API_TOKEN>"');
      }
    }
    await next();
  };
}
