import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonOf } from './json.ts';

describe('jsonOf', () => {
  const schema = jsonOf(z.object({ id: z.string(), count: z.number().int() }));
  const issues = (text: string) => {
    const parsed = schema.safeParse(text);
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('parses JSON text that matches the schema', () => {
    expect(schema.parse('{"id": "a", "count": 2, "extra": true}')).toEqual({ id: 'a', count: 2 });
  });

  it('fails text that is not JSON, and JSON that does not match, naming the field', () => {
    expect(issues('{"id": "a", count: 2}')).toEqual([': not JSON']);
    expect(issues('')).toEqual([': not JSON']);
    expect(issues('{"id": "a", "count": 2.5}')).toEqual(['count: Invalid input: expected int, received number']);
    expect(issues('[]')).toEqual([': Invalid input: expected object, received array']);
  });
});
