import { randomBytes } from 'node:crypto';
import net from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_URL, TEST_REDIS_URL, testDatabaseUrl } from '../../test/helpers/env.ts';
import { findServiceProblems } from './services.ts';

const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
const pgPort = Number(new URL(TEST_ADMIN_URL).port || 5432);
/** Where the tests' Postgres and Redis are, as the lines show them. */
const pgAt = `${new URL(TEST_ADMIN_URL).hostname}:${pgPort}`;
const redisAt = `${new URL(TEST_REDIS_URL).hostname}:${new URL(TEST_REDIS_URL).port || 6379}`;
/** A role that may log in but not create databases, of this file's own. */
const role = `sbt_role_${randomBytes(4).toString('hex')}`;
const missing = `sbt_missing_${randomBytes(4).toString('hex')}`;
const servers: net.Server[] = [];

/** A TCP server on a free local port that does `onConnection` with each client. */
async function serve(onConnection: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: taken, then given back. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Postgres ErrorResponse message (severity, SQLSTATE, text), as a server refuses a login with. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

/** Answers the first thing a client sends with `reply`. */
const replyWith = (reply: Buffer | string) => (socket: net.Socket) => socket.once('data', () => socket.end(reply));

beforeAll(async () => {
  await admin.unsafe(`create role ${role} login nocreatedb`);
});
afterAll(async () => {
  for (const server of servers) server.close();
  await admin.unsafe(`drop role if exists ${role}`);
  await admin.end({ timeout: 5 });
});

describe('findServiceProblems: Postgres', () => {
  it('passes a login the server accepts', async () => {
    expect(await findServiceProblems({ postgres: { url: TEST_ADMIN_URL } })).toEqual([]);
  });

  it('names the role the server refuses, as a setting to change', async () => {
    const url = testDatabaseUrl('postgres').replace(/\/\/[^@/]*@/, '//nosuchuser@');
    expect(await findServiceProblems({ postgres: { url, variable: 'TEST_DATABASE_URL' } })).toEqual([
      { service: 'postgres', cause: 'config', line: `PostgreSQL at ${pgAt} refused the connection: role "nosuchuser" does not exist (TEST_DATABASE_URL)` },
    ]);
  });

  it('refuses a missing database, unless the caller creates it and the role may', async () => {
    const url = testDatabaseUrl(missing);
    expect(await findServiceProblems({ postgres: { url } })).toEqual([
      { service: 'postgres', cause: 'config', line: `PostgreSQL at ${pgAt} refused the connection: database "${missing}" does not exist (DATABASE_URL)` },
    ]);
    expect(await findServiceProblems({ postgres: { url, createsDatabase: true } })).toEqual([]);
    const asRole = url.replace(/\/\/[^@/]*@/, `//${role}@`);
    expect(await findServiceProblems({ postgres: { url: asRole, createsDatabase: true } })).toEqual([
      { service: 'postgres', cause: 'config', line: `PostgreSQL at ${pgAt}: database "${missing}" does not exist and role "${role}" may not create it (DATABASE_URL)` },
    ]);
  });

  it('names a refused password without showing it; too many clients is a service to wait for', async () => {
    const badPassword = await serve(replyWith(errorResponse('28P01', 'password authentication failed for user "app"')));
    const full = await serve(replyWith(errorResponse('53300', 'sorry, too many clients already')));
    const problems = await findServiceProblems({ postgres: { url: `postgres://app:s3cret-pw@127.0.0.1:${badPassword}/main` } });
    expect(problems).toEqual([
      { service: 'postgres', cause: 'config', line: `PostgreSQL at 127.0.0.1:${badPassword} refused the connection: password authentication failed for user "app" (DATABASE_URL)` },
    ]);
    expect(JSON.stringify(problems)).not.toContain('s3cret-pw');
    expect(await findServiceProblems({ postgres: { url: `postgres://app@127.0.0.1:${full}/main` } })).toEqual([
      { service: 'postgres', cause: 'unavailable', line: `PostgreSQL at 127.0.0.1:${full} refused the connection: sorry, too many clients already (DATABASE_URL)` },
    ]);
  });

  it('tells a server that does not speak PostgreSQL from one that is down', async () => {
    const silent = await serve(() => {});
    expect(await findServiceProblems({ postgres: { url: `postgres://app@127.0.0.1:${silent}/main` } }, 300)).toEqual([
      { service: 'postgres', cause: 'unavailable', line: `PostgreSQL at 127.0.0.1:${silent} did not answer the login (is it PostgreSQL?) (DATABASE_URL)` },
    ]);
    const down = await freePort();
    expect(await findServiceProblems({ postgres: { url: `postgres://app@localhost:${down}/main` } })).toEqual([
      {
        service: 'postgres',
        cause: 'unavailable',
        line: `PostgreSQL is not reachable at localhost:${down} (DATABASE_URL); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start -o "-p ${down}"`,
      },
    ]);
  });

  it('says how to start only a Postgres on this machine', async () => {
    expect(await findServiceProblems({ postgres: { url: 'postgres://app@db.invalid:5432/main' } })).toEqual([
      { service: 'postgres', cause: 'unavailable', line: 'PostgreSQL is not reachable at db.invalid:5432 (DATABASE_URL)' },
    ]);
  });
});

describe('findServiceProblems: Redis', () => {
  it('passes a Redis that answers PING, also with a password it does not ask for', async () => {
    expect(await findServiceProblems({ redis: { url: TEST_REDIS_URL } })).toEqual([]);
    const withPassword = new URL(TEST_REDIS_URL);
    withPassword.password = 'unused';
    expect(await findServiceProblems({ redis: { url: withPassword.toString() } })).toEqual([]);
  });

  it('refuses a user the server does not know, as a setting to change', async () => {
    const url = new URL(TEST_REDIS_URL);
    url.username = 'nosuchuser';
    url.password = 's3cret-pw';
    const problems = await findServiceProblems({ redis: { url: url.toString() } });
    expect(problems).toEqual([
      {
        service: 'redis',
        cause: 'config',
        line: `Redis at ${redisAt} refused the connection: WRONGPASS invalid username-password pair or user is disabled. (REDIS_URL)`,
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain('s3cret-pw');
  });

  it('names a Redis that wants a password, and one still loading', async () => {
    const locked = await serve(replyWith('-NOAUTH Authentication required.\r\n'));
    const loading = await serve(replyWith('-LOADING Redis is loading the dataset in memory\r\n'));
    expect(await findServiceProblems({ redis: { url: `redis://127.0.0.1:${locked}` } })).toEqual([
      { service: 'redis', cause: 'config', line: `Redis at 127.0.0.1:${locked} refused the connection: NOAUTH Authentication required. (REDIS_URL)` },
    ]);
    expect(await findServiceProblems({ redis: { url: `redis://127.0.0.1:${loading}` } })).toEqual([
      { service: 'redis', cause: 'unavailable', line: `Redis at 127.0.0.1:${loading} refused the connection: LOADING Redis is loading the dataset in memory (REDIS_URL)` },
    ]);
  });

  it('refuses what is not Redis: a Postgres, a server that never answers', async () => {
    const silent = await serve(() => {});
    expect(await findServiceProblems({ redis: { url: `redis://127.0.0.1:${pgPort}`, variable: 'TEST_REDIS_URL' } })).toEqual([
      { service: 'redis', cause: 'unavailable', line: `Redis at 127.0.0.1:${pgPort} did not answer PING (is it Redis?) (TEST_REDIS_URL)` },
    ]);
    expect(await findServiceProblems({ redis: { url: `redis://127.0.0.1:${silent}` } }, 300)).toEqual([
      { service: 'redis', cause: 'unavailable', line: `Redis at 127.0.0.1:${silent} did not answer PING (is it Redis?) (REDIS_URL)` },
    ]);
  });

  it('says how to start a local Redis at the configured address, and nothing for a remote one', async () => {
    const down = await freePort();
    expect(await findServiceProblems({ redis: { url: `redis://127.0.0.1:${down}` } })).toEqual([
      {
        service: 'redis',
        cause: 'unavailable',
        line: `Redis is not reachable at 127.0.0.1:${down} (REDIS_URL); start it with: redis-server --daemonize yes --bind 127.0.0.1 --port ${down} --save "" --appendonly no`,
      },
    ]);
    expect(await findServiceProblems({ redis: { url: 'redis://cache.invalid:6380' } })).toEqual([
      { service: 'redis', cause: 'unavailable', line: 'Redis is not reachable at cache.invalid:6380 (REDIS_URL)' },
    ]);
  });
});
