import { z } from 'zod';
import { postgresUrlSchema, redisUrlSchema } from '../../src/common/config.ts';
import { loadVariablesOrExit } from '../../src/common/process.ts';

/**
 * Where the tests find Postgres and Redis; overridable for machines with other ports. Checked with
 * the configuration's URL rules: a bad value stops the run with one line naming the variable.
 */
const environment = loadVariablesOrExit(
  z.object({
    TEST_DATABASE_URL: postgresUrlSchema.default('postgres://postgres@127.0.0.1:5432/postgres'),
    TEST_REDIS_URL: redisUrlSchema.default('redis://127.0.0.1:6379'),
  }),
  1,
);
export const TEST_ADMIN_URL = environment.TEST_DATABASE_URL;
export const TEST_REDIS_URL = environment.TEST_REDIS_URL;

export function testDatabaseUrl(name: string): string {
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
