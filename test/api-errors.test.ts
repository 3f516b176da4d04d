import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntake } from '../src/backfill/intake.ts';
import { createBackfillQueue } from '../src/backfill/queue.ts';
import { createReconciler } from '../src/backfill/reconciler.ts';
import { createApp } from '../src/api/app.ts';
import { createDb } from '../src/db/client.ts';
import { startStack, TEST_TOKEN, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { RPC_MAX_RETRIES: '1', RPC_TIMEOUT_MS: '1000' } });
});
afterAll(async () => {
  await stack?.close();
});

const post = (body: unknown, headers?: Record<string, string>) => stack.call('POST', '/v1/backfills', body, headers);

describe('POST /v1/backfills errors', () => {
  it.each([
    ['0x', 'packageId: expected 0x followed by 1 to 64 hex digits'],
    ['0xzz', 'packageId: expected 0x followed by 1 to 64 hex digits'],
    [`0x${'a'.repeat(65)}`, 'packageId: expected 0x followed by 1 to 64 hex digits'],
    ['dee9', 'packageId: expected 0x followed by 1 to 64 hex digits'],
  ])('400 for the malformed package ID %s', async (packageId, message) => {
    const response = await post({ packageId });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: 'invalid_request', message } });
  });

  it.each([
    ['a missing body', undefined, 'body: expected a JSON object such as {"packageId": "0x…"}; it was missing or not valid JSON'],
    ['a body that is not JSON', '{"packageId": ', 'body: expected a JSON object such as {"packageId": "0x…"}; it was missing or not valid JSON'],
    ['a missing packageId', {}, 'packageId: required'],
    ['a number as packageId', { packageId: 2 }, 'packageId: expected a string'],
    ['an unknown match mode', { packageId: '0x2', match: 'inner' }, 'match: Invalid option: expected one of "outer"|"anywhere"'],
    ['an unknown field', { packageId: '0x2', package_id: '0x2' }, 'body: unknown field(s) "package_id"'],
    ['a negative checkpoint', { packageId: '0x2', fromCheckpoint: -1 }, 'fromCheckpoint: expected a non-negative integer checkpoint sequence number'],
    ['a fractional checkpoint', { packageId: '0x2', toCheckpoint: 1.5 }, 'toCheckpoint: expected a non-negative integer checkpoint sequence number'],
    ['a reversed range', { packageId: '0x2', fromCheckpoint: 10, toCheckpoint: 5 }, 'toCheckpoint: must not be below fromCheckpoint'],
  ])('400 for %s', async (_, body, message) => {
    const response = await stack.call('POST', '/v1/backfills', body, body === undefined ? { 'content-type': 'application/json' } : {});
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    expect(response.body.error.message).toBe(message);
  });

  it('400 naming packageId for a POST with no body and no Content-Type (curl -X POST)', async () => {
    const response = await fetch(`${stack.api.url}/v1/backfills`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'invalid_request', message: 'packageId: required' } });
  });

  it('401 without the token or with a wrong one, and nothing is created', async () => {
    const none = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId }, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await post({ packageId: stack.chain.package('dex').originalId }, { authorization: `Bearer ${TEST_TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: 'unauthorized', message: 'send the API token as "Authorization: Bearer <API_TOKEN>"' } });
    expect(none.body).toEqual(wrong.body);
    const [{ count }] = await stack.database.sql`select count(*)::int from package_backfill_requests`;
    expect(count).toBe(0);
  });

  it('404 for an ID no object has', async () => {
    const id = `0x${randomBytes(32).toString('hex')}`;
    const response = await post({ packageId: id });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: { code: 'package_not_found', message: `no package or object with ID ${id} exists` } });
  });

  it('422 for an object that is not a package, naming its type', async () => {
    const pool = stack.truth(stack.chain.package('dex').originalId, 'outer', 0n, stack.chain.tip()).find((row) => row.typeName === 'Pool');
    expect(pool).toBeDefined();
    const response = await post({ packageId: pool!.objectId });
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('not_a_package');
    expect(response.body.error.message).toContain('::pool::Pool<');
  });

  it('422 for a range beyond the tip', async () => {
    const response = await post({ packageId: stack.chain.package('nft').originalId, toCheckpoint: Number(stack.chain.tip()) + 1 });
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('invalid_range');
  });

  it('422 for a range the node no longer serves, naming its lowest available checkpoint', async () => {
    const nft = stack.chain.package('nft');
    const lowest = stack.chain.publishCheckpoint(nft.originalId) + 100n;
    stack.simnet.setKnobs({ lowestAvailableCheckpoint: Number(lowest) });
    try {
      const response = await post({ packageId: nft.originalId });
      expect(response.status).toBe(422);
      expect(response.body.error.code).toBe('range_not_served');
      expect(response.body.error.message).toContain(`lowest available checkpoint ${lowest}`);
      expect(response.body.error.message).toContain('SUI_ARCHIVE_GRPC_URL');
      const served = await post({ packageId: nft.originalId, fromCheckpoint: Number(lowest) });
      expect(served.status).toBe(202);
      expect(served.body.fromCheckpoint).toBe(String(lowest));
    } finally {
      stack.simnet.setKnobs({ lowestAvailableCheckpoint: 0 });
    }
  });

  it('202 with the whole request for a default-range POST: from the publish checkpoint to the tip read at intake', async () => {
    const dex = stack.chain.package('dex');
    const upgraded = dex.versions[dex.versions.length - 1].id;
    const response = await post({ packageId: upgraded });
    expect(response.status).toBe(202);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      status: 'queued',
      packageId: upgraded,
      originalPackageId: dex.originalId,
      match: 'outer',
      fromCheckpoint: String(stack.chain.publishCheckpoint(dex.originalId)),
      toCheckpoint: String(stack.chain.tip()),
      enqueued: true,
    });
  });

  it('200 with the same request for a duplicate POST; a different match mode is a new request', async () => {
    const book = stack.chain.package('book');
    const first = await post({ packageId: book.originalId });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'queued', packageId: book.originalId, originalPackageId: book.originalId, match: 'outer', enqueued: true });
    const again = await post({ packageId: book.originalId.replace(/^0x0+/, '0x') });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const anywhere = await post({ packageId: book.originalId, match: 'anywhere' });
    expect(anywhere.status).toBe(202);
    expect(anywhere.body.id).not.toBe(first.body.id);
  });

  it('503 with a retry hint when the Sui RPC does not answer, and nothing is created', async () => {
    stack.simnet.setKnobs({ unavailableRate: 1 });
    try {
      const response = await post({ packageId: stack.chain.package('token').originalId, match: 'anywhere', fromCheckpoint: 1 });
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('rpc_unavailable');
      expect(response.headers.get('retry-after')).toBe('5');
    } finally {
      stack.simnet.setKnobs({ unavailableRate: 0 });
    }
    const rows = await stack.database.sql`select 1 from package_backfill_requests where options_key = 'match=anywhere;from=1'`;
    expect(rows).toHaveLength(0);
  });

  it('503 with a retry hint when Postgres is down', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    const app = createApp({
      common: stack.common,
      db: deadDb,
      intake: createIntake(stack.common, deadDb, stack.source, stack.queue),
      queue: stack.queue,
      ready: async () => ({ postgres: false, redis: true }),
    });
    try {
      const response = await app.request('/v1/backfills', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ packageId: stack.chain.package('dex').originalId }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toEqual({ error: { code: 'postgres_unavailable', message: 'Postgres is not available; retry later' } });
      const get = await app.request(`/v1/backfills/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`);
      expect(get.status).toBe(503);
    } finally {
      await deadDb.close();
    }
  });

  it('accepts a request while Redis is down and the reconciler enqueues it when Redis is back', async () => {
    const deadQueue = createBackfillQueue({ redisUrl: 'redis://127.0.0.1:1', prefix: stack.env.REDIS_PREFIX });
    const app = createApp({
      common: stack.common,
      db: stack.database,
      intake: createIntake(stack.common, stack.database, stack.source, deadQueue),
      queue: deadQueue,
      ready: async () => ({ postgres: true, redis: false }),
    });
    try {
      const response = await app.request('/v1/backfills', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ packageId: stack.chain.package('late').originalId }),
      });
      expect(response.status).toBe(202);
      const body = await response.json();
      expect(body.enqueued).toBe(false);
      expect(await stack.queue.hasJob(body.id)).toBe(false);
      const reconciled = await createReconciler(stack.common, stack.database.db, stack.queue).runOnce();
      expect(reconciled).toContain(body.id);
      expect(await stack.queue.hasJob(body.id)).toBe(true);
    } finally {
      await deadQueue.close();
    }
  });
});

describe('reads', () => {
  it('GET /v1/backfills/:id: 400 for a malformed id, 404 for an unknown one', async () => {
    expect((await stack.call('GET', '/v1/backfills/nope')).status).toBe(400);
    const id = `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    const unknown = await stack.call('GET', `/v1/backfills/${id}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'request_not_found', message: `no backfill request ${id}` } });
    const chunks = await stack.call('GET', `/v1/backfills/${id}/chunks`);
    expect(chunks.status).toBe(404);
    expect(chunks.body).toEqual(unknown.body);
    expect((await stack.call('GET', `/v1/backfills/${id}/chunks?cursor=x1`)).body).toEqual({ error: { code: 'invalid_request', message: 'cursor: not a cursor this API gave out' } });
    expect((await stack.call('GET', `/v1/backfills/${id}/chunks?limit=0`)).status).toBe(400);
  });

  it('GET /v1/packages/:id/watermark: 400 malformed, 404 when never backfilled', async () => {
    expect((await stack.call('GET', '/v1/packages/0xzz/watermark')).status).toBe(400);
    const none = await stack.call('GET', `/v1/packages/0x${'7'.repeat(64)}/watermark`);
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ error: { code: 'no_backfill', message: `no outer backfill of package 0x${'7'.repeat(64)} (or of its family) was requested` } });
  });

  it('serves an OpenAPI document generated from the schemas', async () => {
    const { status, body } = await stack.call('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths).sort()).toEqual([
      '/v1/backfills',
      '/v1/backfills/{id}',
      '/v1/backfills/{id}/cancel',
      '/v1/backfills/{id}/chunks',
      '/v1/backfills/{id}/pause',
      '/v1/backfills/{id}/resume',
      '/v1/config/rpc',
      '/v1/packages/{packageId}/watermark',
    ]);
    expect(body.components.schemas.CreateBackfill.required).toEqual(['packageId']);
  });
});
