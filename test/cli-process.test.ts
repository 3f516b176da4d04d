import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../src/db/migrate.ts';
import { runCli, spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { createTestRedisNamespace } from './helpers/redis.ts';

/** How many migrations are committed: a database must hold them all. */
const MIGRATIONS = (JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
const lines = (text: string) => text.trim().split('\n').filter((line) => !line.startsWith('npm warn'));

let database: TestDatabase;
const redis = createTestRedisNamespace();
const spawned: Spawned[] = [];
/** Killed after the suite whatever happens, so a failing assertion cannot leave a process behind. */
const track = (process: Spawned) => {
  spawned.push(process);
  return process;
};
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const process of spawned) process.kill('SIGKILL');
  await database?.drop();
  await redis.cleanup();
});

describe('processes: configuration and services', () => {
  it.each(['migrate', 'api', 'worker', 'indexer'])('%s: a bad variable stops it with one line naming the variable (exit 2)', async (command) => {
    const { code, output } = await runCli([command], { DATABASE_URL: 'mysql://nope', RPC_CONCURRENCY: '0' });
    expect(code).toBe(2);
    expect(lines(output)).toEqual([
      'Invalid configuration: DATABASE_URL: expected a postgres:// or postgresql:// URL (got "mysql://nope"); ' +
        'RPC_CONCURRENCY: expected an integer from 1 to 1024 (got "0")',
    ]);
  });

  it('an unreachable Postgres is one line saying how to start it (exit 3)', async () => {
    const { code, output } = await runCli(['worker'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', REDIS_URL: redis.url });
    expect(code).toBe(3);
    expect(lines(output)).toEqual([
      'PostgreSQL is not reachable at 127.0.0.1:1 (DATABASE_URL); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start -o "-p 1"',
    ]);
  });

  it('an unreachable Redis is one line saying how to start it (exit 3)', async () => {
    const { code, output } = await runCli(['api'], { DATABASE_URL: database.url, REDIS_URL: 'redis://127.0.0.1:1', API_TOKEN: 'x'.repeat(16) });
    expect(code).toBe(3);
    expect(lines(output)).toEqual([
      'Redis is not reachable at 127.0.0.1:1 (REDIS_URL); start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 1 --save "" --appendonly no',
    ]);
  });

  it.concurrent.each(['migrate', 'api', 'worker'])('%s: a login Postgres refuses is one line naming DATABASE_URL, no stack (exit 2)', async (command) => {
    const { code, output } = await runCli([command], { DATABASE_URL: 'postgres://nosuchuser@127.0.0.1:5432/x', REDIS_URL: redis.url, API_TOKEN: 'x'.repeat(16) });
    expect({ code, lines: lines(output) }).toEqual({
      code: 2,
      lines: ['PostgreSQL at 127.0.0.1:5432 refused the connection: role "nosuchuser" does not exist (DATABASE_URL)'],
    });
    expect(output).not.toContain('    at ');
  });

  it.concurrent('migrate creates a database that does not exist yet: the check lets it through', async () => {
    const url = new URL(database.url);
    const name = `${database.name}_created`;
    url.pathname = `/${name}`;
    try {
      const { code, output } = await runCli(['migrate'], { DATABASE_URL: url.toString() });
      expect({ code, lines: lines(output) }).toEqual({ code: 0, lines: [`migrations applied to ${name}`] });
    } finally {
      await database.sql.unsafe(`drop database if exists "${name}" with (force)`);
    }
  });

  it.concurrent.each(['api', 'worker', 'indexer'])('%s --no-migrate: a database without the migrations is one line saying so (exit 2)', async (command) => {
    const url = new URL(database.url);
    const name = `${database.name}_${command}_bare`;
    url.pathname = `/${name}`;
    const expected = (applied: number) => ({
      code: 2,
      lines: [`Invalid configuration: DATABASE_URL: its database has ${applied} of the ${MIGRATIONS} migrations this version needs; run \`sui-backfill migrate\`, or start without --no-migrate`],
    });
    const run = () => runCli([command, '--no-migrate'], { DATABASE_URL: url.toString(), REDIS_URL: redis.url, API_TOKEN: 'x'.repeat(16) });
    try {
      // No database at all, then one that exists with none of the schema.
      expect(await run().then(({ code, output }) => ({ code, lines: lines(output) }))).toEqual(expected(0));
      await database.sql.unsafe(`create database "${name}"`);
      expect(await run().then(({ code, output }) => ({ code, lines: lines(output) }))).toEqual(expected(0));
    } finally {
      await database.sql.unsafe(`drop database if exists "${name}" with (force)`);
    }
  });

  it.concurrent('a Postgres on another machine is named without a start command (exit 3)', async () => {
    const { code, output } = await runCli(['migrate'], { DATABASE_URL: 'postgres://postgres@db.invalid:5432/x' });
    expect({ code, lines: lines(output) }).toEqual({ code: 3, lines: ['PostgreSQL is not reachable at db.invalid:5432 (DATABASE_URL)'] });
  });

  it.concurrent.each(['api', 'worker'])('%s: a REDIS_URL at a Postgres is one line saying it did not answer PING (exit 3)', async (command) => {
    const { code, output } = await runCli([command, '--no-migrate'], { DATABASE_URL: database.url, REDIS_URL: 'redis://127.0.0.1:5432', API_TOKEN: 'x'.repeat(16) });
    expect({ code, lines: lines(output) }).toEqual({ code: 3, lines: ['Redis at 127.0.0.1:5432 did not answer PING (is it Redis?) (REDIS_URL)'] });
    expect(output).not.toContain('    at ');
  });

  it('the api without API_TOKEN stops with one line naming it (exit 2)', async () => {
    const { code, output } = await runCli(['api', '--no-migrate'], { DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, PORT: '0' });
    expect(code).toBe(2);
    expect(lines(output)).toEqual(['Invalid configuration: API_TOKEN: required by the api, expected at least 16 characters (missing)']);
  });

  it('a bad --port of the api is named as the flag, a bad HOST as the variable (exit 2)', async () => {
    const env = { DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, API_TOKEN: 'x'.repeat(16) };
    const flag = await runCli(['api', '--no-migrate', '--port', 'abc'], env);
    expect({ code: flag.code, lines: lines(flag.output) }).toEqual({
      code: 2,
      lines: ['Invalid configuration: --port: expected an integer from 0 to 65535 (got "abc")'],
    });
    const host = await runCli(['api', '--no-migrate'], { ...env, HOST: 'bad host!' });
    expect({ code: host.code, lines: lines(host.output) }).toEqual({
      code: 2,
      lines: ['Invalid configuration: HOST: expected an IP address or a host name (got "bad host!")'],
    });
  });

  it.each([
    [['indexer', '--first-checkpoint', 'abc'], '--first-checkpoint: expected a checkpoint sequence number (got "abc")'],
    [['worker', '--chunk-size', '0', '--concurrency', '99'], '--chunk-size: expected an integer from 1 to 100000 (got "0"); --concurrency: expected an integer from 1 to 64 (got "99")'],
    [['dev', '--port', 'abc'], '--port: expected an integer from 0 to 65535 (got "abc")'],
  ])('%j: a bad flag standing for a variable is named as the flag (exit 2)', async (args, problem) => {
    const { code, output } = await runCli(args, { DATABASE_URL: database.url, REDIS_URL: redis.url });
    expect({ code, lines: lines(output) }).toEqual({ code: 2, lines: [`Invalid configuration: ${problem}`] });
  });

  it.each([
    [['dev', '--simnet-port', '70000'], '--simnet-port: expected an integer from 0 to 65535 (got "70000")'],
    [['dev', '--checkpoints', '50', '--simnet-port', 'x'], '--simnet-port: expected an integer from 0 to 65535 (got "x"); --checkpoints: expected an integer of at least 100 (got "50")'],
  ])('%j: a bad simulator flag of dev is a usage line naming it, as simnet says it (exit 2)', async (args, problem) => {
    const { code, output } = await runCli(args, { DEV_DATABASE_URL: database.url });
    expect({ code, lines: lines(output) }).toEqual({ code: 2, lines: [problem] });
  });

  describe('a port another process holds', () => {
    let holder: net.Server;
    let port: number;
    beforeAll(async () => {
      holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      port = (holder.address() as net.AddressInfo).port;
    });
    afterAll(() => holder.close());

    it('stops the api with one line naming HOST and PORT, or --port (exit 3)', async () => {
      const env = { DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, API_TOKEN: 'x'.repeat(16), LOG_LEVEL: 'info' };
      const byVariable = await runCli(['api', '--no-migrate'], { ...env, PORT: String(port) });
      expect({ code: byVariable.code, lines: lines(byVariable.output) }).toEqual({
        code: 3,
        lines: [`cannot listen on 127.0.0.1:${port} (HOST, PORT): address already in use (another process listens there)`],
      });
      const byFlag = await runCli(['api', '--no-migrate', '--port', String(port)], env);
      expect({ code: byFlag.code, lines: lines(byFlag.output) }).toEqual({
        code: 3,
        lines: [`cannot listen on 127.0.0.1:${port} (HOST, --port): address already in use (another process listens there)`],
      });
    });

    it.each(['worker', 'indexer'])('stops the %s whose METRICS_PORT it is with one line naming it, before it says it started (exit 3)', async (command) => {
      const { code, output } = await runCli([command, '--no-migrate'], {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        METRICS_PORT: String(port),
        LOG_LEVEL: 'info',
      });
      expect({ code, lines: lines(output) }).toEqual({
        code: 3,
        lines: [`cannot listen on 127.0.0.1:${port} (HOST, METRICS_PORT): address already in use (another process listens there)`],
      });
    });
  });

  it.each(['dev', 'migrate', 'api', 'worker', 'indexer', 'simnet'])('%s --help prints its usage and exits 0', async (command) => {
    const { code, output } = await runCli([command, '--help'], {});
    expect(code).toBe(0);
    expect(output.startsWith(`Usage: sui-backfill ${command}`)).toBe(true);
  });

  it('api --help names the variables its intake and admin page read', async () => {
    const { output } = await runCli(['api', '--help'], {});
    const environment = output.slice(output.indexOf('\nEnvironment: '), output.indexOf('RPC client environment'));
    for (const name of ['INTAKE_TIMEOUT_MS', 'INDEXER_HANDOFF_TIMEOUT_MS', 'HEARTBEAT_INTERVAL_MS', 'STALE_AFTER_MS']) expect([name, environment.includes(name)]).toEqual([name, true]);
  });

  it('no command prints the command list and exits 2; an unknown one says so', async () => {
    const none = await runCli([], {});
    expect(none.code).toBe(2);
    expect(none.output).toContain('Commands:');
    const unknown = await runCli(['frobnicate'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.output.split('\n')[0]).toBe("unknown command 'frobnicate'");
  });

  it('a worker serves its Prometheus metrics on METRICS_PORT and exits 0 on SIGTERM', async () => {
    const worker = track(spawnCli(['worker', '--no-migrate'], {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    }));
    await waitForOutput(worker, 'metrics served');
    const url = /"url":"(http:[^"]+\/metrics)"/.exec(worker.output())![1];
    const body = await (await fetch(url)).text();
    expect(body).toContain('# TYPE sui_backfill_rows_inserted_total counter');
    expect(body).toContain('sui_backfill_process_resident_memory_bytes');
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});

describe('npm test with a bad TEST_DATABASE_URL or TEST_REDIS_URL', () => {
  it.each([
    ['TEST_DATABASE_URL', 'notaurl', 'Invalid configuration: TEST_DATABASE_URL: expected a postgres:// or postgresql:// URL (got "…")'],
    ['TEST_REDIS_URL', 'http://127.0.0.1:6379', 'Invalid configuration: TEST_REDIS_URL: expected a redis:// or rediss:// URL (got "http://127.0.0.1:6379")'],
  ])('%s=%s: one line naming it, no stack', async (name, value, message) => {
    const { code, output } = await runVitest({ [name]: value });
    expect(code).toBe(1);
    expect(output).toContain(message);
    expect(output).not.toContain('    at ');
  });
});

describe('npm test without Postgres', () => {
  it('says in one line which service is missing and how to start it', async () => {
    const { code, output } = await runVitest({ TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' });
    expect(code).toBe(1);
    expect(output).toContain('PostgreSQL is not reachable at 127.0.0.1:1 (TEST_DATABASE_URL); start it with: pg_ctlcluster');
    expect(output).not.toContain('    at ');
  });
});

describe('npm test with a Postgres that refuses the login', () => {
  it('says in one line which login it refused, naming TEST_DATABASE_URL, no stack', async () => {
    const { code, output } = await runVitest({ TEST_DATABASE_URL: 'postgres://nosuchuser@127.0.0.1:5432/postgres' });
    expect(code).toBe(1);
    expect(output).toContain('PostgreSQL at 127.0.0.1:5432 refused the connection: role "nosuchuser" does not exist (TEST_DATABASE_URL)');
    expect(output).not.toContain('    at ');
  });
});

/** `vitest run test/db.test.ts` in a process of its own with `env` added. */
async function runVitest(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const vitest = path.resolve(import.meta.dirname, '../node_modules/vitest/vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', 'test/db.test.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, ...env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
