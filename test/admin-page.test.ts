import { setTimeout as sleep } from 'node:timers/promises';
import { Script } from 'node:vm';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeProgress, type ChunkTiming } from '../src/backfill/views.ts';
import { packageBackfillChunks } from '../src/db/schema/backfill.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let html: string;
let script: string;
beforeAll(async () => {
  // Latency and small chunks keep the walk running long enough to be watched mid-way.
  stack = await startStack({ knobs: { latencyMs: 40 }, env: { WORKER_SHUTDOWN_GRACE_MS: '200' } });
  const response = await fetch(`${stack.api.url}/`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/html; charset=UTF-8');
  html = await response.text();
  script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
});
afterAll(async () => {
  await stack?.close();
});

/** `name.field` (and `name.field.sub`) reads in the page's script. */
function reads(name: string): { field: string; sub?: string }[] {
  const found = [...script.matchAll(new RegExp(`\\b${name}\\.(\\w+)(?:\\.(\\w+))?`, 'g'))].map((match) => ({ field: match[1], sub: match[2] }));
  return [...new Map(found.map((read) => [`${read.field}.${read.sub}`, read])).values()];
}

/** The reads of `name` that `value` (a real API answer) lacks: a nested read is checked where the field is an object. */
function missing(name: string, value: Record<string, unknown>): string[] {
  return reads(name)
    .filter(({ field, sub }) => {
      if (!(field in value)) return true;
      const inner = value[field];
      return sub !== undefined && inner !== null && typeof inner === 'object' && !Array.isArray(inner) && !(sub in inner);
    })
    .map(({ field, sub }) => `${name}.${field}${sub ? `.${sub}` : ''}`);
}

describe('the admin page', () => {
  it('is served at / with a script that parses and configuration values filled in', () => {
    expect(() => new Script(script)).not.toThrow();
    expect(script).toContain(`const HEARTBEAT_INTERVAL_MS = ${stack.common.config.HEARTBEAT_INTERVAL_MS};`);
    expect(script).toContain(`const STALE_AFTER_MS = ${stack.common.config.STALE_AFTER_MS};`);
  });

  it('calls only routes the API serves, through one fetch, and links only to pages that exist', async () => {
    expect(script.match(/\bfetch\(/g)).toHaveLength(1);
    const literals = [...script.matchAll(/'(\/[^']*)'/g)].map((match) => match[1]);
    expect(literals).toEqual(['/v1/backfills?limit=', '/v1/backfills/']);
    const openapi = (await (await fetch(`${stack.api.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    for (const literal of literals) {
      const [route, query] = literal.split('?');
      const path = route.endsWith('/') ? `${route}{id}` : route;
      const get = openapi.paths[path]?.get;
      expect(get, `GET ${path}`).toBeDefined();
      for (const name of query ? [...new URLSearchParams(query).keys()] : []) {
        expect(get!.parameters?.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name)).toContain(name);
      }
    }
    const links = [...html.matchAll(/href="(\/[^"]*)"/g)].map((match) => match[1]);
    expect(links).toEqual(['/openapi.json', '/metrics']);
    for (const link of links) expect((await fetch(`${stack.api.url}${link}`)).status).toBe(200);
  });

  it('reads only fields the list and the detail have, and the list carries what the table shows, rate included', async () => {
    const dex = stack.chain.package('dex');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const id: string = posted.body.id;
    await stack.startWorker({ BACKFILL_CHUNK_SIZE: 5 });

    // A few chunks in, every RPC hangs: the request stays running with a fixed chunk log.
    const chunkCount = async () => Number((await stack.database.sql`select count(*)::int as n from package_backfill_chunks where request_id = ${id}`)[0].n);
    const deadline = Date.now() + 30_000;
    while ((await chunkCount()) < 3) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(20);
    }
    stack.simnet.setKnobs({ hangRate: 1, hangMs: 60_000 });
    let settled = await chunkCount();
    for (;;) {
      await sleep(400);
      const now = await chunkCount();
      if (now === settled) break;
      settled = now;
    }

    const before = new Date();
    const list = await stack.call('GET', '/v1/backfills?limit=50');
    const after = new Date();
    expect(list.status).toBe(200);
    expect(missing('page', list.body)).toEqual([]);
    const item = list.body.items.find((entry: { id: string }) => entry.id === id);
    expect(missing('item', item)).toEqual([]);
    expect(item.status).toBe('running');
    const view = (await stack.call('GET', `/v1/backfills/${id}`)).body;
    expect(missing('view', view)).toEqual([]);
    expect(missing('chunk', view.recentChunks[0])).toEqual([]);
    expect(missing('transition', view.transitions[0])).toEqual([]);
    expect(item.workerId).toBe(view.workerId);
    expect(item.workerId).toEqual(expect.any(String));
    expect(item.heartbeatAt).toEqual(expect.any(String));
    expect(item.objectsMatched).toBe(view.objectsMatched);
    expect(item.startedAt).toBe(view.startedAt);

    // The rate over the same chunk log as the detail's, at a moment within the call.
    const chunks: ChunkTiming[] = (await stack.database.db.select().from(packageBackfillChunks).where(eq(packageBackfillChunks.requestId, id))).map((row) => ({
      from: row.fromCheckpoint,
      to: row.toCheckpoint,
      durationMs: row.durationMs,
      finishedAt: row.finishedAt,
    }));
    const request = { status: 'running' as const, fromCheckpoint: BigInt(view.fromCheckpoint), toCheckpoint: BigInt(view.toCheckpoint) };
    const hi = BigInt(item.checkpointHiInclusive);
    const fastest = computeProgress(request, hi, chunks, before).checkpointsPerSecond!;
    const slowest = computeProgress(request, hi, chunks, after).checkpointsPerSecond!;
    expect(slowest).toBeGreaterThan(0);
    expect(item.checkpointsPerSecond).toBeGreaterThanOrEqual(slowest - 0.01);
    expect(item.checkpointsPerSecond).toBeLessThanOrEqual(fastest + 0.01);
    expect(item.etaSeconds).toBeGreaterThan(0);

    stack.simnet.setKnobs({ hangRate: 0 });
    const done = await stack.waitForStatus(id, ['completed'], 60_000);
    const finished = (await stack.call('GET', '/v1/backfills?limit=50')).body.items.find((entry: { id: string }) => entry.id === id);
    // Done, the list says what the detail says.
    expect(finished).toEqual({
      id,
      status: 'completed',
      packageId: done.packageId,
      originalPackageId: done.originalPackageId,
      match: 'anywhere',
      fromCheckpoint: done.fromCheckpoint,
      toCheckpoint: done.toCheckpoint,
      checkpointHiInclusive: done.watermark.checkpointHiInclusive,
      percent: 100,
      rowsInserted: done.rowsInserted,
      objectsMatched: done.objectsMatched,
      checkpointsPerSecond: null,
      etaSeconds: 0,
      workerId: done.workerId,
      heartbeatAt: done.heartbeatAt,
      lastError: null,
      createdAt: done.createdAt,
      startedAt: done.startedAt,
      finishedAt: done.finishedAt,
    });
    expect(done.rowsInserted).toBeGreaterThan(0);
  });
});
