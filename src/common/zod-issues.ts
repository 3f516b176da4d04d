import type { ZodError } from 'zod';

/**
 * "packageId: expected 0x followed by 1 to 64 hex digits": the first problems, each naming its
 * field; `whole` names a problem with the value itself.
 */
export function describeZodError(error: ZodError, whole = 'body'): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : whole;
      if (issue.code === 'unrecognized_keys') return `${field}: unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}
