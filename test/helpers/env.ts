import { loadScriptServices } from '../../src/common/process.ts';
import { databaseUrl } from '../../src/db/client.ts';

/** Where the tests find Postgres and Redis; overridable for machines with other ports. A bad value stops the run with one line naming the variable. */
const services = loadScriptServices({ postgres: 'TEST_DATABASE_URL', redis: 'TEST_REDIS_URL' }, 1);
export const TEST_ADMIN_URL = services.adminUrl;
export const TEST_REDIS_URL = services.redisUrl;

export const testDatabaseUrl = (name: string) => databaseUrl(TEST_ADMIN_URL, name);
