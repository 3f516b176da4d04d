import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cancelRequest, pauseRequest, resumeRequest } from '../src/backfill/operations.ts';
import { startWorker } from '../src/backfill/process.ts';
import { claimRequest, createOrFindActiveRequest, finishHeldRequest } from '../src/backfill/requests.ts';
import { createBackfillWorker } from '../src/backfill/worker.ts';
import type { Config } from '../src/common/config.ts';
import { chunksOf, isChain, tiling, transitionsOf, waitFor, walkers, writtenSoFar } from './helpers/backfill-checks.ts';
import { CASE_MS, REACH_MS, WALK_MS } from './helpers/load.ts';
import { captureLogs } from './helpers/logs.ts';
import { peakRpcLoad, sortRows, startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(async () => {
  stack.simnet.setKnobs({ latencyMs: 0, unavailableRate: 0 });
  await stack.clearBackfills();
});

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

async function post(name: 'dex' | 'book' | 'token' | 'nft', from: number, to: number) {
  const response = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package(name).originalId, fromCheckpoint: from, toCheckpoint: to });
  expect(response.status).toBe(202);
  return response.body as { id: string };
}

const action = (id: string, verb: 'pause' | 'resume' | 'cancel', body?: unknown) => stack.call('POST', `/v1/backfills/${id}/${verb}`, body);
const truth = (name: 'dex' | 'book' | 'token' | 'nft', from: number, to: number) => stack.truth(stack.chain.package(name).originalId, 'outer', BigInt(from), BigInt(to));
const history = async (id: string) => (await transitionsOf(stack.database, id)).map((t) => [t.from, t.to, t.actor, t.reason]);
const rowsSum = async () => (await stack.database.sql<{ n: number }[]>`select coalesce(sum(rows_inserted), 0)::int as n from package_backfill_chunks`)[0].n;

/**
 * Returns while a slow chunk (about 600 ms of RPC) is being fetched: a few fast chunks first, then
 * slow RPCs, then one more commit so that the whole next chunk is slow.
 */
async function chunkInFlight(id: string): Promise<void> {
  stack.simnet.setKnobs({ latencyMs: 40 });
  await waitFor('two chunks', async () => (await chunksOf(stack.database, id)).length >= 2, REACH_MS);
  stack.simnet.setKnobs({ latencyMs: 300 });
  const committed = (await chunksOf(stack.database, id)).length;
  await waitFor('one more chunk', async () => (await chunksOf(stack.database, id)).length > committed, REACH_MS);
  await sleep(50);
}

/** An in-process worker whose log lines the test reads. */
async function workerWithLogs(overrides: Partial<Config>) {
  const { logger, lines } = captureLogs();
  const worker = await startWorker({ ...stack.common, logger, config: { ...stack.common.config, ...overrides } }, { db: stack.database, source: stack.source });
  return { worker, lines, logged: (msg: string) => lines.filter((line) => line.msg === msg) };
}

const RETRYING = 'chunk still failed after its retries; walking on from the watermark after a pause';

/** A request whose status is set directly through the lifecycle, without walking anything. */
async function requestIn(status: 'queued' | 'running' | 'completed', packageByte: string, from = 10n) {
  const packageId = `0x${packageByte.repeat(32)}`;
  const { request } = await createOrFindActiveRequest(stack.database.db, {
    packageId,
    requestedPackageId: packageId,
    familyIds: [packageId],
    match: 'outer',
    explicitFrom: from,
    explicitTo: from + 10n,
    fromCheckpoint: from,
    toCheckpoint: from + 10n,
  });
  if (status !== 'queued') expect(await claimRequest(stack.database.db, request.id, 'w-test', 30_000)).toBeDefined();
  if (status === 'completed') expect(await finishHeldRequest(stack.database.db, request.id, { workerId: 'w-test', attempts: 1 }, 'completed')).toBe(true);
  return request.id;
}

describe('operator routes', () => {
  it('answer 400 for a malformed id, 401 without the token, 404 for an unknown backfill', async () => {
    for (const verb of ['pause', 'resume', 'cancel'] as const) {
      const unknown = await action(UNKNOWN, verb);
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: { code: 'request_not_found', message: `no backfill request ${UNKNOWN}` } });
      expect((await action('nope', verb)).status).toBe(400);
      const anonymous = await stack.call('POST', `/v1/backfills/${UNKNOWN}/${verb}`, undefined, { authorization: '' });
      expect(anonymous.status).toBe(401);
    }
    expect((await stack.call('DELETE', `/v1/backfills/${UNKNOWN}`)).status).toBe(404);
    expect((await stack.call('DELETE', `/v1/backfills/${UNKNOWN}`, undefined, { authorization: '' })).status).toBe(401);
    const bogus = await action(UNKNOWN, 'pause', { bogus: 1 });
    expect(bogus.status).toBe(400);
    expect(bogus.body.error.message).toBe('body: unknown field(s) "bogus"');
  });

  it('answer 409 naming the allowed statuses when the current status does not allow the action', async () => {
    const completed = await requestIn('completed', 'c1');
    const expectations = [
      ['pause', `cannot pause backfill ${completed}: it is completed; only queued and running backfills can be paused`],
      ['resume', `cannot resume backfill ${completed}: it is completed; only paused, failed and cancelled backfills can be resumed`],
      ['cancel', `cannot cancel backfill ${completed}: it is completed; only queued, running and paused backfills can be cancelled`],
    ] as const;
    for (const [verb, message] of expectations) {
      const response = await action(completed, verb);
      expect(response.status).toBe(409);
      expect(response.body).toEqual({ error: { code: 'transition_not_allowed', message } });
    }
    const running = await requestIn('running', 'c2');
    const refused = await stack.call('DELETE', `/v1/backfills/${running}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      `cannot delete backfill ${running}: it is running; only completed, failed and cancelled backfills can be deleted (cancel it first)`,
    );
    const resumeRunning = await action(running, 'resume');
    expect(resumeRunning.body.error.message).toBe(`cannot resume backfill ${running}: it is running; only paused, failed and cancelled backfills can be resumed`);

    const deleted = await stack.call('DELETE', `/v1/backfills/${completed}`);
    expect(deleted.status).toBe(204);
    expect((await stack.call('GET', `/v1/backfills/${completed}`)).status).toBe(404);
    expect(await transitionsOf(stack.database, completed)).toEqual([]);
    // Nothing happened to what the refused requests hold.
    expect((await stack.call('GET', `/v1/backfills/${running}`)).body.status).toBe('running');
  });

  it('let exactly one of concurrent calls win each race, recording a consistent history', async () => {
    const { id } = await post('token', 300, 399);
    const pauses = await Promise.all(Array.from({ length: 6 }, () => action(id, 'pause')));
    expect(pauses.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    for (const lost of pauses.filter((r) => r.status === 409)) {
      expect(lost.body.error.message).toBe(`cannot pause backfill ${id}: it is paused; only queued and running backfills can be paused`);
    }
    const resumes = await Promise.all(Array.from({ length: 6 }, () => action(id, 'resume')));
    expect(resumes.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect(resumes.find((r) => r.status === 200)!.body).toMatchObject({ id, status: 'queued', enqueued: true });

    // A pause can win only before the cancel; exactly one cancel wins.
    const mixed = await Promise.all([...Array.from({ length: 3 }, () => action(id, 'pause')), ...Array.from({ length: 3 }, () => action(id, 'cancel'))]);
    expect(mixed.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const pausesWon = mixed.slice(0, 3).filter((r) => r.status === 200).length;
    expect(mixed.slice(3).filter((r) => r.status === 200)).toHaveLength(1);
    expect(pausesWon).toBeLessThanOrEqual(1);

    const view = (await stack.call('GET', `/v1/backfills/${id}`)).body;
    expect(view.status).toBe('cancelled');
    const transitions = await transitionsOf(stack.database, id);
    expect(isChain(transitions)).toBe(true);
    // Creation, the one pause, the one resume, and exactly the mixed calls that won.
    expect(transitions.map((t) => t.to)).toEqual(['queued', 'paused', 'queued', ...(pausesWon === 1 ? ['paused'] : []), 'cancelled']);
    expect(transitions.every((t) => t.actor === 'api')).toBe(true);
    expect(view.transitions.map((t: { to: string }) => t.to)).toEqual(transitions.map((t) => t.to));
  });

  it('race a pause against a resume: each call answers as the order Postgres chose allows, and the history says which', async () => {
    const { id } = await post('nft', 300, 399);
    const expected: string[] = ['queued'];
    for (let round = 0; round < 8; round++) {
      const [pause, resume] = await Promise.all([action(id, 'pause'), action(id, 'resume')]);
      // From queued: the pause always wins; the resume wins only when it came second.
      expect(pause.status).toBe(200);
      if (resume.status === 200) {
        expect(resume.body).toMatchObject({ id, status: 'queued', enqueued: true });
        expected.push('paused', 'queued');
      } else {
        expect(resume.status).toBe(409);
        expect(resume.body.error.message).toBe(`cannot resume backfill ${id}: it is queued; only paused, failed and cancelled backfills can be resumed`);
        expected.push('paused');
        expect((await action(id, 'resume')).status).toBe(200);
        expected.push('queued');
      }
    }
    const transitions = await transitionsOf(stack.database, id);
    expect(isChain(transitions)).toBe(true);
    expect(transitions.map((t) => t.to)).toEqual(expected);
  });

  it('race pauses and resumes against a live walk: it ends completed, each checkpoint walked once, the rows exact', async () => {
    stack.simnet.setKnobs({ latencyMs: 20 });
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 10, RECONCILE_INTERVAL_MS: 600_000 });
    try {
      const { id } = await post('token', 100, 499);
      for (let round = 0; round < 5; round++) {
        const committed = (await chunksOf(stack.database, id)).length;
        await waitFor('a chunk committed since the last round', async () => (await chunksOf(stack.database, id)).length > committed, REACH_MS);
        const [pause, resume] = await Promise.all([action(id, 'pause'), action(id, 'resume')]);
        expect(pause.status).toBe(200);
        expect([200, 409]).toContain(resume.status);
        if ((await stack.call('GET', `/v1/backfills/${id}`)).body.status === 'paused') expect((await action(id, 'resume')).status).toBe(200);
      }
      stack.simnet.setKnobs({ latencyMs: 0 });
      const done = await stack.waitForStatus(id, ['completed'], WALK_MS);
      const chunks = await chunksOf(stack.database, id);
      expect(tiling(chunks, 100n, 499n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('token', 100, 499));
      expect(done.rowsInserted).toBe(truth('token', 100, 499).length);
      const transitions = await transitionsOf(stack.database, id);
      expect(isChain(transitions)).toBe(true);
      expect(transitions.at(-1)).toMatchObject({ from: 'running', to: 'completed', actor: `worker:${worker.workerId}` });
      // Every claim came from a queued request (no takeover: one walk at a time), and each pause won once.
      expect(transitions.filter((t) => t.to === 'running').every((t) => t.from === 'queued')).toBe(true);
      expect(transitions.filter((t) => t.to === 'paused')).toHaveLength(5);
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('record the caller named in X-Actor as the actor, and refuse a malformed one', async () => {
    const created = await stack.call('POST', '/v1/backfills', { packageId: stack.chain.package('book').originalId, fromCheckpoint: 10, toCheckpoint: 20 }, { 'x-actor': 'alice@ops-host' });
    expect(created.status).toBe(202);
    const { id } = created.body;
    expect((await stack.call('POST', `/v1/backfills/${id}/pause`, { reason: 'window' }, { 'x-actor': 'bob' })).status).toBe(200);
    expect((await action(id, 'resume')).status).toBe(200);
    expect((await stack.call('POST', `/v1/backfills/${id}/cancel`, undefined, { 'x-actor': 'carol@laptop' })).status).toBe(200);
    expect((await history(id)).map(([from, to, actor]) => [from, to, actor])).toEqual([
      [null, 'queued', 'api:alice@ops-host'],
      ['queued', 'paused', 'api:bob'],
      ['paused', 'queued', 'api'],
      ['queued', 'cancelled', 'api:carol@laptop'],
    ]);
    for (const actor of ['x'.repeat(65), 'tab\there']) {
      const refused = await stack.call('POST', `/v1/backfills/${id}/resume`, undefined, { 'x-actor': actor });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        error: { code: 'invalid_request', message: 'x-actor: expected 1 to 64 printable ASCII characters, not starting or ending with a space' },
      });
    }
    expect((await stack.call('GET', `/v1/backfills/${id}`)).body.status).toBe('cancelled');
  });
});

describe('a walk steered by operators', () => {
  it('pause stops the walk with nothing committed after it; resume on another live replica continues from the watermark', async () => {
    // One job at a time each: the first, busy walking, does not wait for jobs meanwhile; the second
    // does, so BullMQ (which serves the longest-waiting worker) hands it the resumed job.
    const first = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, WORKER_CONCURRENCY: 1 });
    const { id } = await post('dex', 100, 499);
    await chunkInFlight(id);
    // Both replicas are live from here on; the first holds the walk.
    const second = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, WORKER_CONCURRENCY: 1 });
    try {
      const paused = await action(id, 'pause', { reason: 'maintenance' });
      expect(paused.status).toBe(200);
      expect(paused.body.status).toBe('paused');
      const atPause = await writtenSoFar(stack.database, id);
      await sleep(1_000);
      expect(await writtenSoFar(stack.database, id)).toEqual(atPause);
      stack.simnet.setKnobs({ latencyMs: 40 });

      const resumed = await action(id, 'resume');
      expect(resumed.status).toBe(200);
      expect(resumed.body).toMatchObject({ id, status: 'queued', enqueued: true });
      // Whichever replica takes the job continues; should the first take it again, pause and resume again.
      const claimer = async () =>
        waitFor('the claim after the resume', async () => {
          const { body } = await stack.call('GET', `/v1/backfills/${id}`);
          return body.status === 'running' || body.status === 'completed' ? body.transitions.findLast((t: { to: string }) => t.to === 'running').actor : undefined;
        }, REACH_MS);
      let rounds = 1;
      while ((await claimer()) !== `worker:${second.workerId}` && rounds < 10) {
        expect((await action(id, 'pause')).status).toBe(200);
        await waitFor('the job to end', async () => !(await stack.queue.hasJob(id)), REACH_MS);
        expect((await action(id, 'resume')).status).toBe(200);
        rounds++;
      }
      // The second replica walks on: nothing is left to race against, the rest may as well be fast.
      stack.simnet.setKnobs({ latencyMs: 0 });
      const done = await stack.waitForStatus(id, ['completed'], WALK_MS);

      const chunks = await chunksOf(stack.database, id);
      expect(walkers(chunks)).toEqual([first.workerId, second.workerId]);
      expect(chunks.find((chunk) => chunk.workerId === second.workerId)!.from).toBeGreaterThan(BigInt(atPause.hi));
      expect(tiling(chunks, 100n, 499n).ok).toBe(true);
      const expected = truth('dex', 100, 499);
      expect(await stack.objects()).toEqual(expected);
      expect(done.rowsInserted).toBe(expected.length);
      expect(await rowsSum()).toBe(expected.length);
      expect(done.attempts).toBe(rounds + 1);
      const steps = await history(id);
      expect(steps.slice(0, 4)).toEqual([
        [null, 'queued', 'api', null],
        ['queued', 'running', `worker:${first.workerId}`, 'claimed'],
        ['running', 'paused', 'api', 'maintenance'],
        ['paused', 'queued', 'api', null],
      ]);
      expect(steps.slice(-2)).toEqual([
        ['queued', 'running', `worker:${second.workerId}`, 'claimed'],
        ['running', 'completed', `worker:${second.workerId}`, 'walked to checkpoint 499'],
      ]);
      expect(steps).toHaveLength(4 + 3 * (rounds - 1) + 2);
      expect(done.transitions.map((t: { from: string; to: string; actor: string }) => [t.from, t.to, t.actor])).toEqual(steps.map(([from, to, actor]) => [from, to, actor]));
    } finally {
      await second.close();
      await first.close();
    }
  }, CASE_MS);

  it('cancel stops the walk with nothing committed after it; resume continues it as a new backfill from its watermark', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
    try {
      const { id } = await post('book', 200, 599);
      await chunkInFlight(id);
      const cancelled = await action(id, 'cancel');
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      expect(cancelled.body.finishedAt).not.toBeNull();
      const atCancel = await writtenSoFar(stack.database, id);
      await sleep(1_000);
      expect(await writtenSoFar(stack.database, id)).toEqual(atCancel);
      stack.simnet.setKnobs({ latencyMs: 0 });
      const hi = BigInt(atCancel.hi);
      expect(hi).toBeLessThan(599n);

      const resumed = await action(id, 'resume');
      expect(resumed.status).toBe(202);
      const next = resumed.body;
      expect(next).toMatchObject({ status: 'queued', resumedFromId: id, fromCheckpoint: String(hi + 1n), toCheckpoint: '599', match: 'outer', enqueued: true });
      expect(next.id).not.toBe(id);
      await stack.waitForStatus(next.id, ['completed'], WALK_MS);

      const expected = truth('book', 200, 599);
      expect(await stack.objects()).toEqual(expected);
      expect(await rowsSum()).toBe(expected.length);
      expect(tiling(await chunksOf(stack.database, id), 200n, hi).ok).toBe(true);
      expect(tiling(await chunksOf(stack.database, next.id), hi + 1n, 599n).ok).toBe(true);
      expect((await stack.call('GET', `/v1/backfills/${id}`)).body.status).toBe('cancelled');
      expect(await history(next.id)).toEqual([
        [null, 'queued', 'api', `continues cancelled backfill ${id} from its watermark ${hi}`],
        ['queued', 'running', `worker:${worker.workerId}`, 'claimed'],
        ['running', 'completed', `worker:${worker.workerId}`, 'walked to checkpoint 599'],
      ]);
      expect((await history(id)).slice(-1)).toEqual([['running', 'cancelled', 'api', null]]);

      // Resuming the cancelled one again finds its continuation; a completed one cannot be resumed.
      const again = await action(id, 'resume');
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(next.id);
      expect((await action(next.id, 'resume')).status).toBe(409);

      // Deleting the finished requests leaves their rows.
      expect((await stack.call('DELETE', `/v1/backfills/${id}`)).status).toBe(204);
      expect(await stack.objects()).toEqual(expected);
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('a chunk failing after its retries fails the request with its range and attempts, keeping the watermark; resume finishes it', async () => {
    stack.simnet.setKnobs({ latencyMs: 20 });
    // One more try of the failing chunk, soon: its RPC attempts add up.
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, BACKFILL_CHUNK_RETRIES: 1, BACKFILL_CHUNK_RETRY_BASE_MS: 100 });
    try {
      const { id } = await post('nft', 100, 699);
      await waitFor('three chunks', async () => (await chunksOf(stack.database, id)).length >= 3, REACH_MS);
      stack.simnet.setKnobs({ unavailableRate: 1 });
      const failed = await stack.waitForStatus(id, ['failed'], WALK_MS);
      stack.simnet.setKnobs({ unavailableRate: 0, latencyMs: 0 });

      const chunks = await chunksOf(stack.database, id);
      const hi = chunks[chunks.length - 1].to;
      expect(failed.watermark.checkpointHiInclusive).toBe(String(hi));
      expect(tiling(chunks, 100n, hi).ok).toBe(true);
      const end = hi + 20n < 699n ? hi + 20n : 699n;
      expect(failed.lastErrorDetail).toEqual({
        stage: 'fetch',
        chunk: { fromCheckpoint: String(hi + 1n), toCheckpoint: String(end) },
        // Four RPC attempts (RPC_MAX_RETRIES 3) in each of the chunk's two tries.
        attempts: 8,
        code: 'rpc_unavailable',
      });
      expect(failed.lastError).toMatch(new RegExp(`^chunk \\[${hi + 1n}, ${end}\\] failed \\(fetch, 8 attempt\\(s\\)\\): `));

      // The detail view's chunk log is the newest ten of the log; the chunks route pages through all of it.
      const chunkViews = (rows: typeof chunks) =>
        rows.map((chunk) => ({ fromCheckpoint: String(chunk.from), toCheckpoint: String(chunk.to), rowsInserted: chunk.rowsInserted, workerId: chunk.workerId }));
      const newestFirst = chunkViews([...chunks].reverse());
      const pick = (views: Record<string, unknown>[]) => views.map(({ fromCheckpoint, toCheckpoint, rowsInserted, workerId }) => ({ fromCheckpoint, toCheckpoint, rowsInserted, workerId }));
      expect(pick(failed.recentChunks)).toEqual(newestFirst.slice(0, 10));
      const paged: Record<string, unknown>[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: { items: Record<string, unknown>[]; nextCursor: string | null } } = await stack.call(
          'GET',
          `/v1/backfills/${id}/chunks?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        paged.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(pick(paged)).toEqual(newestFirst);
      expect(Object.keys(paged[0]).sort()).toEqual(['durationMs', 'finishedAt', 'fromCheckpoint', 'objectsMatched', 'rowsInserted', 'rpcCalls', 'toCheckpoint', 'workerId']);

      const resumed = await action(id, 'resume');
      expect(resumed.status).toBe(200);
      expect(resumed.body).toMatchObject({ status: 'queued', enqueued: true });
      const done = await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(await stack.objects()).toEqual(truth('nft', 100, 699));
      expect(done.rowsInserted).toBe(truth('nft', 100, 699).length);
      expect((await history(id)).map(([from, to, actor]) => [from, to, actor])).toEqual([
        [null, 'queued', 'api'],
        ['queued', 'running', `worker:${worker.workerId}`],
        ['running', 'failed', `worker:${worker.workerId}`],
        ['failed', 'queued', 'api'],
        ['queued', 'running', `worker:${worker.workerId}`],
        ['running', 'completed', `worker:${worker.workerId}`],
      ]);
    } finally {
      await worker.close();
    }
  }, CASE_MS);
});

describe('jobs and walks of one worker', () => {
  it('a resume while the job waits delayed behind a holder found beating: the walk restarts at once, not when the delay ends', async () => {
    const { id } = await post('token', 100, 299);
    // A holder that beat a moment ago; the worker that gets the job must wait for it to go stale (30 s).
    expect(await claimRequest(stack.database.db, id, 'otherhost:1:busy', 30_000)).toBeDefined();
    const { worker, logged } = await workerWithLogs({ BACKFILL_CHUNK_SIZE: 50, STALE_AFTER_MS: 30_000, HEARTBEAT_INTERVAL_MS: 1_000 });
    try {
      await waitFor('the job delayed', async () => (await stack.queue.queue.getJobState(id)) === 'delayed', REACH_MS);
      expect(logged('request is held by a worker whose heartbeat is fresh; job delayed until it would be stale')[0]).toMatchObject({ holder: 'otherhost:1:busy' });
      expect((await action(id, 'pause')).status).toBe(200);
      const resumedAt = Date.now();
      expect((await action(id, 'resume')).body).toMatchObject({ status: 'queued', enqueued: true });
      await waitFor('the claim', async () => (await transitionsOf(stack.database, id)).some((t) => t.actor === `worker:${worker.workerId}`), 10_000);
      expect(Date.now() - resumedAt).toBeLessThan(3_000);
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(await stack.objects()).toEqual(truth('token', 100, 299));
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('a job delivered as the worker begins to close is handed back unclaimed, for the next worker to take', async () => {
    const closing = createBackfillWorker({ ...stack.common, config: { ...stack.common.config, BACKFILL_CHUNK_SIZE: 20 } }, { db: stack.database, source: stack.source, queue: stack.queue });
    let next: Awaited<ReturnType<Stack['startWorker']>> | undefined;
    let closed: Promise<void> | undefined;
    // The moment BullMQ has made the job active, before the worker looks at it.
    closing.worker.on('active', () => {
      closed ??= closing.close();
    });
    try {
      const { id } = await post('book', 100, 299);
      await waitFor('the close to begin', async () => closed !== undefined, REACH_MS);
      await closed;
      expect((await stack.call('GET', `/v1/backfills/${id}`)).body).toMatchObject({ status: 'queued', attempts: 0, recentChunks: [] });
      expect((await history(id)).map(([from, to]) => [from, to])).toEqual([[null, 'queued']]);
      expect(await stack.queue.queue.getJobState(id)).toBe('waiting');

      next = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, RECONCILE_INTERVAL_MS: 600_000 });
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect((await history(id)).map(([from, to]) => [from, to])).toEqual([
        [null, 'queued'],
        ['queued', 'running'],
        ['running', 'completed'],
      ]);
      expect(await stack.objects()).toEqual(truth('book', 100, 299));
    } finally {
      await closing.close();
      await next?.close();
    }
  }, CASE_MS);

  it('follows the calls in flight an operator allows with PUT /v1/config/rpc while it walks', async () => {
    stack.simnet.setKnobs({ latencyMs: 30 });
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 50, WORKER_CONCURRENCY: 1 });
    const sample = (ms: number) => peakRpcLoad(stack, ms);
    try {
      expect((await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 4 })).status).toBe(200);
      const { id } = await post('nft', 100, 1_199);
      await waitFor('a first chunk', async () => (await chunksOf(stack.database, id)).length >= 1, REACH_MS);
      // The walk asks no more than the budget lets through: nothing waits in the budget's queue.
      expect(await sample(1_000)).toEqual({ inFlight: 4, queued: 0 });
      expect((await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 40 })).status).toBe(200);
      await sleep(300);
      // More than the environment's RPC_CONCURRENCY (16) the walk started with.
      expect((await sample(1_000)).inFlight).toBeGreaterThan(16);
      stack.simnet.setKnobs({ latencyMs: 0 });
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(await stack.objects()).toEqual(truth('nft', 100, 1_199));
    } finally {
      await stack.call('DELETE', '/v1/config/rpc');
      await worker.close();
    }
  }, CASE_MS);
});

describe('a walk through an RPC outage', () => {
  it('outlasting the RPC retries: the chunk is tried again from the watermark, beating the heartbeat, and the backfill completes exactly', async () => {
    stack.simnet.setKnobs({ latencyMs: 10 });
    // The RPC gives up within about a second (RPC_MAX_RETRIES 3); the walk's tries span 0.25 + 0.5 + ... seconds.
    const { worker, logged } = await workerWithLogs({ BACKFILL_CHUNK_SIZE: 20, BACKFILL_CHUNK_RETRIES: 6, BACKFILL_CHUNK_RETRY_BASE_MS: 250 });
    try {
      const { id } = await post('book', 100, 599);
      await waitFor('three chunks', async () => (await chunksOf(stack.database, id)).length >= 3, REACH_MS);
      stack.simnet.setKnobs({ unavailableRate: 1 });
      // Longer than STALE_AFTER_MS, and through three tries (each try's RPC attempts take longer on a loaded machine).
      await sleep(4_500);
      await waitFor('three tries of the chunk', async () => logged(RETRYING).length >= 3, REACH_MS);
      // All along: running, held, its heartbeat fresh.
      const [held] = await stack.database.sql`
        select status, worker_id, (now() - heartbeat_at) < make_interval(secs => 1.5) as fresh from package_backfill_requests where id = ${id}`;
      expect(held).toEqual({ status: 'running', worker_id: worker.workerId, fresh: true });
      stack.simnet.setKnobs({ unavailableRate: 0 });
      const done = await stack.waitForStatus(id, ['completed', 'failed'], WALK_MS);
      expect([done.status, done.lastError]).toEqual(['completed', null]);

      const chunks = await chunksOf(stack.database, id);
      expect(tiling(chunks, 100n, 599n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('book', 100, 599));
      expect(await rowsSum()).toBe(truth('book', 100, 599).length);
      const retries = logged(RETRYING);
      expect(retries.length).toBeGreaterThanOrEqual(3);
      // Each try of the same chunk, waiting twice as long as the one before.
      expect(retries.map(({ retry, delayMs }) => [retry, delayMs])).toEqual(retries.map((_, i) => [i + 1, 250 * 2 ** i]));
      // The same chunk every time, its RPC attempts adding up (four a try), and committed in the end.
      expect(retries.every((line) => line.from === retries[0].from && line.stage === 'fetch' && line.attempts === 4 * (line.retry as number))).toBe(true);
      expect(chunks.some((chunk) => chunk.from === BigInt(retries[0].from as number))).toBe(true);
      expect((await history(id)).map(([from, to]) => [from, to])).toEqual([
        [null, 'queued'],
        ['queued', 'running'],
        ['running', 'completed'],
      ]);
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('an operator pause, and a shutdown, end the pause before the next try at once', async () => {
    stack.simnet.setKnobs({ latencyMs: 10 });
    const first = await workerWithLogs({ BACKFILL_CHUNK_SIZE: 20, BACKFILL_CHUNK_RETRY_BASE_MS: 20_000 });
    let second: Awaited<ReturnType<typeof workerWithLogs>> | undefined;
    try {
      const { id } = await post('dex', 100, 499);
      await waitFor('two chunks', async () => (await chunksOf(stack.database, id)).length >= 2, REACH_MS);
      stack.simnet.setKnobs({ unavailableRate: 1 });
      await waitFor('the pause before the next try', async () => first.logged(RETRYING).length === 1, REACH_MS);
      expect(first.logged(RETRYING)[0]).toMatchObject({ retry: 1, of: 5, delayMs: 20_000 });
      const pausedAt = Date.now();
      expect((await action(id, 'pause')).status).toBe(200);
      await waitFor('the job to end', async () => !(await stack.queue.hasJob(id)), 5_000);
      expect(Date.now() - pausedAt).toBeLessThan(2_000);
      expect((await stack.call('GET', `/v1/backfills/${id}`)).body).toMatchObject({ status: 'paused', lastError: null });

      expect((await action(id, 'resume')).status).toBe(200);
      await waitFor('the pause before the next try of the resumed walk', async () => first.logged(RETRYING).length === 2, REACH_MS);
      // A new walk counts its tries from the first again.
      expect(first.logged(RETRYING)[1]).toMatchObject({ retry: 1, delayMs: 20_000 });
      const closing = Date.now();
      await first.worker.close();
      expect(Date.now() - closing).toBeLessThan(3_000);
      const transitions = await transitionsOf(stack.database, id);
      expect(transitions.at(-1)).toMatchObject({ from: 'running', to: 'queued', reason: 'worker shutting down' });

      stack.simnet.setKnobs({ unavailableRate: 0 });
      second = await workerWithLogs({ BACKFILL_CHUNK_SIZE: 20 });
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(tiling(await chunksOf(stack.database, id), 100n, 499n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('dex', 100, 499));
    } finally {
      await first.worker.close();
      await second?.worker.close();
    }
  }, CASE_MS);
});

describe('stopping and resuming a walk in flight', () => {
  it('a pause reaches the replica walking the request at once: the chunk in flight is abandoned, never committed', async () => {
    // Heartbeats far apart: only the stop message can end the walk before the slow chunk is fetched.
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 1, HEARTBEAT_INTERVAL_MS: 10_000, STALE_AFTER_MS: 30_000 });
    try {
      const { id } = await post('nft', 100, 139);
      await waitFor('three chunks', async () => (await chunksOf(stack.database, id)).length >= 3, REACH_MS);
      // From the next commit on, the checkpoint being fetched takes 3 s to arrive.
      stack.simnet.setKnobs({ latencyMs: 3_000 });
      const committed = (await chunksOf(stack.database, id)).length;
      await waitFor('one more chunk', async () => (await chunksOf(stack.database, id)).length > committed, REACH_MS, 10);
      const pausedAt = Date.now();
      expect((await action(id, 'pause')).status).toBe(200);
      // Once the pause is committed no chunk can commit (the fence); a chunk fetched before it may have.
      const atPause = await writtenSoFar(stack.database, id);
      await waitFor('the job to end', async () => !(await stack.queue.hasJob(id)), 10_000, 10);
      expect(Date.now() - pausedAt).toBeLessThan(1_500);
      // Past the moment the abandoned chunk would have arrived and committed.
      await sleep(3_000);
      expect(await writtenSoFar(stack.database, id)).toEqual(atPause);

      stack.simnet.setKnobs({ latencyMs: 0 });
      expect((await action(id, 'resume')).status).toBe(200);
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(tiling(await chunksOf(stack.database, id), 100n, 139n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('nft', 100, 139));
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('a pause and a resume before the walking job has ended: the walk continues at once, not at the next reconcile', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, RECONCILE_INTERVAL_MS: 600_000 });
    try {
      const { id } = await post('book', 100, 399);
      await chunkInFlight(id);
      // What the routes do, minus the stop message: the resume's job is added while the walk's job is still active.
      await pauseRequest(stack.database.db, id, { actor: 'api' });
      await resumeRequest(stack.database.db, id, { actor: 'api' });
      await stack.queue.enqueue(id);
      const resumedAt = Date.now();
      await waitFor('the second claim', async () => (await transitionsOf(stack.database, id)).filter((t) => t.to === 'running').length === 2, 10_000);
      expect(Date.now() - resumedAt).toBeLessThan(5_000);
      stack.simnet.setKnobs({ latencyMs: 0 });
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(tiling(await chunksOf(stack.database, id), 100n, 399n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('book', 100, 399));
      expect((await history(id)).map(([from, to]) => [from, to])).toEqual([
        [null, 'queued'],
        ['queued', 'running'],
        ['running', 'paused'],
        ['paused', 'queued'],
        ['queued', 'running'],
        ['running', 'completed'],
      ]);
    } finally {
      await worker.close();
    }
  }, CASE_MS);

  it('resume of a cancelled backfill whose continuation was cancelled too continues the newest one from its watermark', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
    try {
      const { id: first } = await post('dex', 200, 599);
      await chunkInFlight(first);
      expect((await action(first, 'cancel')).status).toBe(200);
      const second = (await action(first, 'resume')).body;
      expect(second).toMatchObject({ status: 'queued', resumedFromId: first });
      await chunkInFlight(second.id);
      expect((await action(second.id, 'cancel')).status).toBe(200);
      const secondHi = BigInt((await stack.call('GET', `/v1/backfills/${second.id}`)).body.watermark.checkpointHiInclusive);
      expect(secondHi).toBeGreaterThanOrEqual(BigInt(second.fromCheckpoint));

      stack.simnet.setKnobs({ latencyMs: 0 });
      const resumed = await action(first, 'resume');
      expect(resumed.status).toBe(202);
      const third = resumed.body;
      expect(third).toMatchObject({ status: 'queued', resumedFromId: second.id, fromCheckpoint: String(secondHi + 1n), toCheckpoint: '599', enqueued: true });
      await stack.waitForStatus(third.id, ['completed'], WALK_MS);
      // Resuming any of the chain again finds the completed newest one.
      for (const id of [first, second.id]) {
        const again = await action(id, 'resume');
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ id: third.id, status: 'completed' });
      }
      expect(tiling(await chunksOf(stack.database, third.id), secondHi + 1n, 599n).ok).toBe(true);
      expect(await stack.objects()).toEqual(truth('dex', 200, 599));
      expect(await rowsSum()).toBe(truth('dex', 200, 599).length);
    } finally {
      await worker.close();
    }
  }, CASE_MS);
});

describe('database errors in a walk', () => {
  /** Real Postgres errors of a chosen SQLSTATE, raised by triggers the test installs (and always removes). */
  async function withFaults(sql: string, run: () => Promise<void>) {
    await stack.database.sql.unsafe(sql);
    try {
      await run();
    } finally {
      await stack.database.sql.unsafe(`
        drop trigger if exists test_fault on package_backfill_chunks;
        drop trigger if exists test_fault on package_backfill_requests;
        drop trigger if exists test_fault on package_backfill_watermarks;
        drop function if exists test_fault();
        drop sequence if exists test_faults;
        drop sequence if exists test_completion_faults;`);
    }
  }

  it('a deadlock in a chunk commit and serialization failures recording the completion are retried; the backfill completes', async () => {
    await withFaults(
      `create sequence test_faults;
       create sequence test_completion_faults;
       create function test_fault() returns trigger language plpgsql as $$
       begin
         -- Nested: a condition on a column of one table must not be evaluated for the other.
         if tg_table_name = 'package_backfill_chunks' then
           if new.from_checkpoint = 140 and nextval('test_faults') = 1 then raise exception 'test: deadlock' using errcode = '40P01'; end if;
         elsif new.status = 'completed' then
           if nextval('test_completion_faults') <= 2 then raise exception 'test: serialization failure' using errcode = '40001'; end if;
         end if;
         return new;
       end $$;
       create trigger test_fault before insert on package_backfill_chunks for each row execute function test_fault();
       create trigger test_fault before update on package_backfill_requests for each row execute function test_fault();`,
      async () => {
        const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
        try {
          const { id } = await post('token', 100, 199);
          const done = await stack.waitForStatus(id, ['completed', 'failed'], WALK_MS);
          expect([done.status, done.lastError, done.lastErrorDetail]).toEqual(['completed', null, null]);
          const [faults] = await stack.database.sql`select (select last_value::int from test_faults) as commits, (select last_value::int from test_completion_faults) as completions`;
          // One commit refused then retried; two completions refused, the third recorded.
          expect(faults).toEqual({ commits: 2, completions: 3 });
          expect((await history(id)).map(([from, to]) => [from, to])).toEqual([
            [null, 'queued'],
            ['queued', 'running'],
            ['running', 'completed'],
          ]);
          expect(tiling(await chunksOf(stack.database, id), 100n, 199n).ok).toBe(true);
          expect(await stack.objects()).toEqual(truth('token', 100, 199));
        } finally {
          await worker.close();
        }
      },
    );
  }, CASE_MS);

  it('a job failing outside the walk (its claim refused) is logged, and its request still queued gets a job again at once', async () => {
    await withFaults(
      `create sequence test_faults;
       create function test_fault() returns trigger language plpgsql as $$
       begin
         if old.status = 'queued' and new.status = 'running' and nextval('test_faults') = 1 then raise exception 'test: claim refused' using errcode = '22023'; end if;
         return new;
       end $$;
       create trigger test_fault before update on package_backfill_requests for each row execute function test_fault();`,
      async () => {
        // No reconciler round to fall back on: only the job's own failure handling can enqueue it again.
        const { worker, logged } = await workerWithLogs({ BACKFILL_CHUNK_SIZE: 50, RECONCILE_INTERVAL_MS: 600_000 });
        try {
          const { id } = await post('nft', 300, 399);
          // Far sooner than a reconcile round (10 minutes away), however loaded the machine.
          await stack.waitForStatus(id, ['completed'], REACH_MS);
          expect(logged('backfill job failed')).toEqual([expect.objectContaining({ requestId: id, workerId: worker.workerId, err: 'test: claim refused', code: '22023', level: 50 })]);
          expect(logged('request is queued without a job now that its job ended; enqueued it anew')).toEqual([expect.objectContaining({ requestId: id })]);
          expect((await history(id)).map(([from, to]) => [from, to])).toEqual([
            [null, 'queued'],
            ['queued', 'running'],
            ['running', 'completed'],
          ]);
          expect(await stack.objects()).toEqual(truth('nft', 300, 399));
        } finally {
          await worker.close();
        }
      },
    );
  }, CASE_MS);

  it('an error outside any chunk fails the request saying where and with which code; resume finishes it', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 50 });
    try {
      let id = '';
      await withFaults(
        `create function test_fault() returns trigger language plpgsql as $$
         begin raise exception 'test: refused' using errcode = '22023'; end $$;
         create trigger test_fault before insert on package_backfill_watermarks for each row execute function test_fault();`,
        async () => {
          id = (await post('nft', 300, 399)).id;
          const failed = await stack.waitForStatus(id, ['failed'], WALK_MS);
          expect(failed.lastError).toBe('test: refused');
          expect(failed.lastErrorDetail).toEqual({ stage: 'start', range: { fromCheckpoint: '300', toCheckpoint: '399' }, code: '22023' });
        },
      );
      expect((await action(id, 'resume')).status).toBe(200);
      await stack.waitForStatus(id, ['completed'], WALK_MS);
      expect(await stack.objects()).toEqual(truth('nft', 300, 399));
    } finally {
      await worker.close();
    }
  }, CASE_MS);
});

describe('GET /v1/packages/:packageId/watermark', () => {
  it('is the coverage of every backfill of the family from its publish checkpoint, found by any ID of the family', async () => {
    const dex = stack.chain.package('dex');
    const [original, upgraded, newest] = dex.versions.map((version) => version.id);
    const publish = Number(dex.versions[0].publishCheckpoint);
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 50 });
    try {
      const backfill = async (packageId: string, from: number, to: number) => {
        const response = await stack.call('POST', '/v1/backfills', { packageId, fromCheckpoint: from, toCheckpoint: to });
        expect(response.status).toBe(202);
        await stack.waitForStatus(response.body.id, ['completed'], WALK_MS);
        return response.body.id as string;
      };
      const watermark = async (packageId: string, query = '') => (await stack.call('GET', `/v1/packages/${packageId}/watermark${query}`)).body;
      const contributor = (id: string, from: number, to: number) => ({
        id,
        status: 'completed',
        fromCheckpoint: String(from),
        toCheckpoint: String(to),
        checkpointHiInclusive: String(to),
        doneRanges: `{[${from},${to + 1})}`,
      });

      const a = await backfill(newest, publish, publish + 99);
      expect(await watermark(upgraded)).toEqual({
        packageId: upgraded,
        originalPackageId: original,
        match: 'outer',
        publishCheckpoint: String(publish),
        checkpointHiInclusive: String(publish + 99),
        doneRanges: `{[${publish},${publish + 100})}`,
        requests: [contributor(a, publish, publish + 99)],
      });

      // A later backfill past a gap is not the package's watermark: the coverage stops at the gap.
      const b = await backfill(original, publish + 200, publish + 299);
      expect(await watermark(newest)).toMatchObject({
        checkpointHiInclusive: String(publish + 99),
        doneRanges: `{[${publish},${publish + 100}),[${publish + 200},${publish + 300})}`,
        requests: [contributor(b, publish + 200, publish + 299), contributor(a, publish, publish + 99)],
      });
      const c = await backfill(upgraded, publish + 100, publish + 199);
      expect(await watermark(original)).toMatchObject({
        checkpointHiInclusive: String(publish + 299),
        doneRanges: `{[${publish},${publish + 300})}`,
        requests: [contributor(c, publish + 100, publish + 199), contributor(b, publish + 200, publish + 299), contributor(a, publish, publish + 99)],
      });
      const anywhere = await stack.call('GET', `/v1/packages/${upgraded}/watermark?match=anywhere`);
      expect(anywhere.status).toBe(404);
      expect(anywhere.body).toEqual({ error: { code: 'no_backfill', message: `no anywhere backfill of package ${upgraded} (or of its family) was requested` } });
    } finally {
      await worker.close();
    }
  }, CASE_MS);
});

describe('a worker starting up', () => {
  it('takes over requests left running by a dead worker, enqueues queued ones without a job, and ends jobs of paused or cancelled ones without looping', async () => {
    const dead = await post('dex', 700, 799);
    const orphan = await post('book', 700, 799);
    const cancelled = await post('nft', 700, 799);
    const paused = await post('token', 700, 799);
    // A worker that claimed `dead` and died an hour ago, its job lost with it; `orphan` lost its job too.
    expect(await claimRequest(stack.database.db, dead.id, 'deadhost:1:dead', 30_000)).toBeDefined();
    await stack.database.sql`update package_backfill_requests set heartbeat_at = now() - interval '1 hour' where id = ${dead.id}`;
    await stack.queue.queue.remove(dead.id);
    await stack.queue.queue.remove(orphan.id);
    expect((await action(cancelled.id, 'cancel')).status).toBe(200);
    expect((await action(paused.id, 'pause')).status).toBe(200);
    expect(await Promise.all([dead, orphan, cancelled, paused].map((r) => stack.queue.hasJob(r.id)))).toEqual([false, false, true, true]);

    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 50 });
    try {
      await stack.waitForStatus(dead.id, ['completed'], WALK_MS);
      await stack.waitForStatus(orphan.id, ['completed'], WALK_MS);
      await waitFor('the jobs of paused and cancelled requests to end', async () => !(await stack.queue.hasJob(cancelled.id)) && !(await stack.queue.hasJob(paused.id)), REACH_MS);
      // Two reconcile rounds later nothing has come back.
      await sleep(1_200);
      for (const { id } of [cancelled, paused]) {
        expect(await stack.queue.hasJob(id)).toBe(false);
        const view = (await stack.call('GET', `/v1/backfills/${id}`)).body;
        expect(view.attempts).toBe(0);
        expect(view.recentChunks).toEqual([]);
        expect(view.transitions).toHaveLength(2);
      }
      const takeover = await history(dead.id);
      expect(takeover.map(([from, to, actor]) => [from, to, actor])).toEqual([
        [null, 'queued', 'api'],
        ['queued', 'running', 'worker:deadhost:1:dead'],
        ['running', 'running', `worker:${worker.workerId}`],
        ['running', 'completed', `worker:${worker.workerId}`],
      ]);
      expect(takeover[2][3]).toMatch(/^took over from deadhost:1:dead, silent since \d{4}-/);

      expect((await action(paused.id, 'resume')).status).toBe(200);
      await stack.waitForStatus(paused.id, ['completed'], WALK_MS);
      expect((await stack.call('GET', `/v1/backfills/${cancelled.id}`)).body.status).toBe('cancelled');
      expect(await stack.objects()).toEqual(sortRows([...truth('dex', 700, 799), ...truth('book', 700, 799), ...truth('token', 700, 799)]));
    } finally {
      await worker.close();
    }
  }, CASE_MS);
});

describe('GET /v1/backfills', () => {
  it('filters by status and package, newest first, and pages with a cursor', async () => {
    const ids = [await requestIn('queued', 'a1', 10n), await requestIn('queued', 'a1', 30n), await requestIn('running', 'a2'), await requestIn('queued', 'a2', 50n), await requestIn('completed', 'a3')];
    await pauseRequest(stack.database.db, ids[1], { actor: 'api' });
    await cancelRequest(stack.database.db, ids[3], { actor: 'api' });
    const newestFirst = [...ids].reverse();

    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await stack.call(
        'GET',
        `/v1/backfills?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      sizes.push(page.body.items.length);
      seen.push(...page.body.items.map((item) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(newestFirst);

    const ids_ = async (query: string) => ((await stack.call('GET', `/v1/backfills?${query}`)).body.items as { id: string }[]).map((item) => item.id);
    expect(await ids_('status=paused')).toEqual([ids[1]]);
    expect(await ids_('status=queued')).toEqual([ids[0]]);
    expect(await ids_(`packageId=0x${'a1'.repeat(32)}`)).toEqual([ids[1], ids[0]]);
    expect(await ids_(`packageId=0x${'a2'.repeat(32)}&status=cancelled`)).toEqual([ids[3]]);
    expect(await ids_(`packageId=0x${'a2'.repeat(32)}&status=completed`)).toEqual([]);
    const metrics = (await (await fetch(`${stack.api.url}/metrics`)).text()).split('\n').filter((line) => line.startsWith('sui_backfill_requests{'));
    expect(metrics.sort()).toEqual(
      ['cancelled 1', 'completed 1', 'failed 0', 'paused 1', 'queued 1', 'running 1'].map((pair) => `sui_backfill_requests{status="${pair.split(' ')[0]}"} ${pair.split(' ')[1]}`),
    );
    expect((await stack.call('GET', '/v1/backfills?cursor=bogus')).status).toBe(400);
    expect((await stack.call('GET', '/v1/backfills?status=bogus')).status).toBe(400);
    expect((await stack.call('GET', '/v1/backfills?limit=0')).status).toBe(400);
  });

  it('pages without skipping requests created within the same millisecond', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await requestIn('queued', 'b1', BigInt(10 + 20 * i)));
    // Microseconds apart, all in one millisecond; the ids in descending order of time.
    await stack.database.sql`
      update package_backfill_requests r set created_at = '2026-01-01T00:00:00.123Z'::timestamptz + make_interval(secs => n.i / 1e6)
      from (select id, row_number() over (order by created_at) as i from package_backfill_requests) n where n.id = r.id`;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string; createdAt: string }[]; nextCursor: string | null } } = await stack.call('GET', `/v1/backfills?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((item) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });
});
