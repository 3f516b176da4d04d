import { z } from 'zod';

const jsonText = z.string().transform((text, context): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    context.issues.push({ code: 'custom', message: 'not JSON', input: text });
    return z.NEVER;
  }
});

/** A schema of JSON text: parsed, then checked against `schema`; text that is not JSON fails as `not JSON`. */
export function jsonOf<T extends z.ZodType>(schema: T) {
  return jsonText.pipe(schema);
}
