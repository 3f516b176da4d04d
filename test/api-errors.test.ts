import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntake } from '../src/backfill/intake.ts';
import { createBackfillQueue } from '../src/backfill/queue.ts';
import { createReconciler } from '../src/backfill/reconciler.ts';
import { createApp } from '../src/api/app.ts';
import { createDb } from '../src/db/client.ts';
import { startStack, TEST_TOKEN, type Stack } from './helpers/stack.ts';

/** Small enough that no package's getPackage answer fits; the service info does. */
const MAX_RESPONSE_BYTES = 300;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { RPC_MAX_RETRIES: '1', RPC_TIMEOUT_MS: '1000' } });
});
afterAll(async () => {
  await stack?.close();
});

/** Every status an API route answered in this file: the OpenAPI document must declare each (last test). */
const answered: { method: string; path: string; status: number }[] = [];
const call: Stack['call'] = async (method, path, body, headers) => {
  const response = await stack.call(method, path, body, headers);
  answered.push({ method, path, status: response.status });
  return response;
};
/** A request to an app of the test's own, recorded like `call`. */
const request = async (app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> }, path: string, init?: RequestInit) => {
  const response = await app.request(path, init);
  answered.push({ method: init?.method ?? 'GET', path, status: response.status });
  return response;
};
const post = (body: unknown, headers?: Record<string, string>) => call('POST', '/v1/backfills', body, headers);
const MALFORMED_BODY = "body: expected a JSON object (the route's schema is in /openapi.json); it was missing or not valid JSON";
const UNSAFE_CHECKPOINT = 'expected a checkpoint number of at most 9007199254740991 (2^53 - 1); send larger ones as a string of digits';

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
    ['a missing body', undefined, MALFORMED_BODY],
    ['a body that is not JSON', '{"packageId": ', MALFORMED_BODY],
    ['a missing packageId', {}, 'packageId: required'],
    ['a number as packageId', { packageId: 2 }, 'packageId: expected a string'],
    ['an unknown match mode', { packageId: '0x2', match: 'inner' }, 'match: Invalid option: expected one of "outer"|"anywhere"'],
    ['an unknown field', { packageId: '0x2', package_id: '0x2' }, 'body: unknown field(s) "package_id"'],
    ['a negative checkpoint', { packageId: '0x2', fromCheckpoint: -1 }, 'fromCheckpoint: expected a non-negative integer checkpoint sequence number'],
    ['a fractional checkpoint', { packageId: '0x2', toCheckpoint: 1.5 }, 'toCheckpoint: expected a non-negative integer checkpoint sequence number'],
    ['a checkpoint of the wrong type', { packageId: '0x2', fromCheckpoint: true }, 'fromCheckpoint: expected a non-negative integer checkpoint sequence number'],
    ['a checkpoint string that is not digits', { packageId: '0x2', fromCheckpoint: '1e3' }, 'fromCheckpoint: expected a non-negative integer checkpoint sequence number'],
    // JSON.parse has already rounded these: 2^53 + 1 arrives as 2^53.
    ['a checkpoint number of 2^53', { packageId: '0x2', fromCheckpoint: 2 ** 53 }, `fromCheckpoint: ${UNSAFE_CHECKPOINT}`],
    ['a checkpoint number above 2^53 written out', '{"packageId": "0x2", "toCheckpoint": 9007199254740993}', `toCheckpoint: ${UNSAFE_CHECKPOINT}`],
    ['a checkpoint number in exponent form', '{"packageId": "0x2", "toCheckpoint": 1e21}', `toCheckpoint: ${UNSAFE_CHECKPOINT}`],
    ['a reversed range', { packageId: '0x2', fromCheckpoint: 10, toCheckpoint: 5 }, 'toCheckpoint: must not be below fromCheckpoint'],
  ])('400 for %s', async (_, body, message) => {
    const response = await call('POST', '/v1/backfills', body, body === undefined ? { 'content-type': 'application/json' } : {});
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: 'invalid_request', message } });
  });

  it('a checkpoint above 2^53 is kept to the digit when sent as a string', async () => {
    const tip = stack.chain.tip();
    const response = await post({ packageId: stack.chain.package('nft').originalId, fromCheckpoint: '9007199254740993' });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ error: { code: 'invalid_range', message: `fromCheckpoint 9007199254740993 is beyond the chain tip ${tip}` } });
  });

  it('415 for a body that is not sent as JSON', async () => {
    const response = await call('POST', '/v1/backfills', JSON.stringify({ packageId: '0x2' }), { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
    expect(response.body).toEqual({ error: { code: 'unsupported_media_type', message: 'the request body must be JSON: send Content-Type: application/json' } });
  });

  it('400 naming packageId for a POST with no body and no Content-Type (curl -X POST)', async () => {
    const response = await fetch(`${stack.api.url}/v1/backfills`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    answered.push({ method: 'POST', path: '/v1/backfills', status: response.status });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'invalid_request', message: 'packageId: required' } });
  });

  it('401 without the token or with a wrong one, and nothing is created', async () => {
    const none = await call('POST', '/v1/backfills', { packageId: stack.chain.package('dex').originalId }, { authorization: '' });
    expect(none.status).toBe(401);
    const wrong = await post({ packageId: stack.chain.package('dex').originalId }, { authorization: `Bearer ${TEST_TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: 'unauthorized', message: 'send the API token as "Authorization: Bearer <API_TOKEN>"' } });
    expect(none.body).toEqual(wrong.body);
    const [{ count }] = await stack.database.sql`select count(*)::int from package_backfill_requests`;
    expect(count).toBe(0);
  });

  it('takes the bearer scheme in any case, the token exactly', async () => {
    const packageId = stack.chain.package('nft').originalId;
    const lower = await post({ packageId, fromCheckpoint: 1, toCheckpoint: 2 }, { authorization: `bearer ${TEST_TOKEN}` });
    expect(lower.status).toBe(202);
    const shouting = await post({ packageId, fromCheckpoint: 1, toCheckpoint: 2 }, { authorization: `BEARER  ${TEST_TOKEN}` });
    expect([shouting.status, shouting.body.id]).toEqual([200, lower.body.id]);
    const tokenCase = await post({ packageId, fromCheckpoint: 1, toCheckpoint: 2 }, { authorization: `Bearer ${TEST_TOKEN.toUpperCase()}` });
    expect(tokenCase.status).toBe(401);
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
    expect(pool!.objectType).toContain('::pool::Pool<');
    const response = await post({ packageId: pool!.objectId });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ error: { code: 'not_a_package', message: `${pool!.objectId} is an object of type ${pool!.objectType}, not a Move package` } });
  });

  it('422 for a range beyond the tip or ending before its start', async () => {
    const nft = stack.chain.package('nft');
    const tip = stack.chain.tip();
    const publish = stack.chain.publishCheckpoint(nft.originalId);
    for (const [range, message] of [
      [{ toCheckpoint: Number(tip) + 1 }, `toCheckpoint ${tip + 1n} is beyond the chain tip ${tip}`],
      [{ fromCheckpoint: String(tip + 1n) }, `fromCheckpoint ${tip + 1n} is beyond the chain tip ${tip}`],
      [{ toCheckpoint: Number(publish) - 1 }, `fromCheckpoint ${publish} is after the end of the range, ${publish - 1n}`],
    ] as const) {
      const response = await post({ packageId: nft.originalId, ...range });
      expect([range, response.status, response.body]).toEqual([range, 422, { error: { code: 'invalid_range', message } }]);
    }
  });

  it('422 for a range the node no longer serves, naming its lowest available checkpoint', async () => {
    const nft = stack.chain.package('nft');
    const publish = stack.chain.publishCheckpoint(nft.originalId);
    const lowest = publish + 100n;
    stack.simnet.setKnobs({ lowestAvailableCheckpoint: Number(lowest) });
    const served = `is below the lowest available checkpoint ${lowest} of ${stack.source.describeEndpoint()}; configure an archival endpoint (SUI_ARCHIVE_GRPC_URL) that serves this history`;
    try {
      // The default range starts at the publish, whose transaction is pruned too.
      const pruned = await post({ packageId: nft.originalId });
      expect([pruned.status, pruned.body]).toEqual([422, { error: { code: 'range_not_served', message: `the publish of package ${nft.originalId} (its transaction is pruned) ${served}` } }]);
      const below = await post({ packageId: nft.originalId, fromCheckpoint: Number(publish) });
      expect([below.status, below.body]).toEqual([422, { error: { code: 'range_not_served', message: `checkpoint ${publish} ${served}` } }]);
      const accepted = await post({ packageId: nft.originalId, fromCheckpoint: Number(lowest) });
      expect(accepted.status).toBe(202);
      expect(accepted.body.fromCheckpoint).toBe(String(lowest));
    } finally {
      stack.simnet.setKnobs({ lowestAvailableCheckpoint: 0 });
    }
  });

  it('502 when the node cannot send even one package within its response size limit, and nothing is created', async () => {
    const token = stack.chain.package('token');
    stack.simnet.setKnobs({ maxResponseBytes: MAX_RESPONSE_BYTES });
    try {
      const response = await post({ packageId: token.originalId, match: 'anywhere', fromCheckpoint: 2 });
      expect(response.status).toBe(502);
      expect(response.headers.get('retry-after')).toBeNull();
      expect(response.body.error.code).toBe('response_too_large');
      expect(response.body.error.message).toMatch(
        new RegExp(
          `^the Sui RPC cannot answer within its response size limit \\(getPackage\\(${token.originalId}\\) at .+: OUT_OF_RANGE: ` +
            `Error, encoded message length too large: found \\d+ bytes, the limit is: ${MAX_RESPONSE_BYTES} bytes\\)$`,
        ),
      );
    } finally {
      stack.simnet.setKnobs({ maxResponseBytes: 0 });
    }
    expect(await stack.database.sql`select 1 from package_backfill_requests where options_key = 'match=anywhere;from=2'`).toHaveLength(0);
  });

  it("502 naming the endpoint when the Sui RPC refuses this service's credentials, and nothing is created", async () => {
    stack.simnet.setKnobs({ refuseCredentials: true });
    try {
      const response = await post({ packageId: stack.chain.package('token').originalId, match: 'anywhere', fromCheckpoint: 3 });
      expect(response.status).toBe(502);
      expect(response.headers.get('retry-after')).toBeNull();
      expect(response.body).toEqual({
        error: {
          code: 'rpc_refused',
          message:
            "the Sui RPC refused this service's credentials, which an operator must fix: " +
            `getServiceInfo() at ${stack.simnet.url}: the endpoint refused our credentials (UNAUTHENTICATED: simnet: invalid API key); check the API key in its URL`,
        },
      });
    } finally {
      stack.simnet.setKnobs({ refuseCredentials: false });
    }
    expect(await stack.database.sql`select 1 from package_backfill_requests where options_key = 'match=anywhere;from=3'`).toHaveLength(0);
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

  it('200 with the same request for a duplicate POST by any ID of the family, naming the ID it was posted with; a different match mode is a new request', async () => {
    const dex = stack.chain.package('dex');
    const [original, middle, newest] = dex.versions.map((version) => version.id);
    expect(original).toBe(dex.originalId);
    const from = stack.chain.publishCheckpoint(dex.originalId);
    const range = { fromCheckpoint: String(from), toCheckpoint: String(from + 20n) };
    const first = await post({ packageId: middle, ...range });
    expect(first.status).toBe(202);
    const expected = { id: first.body.id, status: 'queued', packageId: middle, originalPackageId: original, match: 'outer', ...range, enqueued: true };
    expect(first.body).toEqual(expected);
    for (const packageId of [original, newest, original.replace(/^0x0+/, '0x')]) {
      const again = await post({ packageId, ...range });
      expect([packageId, again.status, again.body]).toEqual([packageId, 200, expected]);
    }
    const read = await call('GET', `/v1/backfills/${first.body.id}`);
    expect(read.body).toMatchObject({ id: first.body.id, packageId: middle, originalPackageId: original });
    const anywhere = await post({ packageId: newest, match: 'anywhere', ...range });
    expect(anywhere.status).toBe(202);
    expect(anywhere.body).toEqual({ ...expected, id: anywhere.body.id, packageId: newest, match: 'anywhere' });
    expect(anywhere.body.id).not.toBe(first.body.id);
  });

  it('200 with the existing request for a duplicate POST while the Sui RPC is down, asking the RPC nothing', async () => {
    const dex = stack.chain.package('dex');
    const [original, middle] = dex.versions.map((version) => version.id);
    const bodies = [
      { packageId: original, fromCheckpoint: 1000, toCheckpoint: 1400 },
      // A defaulted range: the duplicate matches on package and match mode alone.
      { packageId: original, match: 'anywhere' },
    ];
    const firsts = [];
    for (const body of bodies) {
      const first = await post(body);
      expect([body, first.status]).toEqual([body, 202]);
      firsts.push(first.body);
    }
    stack.simnet.setKnobs({ unavailableRate: 1 });
    try {
      const before = stack.simnet.stats();
      for (const [index, body] of bodies.entries()) {
        for (const packageId of [original, middle]) {
          const began = performance.now();
          const again = await post({ ...body, packageId });
          const elapsed = performance.now() - began;
          expect([body, packageId, again.status, again.body]).toEqual([body, packageId, 200, firsts[index]]);
          expect(elapsed).toBeLessThan(1_000);
        }
      }
      const after = stack.simnet.stats();
      expect([after.requests, after.responses, after.faults]).toEqual([before.requests, before.responses, before.faults]);
    } finally {
      stack.simnet.setKnobs({ unavailableRate: 0 });
    }
  });

  it('503 with a retry hint when the Sui RPC does not answer, and nothing is created', async () => {
    stack.simnet.setKnobs({ unavailableRate: 1 });
    try {
      const response = await post({ packageId: stack.chain.package('token').originalId, match: 'anywhere', fromCheckpoint: 1 });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.body).toEqual({
        error: { code: 'rpc_unavailable', message: expect.stringMatching(/^the Sui RPC did not answer usefully \(rpc_unavailable: getServiceInfo\(\) at .+: UNAVAILABLE: simnet: injected UNAVAILABLE fault\); retry later$/) },
      });
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
      rpc: stack.source.control,
      ready: async () => ({ postgres: false, redis: true }),
    });
    try {
      const response = await request(app, '/v1/backfills', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ packageId: stack.chain.package('dex').originalId }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      const down = { error: { code: 'postgres_unavailable', message: 'Postgres is not available; retry later' } };
      expect(await response.json()).toEqual(down);
      for (const path of [`/v1/backfills/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, `/v1/packages/${stack.chain.package('dex').originalId}/watermark`]) {
        const get = await request(app, path);
        expect([path, get.status, get.headers.get('retry-after'), await get.json()]).toEqual([path, 503, '5', down]);
      }
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
      rpc: stack.source.control,
      ready: async () => ({ postgres: true, redis: false }),
    });
    try {
      const response = await request(app, '/v1/backfills', {
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
    const malformedId = { error: { code: 'invalid_request', message: 'id: expected a backfill request id (a UUID)' } };
    for (const path of ['/v1/backfills/nope', '/v1/backfills/nope/chunks']) {
      const malformed = await call('GET', path);
      expect([path, malformed.status, malformed.body]).toEqual([path, 400, malformedId]);
    }
    const id = `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    const unknown = await call('GET', `/v1/backfills/${id}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'request_not_found', message: `no backfill request ${id}` } });
    const chunks = await call('GET', `/v1/backfills/${id}/chunks`);
    expect(chunks.status).toBe(404);
    expect(chunks.body).toEqual(unknown.body);
    const cursor = await call('GET', `/v1/backfills/${id}/chunks?cursor=x1`);
    expect([cursor.status, cursor.body]).toEqual([400, { error: { code: 'invalid_request', message: 'cursor: not a cursor this API gave out' } }]);
    const limit = await call('GET', `/v1/backfills/${id}/chunks?limit=0`);
    expect([limit.status, limit.body]).toEqual([400, { error: { code: 'invalid_request', message: 'limit: Too small: expected number to be >=1' } }]);
  });

  it('GET /v1/packages/:id/watermark: 400 malformed, 404 when never backfilled', async () => {
    const malformed = await call('GET', '/v1/packages/0xzz/watermark');
    expect([malformed.status, malformed.body]).toEqual([400, { error: { code: 'invalid_request', message: 'packageId: expected 0x followed by 1 to 64 hex digits' } }]);
    const badMatch = await call('GET', `/v1/packages/0x${'7'.repeat(64)}/watermark?match=inner`);
    expect([badMatch.status, badMatch.body]).toEqual([400, { error: { code: 'invalid_request', message: 'match: Invalid option: expected one of "outer"|"anywhere"' } }]);
    const none = await call('GET', `/v1/packages/0x${'7'.repeat(64)}/watermark`);
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ error: { code: 'no_backfill', message: `no outer backfill of package 0x${'7'.repeat(64)} (or of its family) was requested` } });
  });
});

describe('the OpenAPI document', () => {
  type Operation = { responses: Record<string, { headers?: Record<string, unknown> }>; requestBody?: unknown };
  let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, any> } };
  beforeAll(async () => {
    const { status, body } = await stack.call('GET', '/openapi.json');
    expect(status).toBe(200);
    doc = body;
  });
  const operations = () => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })));

  it('declares exactly the statuses each route answers', () => {
    const declared = Object.fromEntries(operations().map(({ path, method, operation }) => [`${method.toUpperCase()} ${path}`, Object.keys(operation.responses).sort()]));
    const action = ['200', '400', '401', '404', '409', '413', '415', '503'];
    expect(declared).toEqual({
      'POST /v1/backfills': ['200', '202', '400', '401', '404', '413', '415', '422', '502', '503'],
      'GET /v1/backfills': ['200', '400', '503'],
      'GET /v1/backfills/{id}': ['200', '400', '404', '503'],
      'DELETE /v1/backfills/{id}': ['204', '400', '401', '404', '409', '503'],
      'GET /v1/backfills/{id}/chunks': ['200', '400', '404', '503'],
      'POST /v1/backfills/{id}/pause': action,
      'POST /v1/backfills/{id}/cancel': action,
      'POST /v1/backfills/{id}/resume': [...action, '202'].sort(),
      'GET /v1/packages/{packageId}/watermark': ['200', '400', '404', '503'],
      'GET /v1/config/rpc': ['200', '503'],
      'PUT /v1/config/rpc': ['200', '400', '401', '413', '415', '503'],
      'DELETE /v1/config/rpc': ['200', '400', '401', '503'],
    });
  });

  it('declares Retry-After on every 503, and 413 and 415 on every route with a JSON body', () => {
    for (const { path, method, operation } of operations()) {
      expect([method, path, operation.responses['503']?.headers]).toEqual([method, path, { 'Retry-After': expect.objectContaining({ schema: { type: 'integer', example: 5 } }) }]);
      expect([method, path, '413' in operation.responses, '415' in operation.responses]).toEqual([method, path, operation.requestBody !== undefined, operation.requestBody !== undefined]);
    }
  });

  it('every route with a JSON body answers 415 for another Content-Type', async () => {
    const withBody = operations().filter(({ operation }) => operation.requestBody !== undefined);
    expect(withBody).toHaveLength(5);
    for (const { path, method } of withBody) {
      const concrete = path.replace('{id}', `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`);
      const response = await call(method.toUpperCase(), concrete, '{}', { 'content-type': 'text/plain' });
      expect([method, path, response.status, response.body.error.code]).toEqual([method, path, 415, 'unsupported_media_type']);
    }
  });

  it('413 for a body over 64 KiB on every route that takes one, before reading it all', async () => {
    const large = JSON.stringify({ packageId: '0x2', padding: 'x'.repeat(64 * 1024) });
    const routes = operations().filter(({ operation }) => operation.requestBody !== undefined);
    expect(routes).toHaveLength(5);
    for (const { path, method } of routes) {
      const concrete = path.replace('{id}', `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`);
      const response = await call(method.toUpperCase(), concrete, large);
      expect([method, path, response.status, response.body]).toEqual([
        method,
        path,
        413,
        { error: { code: 'payload_too_large', message: 'the request body is larger than 64 KiB; these routes take a small JSON object' } },
      ]);
    }
  });

  it('documents checkpoints as a JSON integer up to 2^53 - 1 or a string of digits', () => {
    const { fromCheckpoint, toCheckpoint } = doc.components.schemas.CreateBackfill.properties;
    expect(toCheckpoint).toEqual(fromCheckpoint);
    expect(fromCheckpoint.anyOf).toEqual([
      { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, example: 67456359 },
      { type: 'string', pattern: '^\\d{1,19}$', example: '67456359' },
    ]);
    expect(doc.components.schemas.CreateBackfill.required).toEqual(['packageId']);
  });

  // Last: the statuses the tests above saw.
  it('declares every status this file saw a route answer', () => {
    expect(answered.length).toBeGreaterThan(0);
    const templates = Object.keys(doc.paths).map((path) => ({ path, pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
    const undeclared = answered.filter(({ method, path, status }) => {
      const template = templates.find(({ pattern }) => pattern.test(path.split('?')[0]));
      return !template || !(String(status) in (doc.paths[template.path][method.toLowerCase()]?.responses ?? {}));
    });
    expect(undeclared).toEqual([]);
  });
});
