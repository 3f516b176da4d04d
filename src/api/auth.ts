import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Mutating routes need `Authorization: Bearer <API_TOKEN>`; reads are open. */
export function requireTokenForMutations(token: string): MiddlewareHandler {
  const expected = Buffer.from(token);
  return async (c, next) => {
    if (MUTATING.has(c.req.method)) {
      const header = c.req.header('authorization') ?? '';
      const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ApiError(401, 'unauthorized', 'send the API token as "Authorization: Bearer <API_TOKEN>"');
      }
    }
    await next();
  };
}
