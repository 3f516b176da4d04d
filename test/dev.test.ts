import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimChain } from '../src/simnet/chain.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { runCli, spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { createTestRedisNamespace } from './helpers/redis.ts';

// dev's chain: its tip starts at 90% of the generated checkpoints.
const CHECKPOINTS = 2_000;
const chain = createSimChain({ checkpoints: CHECKPOINTS, initialTip: CHECKPOINTS * 0.9 });

let database: TestDatabase;
const redis = createTestRedisNamespace();
// Exported as a production shell would: dev must touch neither.
const production = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/sui_backfill', REDIS_PREFIX: `${redis.prefix}-production` };
let dev: Spawned | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  dev?.kill('SIGKILL');
  await database?.drop();
  await redis.cleanup();
});

const truthCount = (packageId: string, from: string, to: string) =>
  chain.groundTruth({ packageId, match: 'anywhere', fromCheckpoint: BigInt(from), toCheckpoint: BigInt(to) }).length;

describe('sui-backfill dev', () => {
  it('runs the demo, serves more backfills on the printed curl, ignores the production variables and exits 0 on SIGTERM', async () => {
    dev = spawnCli(['dev', '--port', '0', '--simnet-port', '0', '--checkpoints', String(CHECKPOINTS)], {
      ...production,
      DEV_DATABASE_URL: database.url,
      DEV_REDIS_PREFIX: redis.prefix,
      REDIS_URL: redis.url,
      LOG_FORMAT: 'json',
    });
    await waitForOutput(dev, 'Still serving', 30_000);
    const output = dev.output();

    const demo = /checkpoints (\d+)\.\.(\d+), request /.exec(output)!;
    const dex = chain.package('dex');
    expect(output).toContain(`posted by its newest upgrade ${dex.versions[dex.versions.length - 1].id}`);
    expect(output).toContain(`Demo backfill completed: ${truthCount(dex.originalId, demo[1], demo[2])} object versions written.`);
    expect(output).toContain(`database     ${database.url}   (DEV_DATABASE_URL; reset at each start)`);

    const apiUrl = /admin page {3}(http:\/\/127\.0\.0\.1:\d+)\//.exec(output)![1];
    expect(apiUrl).not.toMatch(/:0$/);
    const curl = /curl -s -X POST (\S+) -H 'Authorization: Bearer ([^']+)' .* -d '(\{.*\})'/.exec(output)!;
    expect(curl[1]).toBe(`${apiUrl}/v1/backfills`);
    const body = JSON.parse(curl[3]);
    const book = chain.package('book');
    expect(body).toEqual({ packageId: book.originalId, match: 'anywhere' });
    // The README shows the same curl (the simulator is deterministic).
    const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
    expect(/-d '\{"packageId": "([^"]+)", "match": "anywhere"\}'/.exec(readme)?.[1]).toBe(book.originalId);

    const posted = await fetch(curl[1], { method: 'POST', headers: { authorization: `Bearer ${curl[2]}`, 'content-type': 'application/json' }, body: curl[3] });
    expect(posted.status).toBe(202);
    const request = (await posted.json()) as { id: string; fromCheckpoint: string; toCheckpoint: string };
    let view: { status: string; objectsMatched: number; rowsInserted: number };
    const deadline = Date.now() + 20_000;
    do {
      await sleep(200);
      view = await (await fetch(`${apiUrl}/v1/backfills/${request.id}`)).json();
    } while (view.status !== 'completed' && Date.now() < deadline);
    expect(view.status).toBe('completed');
    expect(view.objectsMatched).toBe(truthCount(book.originalId, request.fromCheckpoint, request.toCheckpoint));

    const keys = new Redis(redis.url);
    try {
      expect(await keys.keys(`${production.REDIS_PREFIX}*`)).toEqual([]);
      expect((await keys.keys(`${redis.prefix}:*`)).length).toBeGreaterThan(0);
    } finally {
      keys.disconnect();
    }

    dev.kill('SIGTERM');
    expect((await dev.exited).code).toBe(0);
  });

  it('refuses a bad DEV_DATABASE_URL in one line that does not show its password (exit 2)', async () => {
    const { code, output } = await runCli(['dev'], { DEV_DATABASE_URL: 'mysql://dev:s3cret@127.0.0.1:3306/sui_backfill_dev' });
    expect({ code, lines: output.trim().split('\n') }).toEqual({
      code: 2,
      lines: ['Invalid configuration: DEV_DATABASE_URL: expected a postgres:// or postgresql:// URL (got "mysql://127.0.0.1:3306/…")'],
    });
  });

  it('names DEV_DATABASE_URL when Postgres refuses its login, in one line (exit 2)', async () => {
    const { code, output } = await runCli(['dev', '--port', '0', '--simnet-port', '0'], { DEV_DATABASE_URL: 'postgres://nosuchuser@127.0.0.1:5432/sui_backfill_dev' });
    expect({ code, lines: output.trim().split('\n') }).toEqual({
      code: 2,
      lines: ['PostgreSQL at 127.0.0.1:5432 refused the connection: role "nosuchuser" does not exist (DEV_DATABASE_URL)'],
    });
  });

  it('refuses DEV_DATABASE_URL naming the DATABASE_URL database, in one line (exit 2)', async () => {
    const url = 'postgres://postgres@127.0.0.1:5432/sui_backfill';
    const { code, output } = await runCli(['dev'], { DATABASE_URL: url, DEV_DATABASE_URL: url });
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toEqual([
      'Invalid configuration: DEV_DATABASE_URL: names the same database as DATABASE_URL, which dev would reset; expected another database',
    ]);
  });
});
