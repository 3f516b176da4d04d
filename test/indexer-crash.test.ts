import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { getTracking } from '../src/indexer/registry.ts';
import { readWatermark } from '../src/indexer/watermark.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { CASE_TIMEOUT_MS, indexerPast, noIndexerRunning, PATIENCE_MS, startedTracking } from './helpers/indexer.ts';
import { createSpawnedSet, spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { startStack, type Stack, type StackOptions } from './helpers/stack.ts';

let stack: Stack | undefined;
const processes = createSpawnedSet();
afterEach(async () => {
  await processes.killAll();
  await stack?.close();
  stack = undefined;
});

function indexer(s: Stack, args: string[], env: Record<string, string> = {}): Spawned {
  return processes.track(spawnCli(['indexer', '--no-migrate', ...args], { ...s.env, LOG_LEVEL: 'debug', INDEXER_POLL_INTERVAL_MS: '50', ...env }));
}

/** The `indexer batch fetching` lines a process logged so far (LOG_LEVEL debug), oldest first. */
function batchesStarted(spawned: Spawned): { from: bigint; to: bigint }[] {
  return spawned
    .output()
    .split('\n')
    .filter((line) => line.includes('"indexer batch fetching"'))
    .map((line) => JSON.parse(line) as { from: number; to: number })
    .map((line) => ({ from: BigInt(line.from), to: BigInt(line.to) }));
}

describe('live indexer crash', { timeout: CASE_TIMEOUT_MS }, () => {
  it('a kill -9 in the middle of a batch loses only that uncommitted batch; the restart neither loses nor duplicates rows', async () => {
    const s = (stack = await startStack({ chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 20 } }));
    // Started well behind the tip, the indexer always has a full batch to fetch: never idle at the tip.
    const start = () => indexer(s, ['--first-checkpoint', '1000'], { INDEXER_BATCH_SIZE: '7' });
    let running = start();
    await waitForOutput(running, 'indexer starting', PATIENCE_MS);
    await s.startWorker();
    const token = s.chain.package('token');
    const posted = await s.call('POST', '/v1/backfills', { packageId: token.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const coverageStart = BigInt(posted.body.toCheckpoint) + 1n;
    expect(coverageStart).toBeGreaterThan(token.versions[0].publishCheckpoint);
    await s.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);

    const seen: bigint[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const watermark = await readWatermark(s.database.sql);
        if (watermark) seen.push(watermark.checkpointHiInclusive);
        await sleep(15);
      }
    })();

    // Every RPC takes 500 ms: a batch is in flight, uncommitted, for at least that long after it starts.
    s.simnet.setKnobs({ latencyMs: 500 });
    let seed = 7;
    for (let kill = 0; kill < 3; kill++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      await sleep(200 + (seed % 400));
      const before = batchesStarted(running).length;
      const batch = await waitFor('a batch to start', async () => batchesStarted(running)[before], PATIENCE_MS, 10);
      running.kill('SIGKILL');
      expect((await running.exited).signal).toBe('SIGKILL');
      // The batch in flight was not committed; everything before it was.
      expect((await readWatermark(s.database.sql))?.checkpointHiInclusive).toBe(batch.from - 1n);
      await noIndexerRunning(s);
      running = start();
      await waitForOutput(running, 'indexer starting', PATIENCE_MS);
      expect(running.output()).toContain(`"next":${batch.from},"resumed":true`);
    }
    s.simnet.setKnobs({ latencyMs: 0 });
    const later = await indexerPast(s, (await readWatermark(s.database.sql))!.checkpointHiInclusive + 40n);
    sampling = false;
    await sampler;

    expect(seen.length).toBeGreaterThan(20);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const truth = s.truth(token.originalId, 'anywhere', s.chain.publishCheckpoint(token.originalId), later);
    expect((await s.objects()).filter((row) => row.checkpoint <= later)).toEqual(truth);

    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('a kill -9 in the middle of a backfill, the tip advancing every 50 ms: backfill and restarted indexer cover the package exactly', async () => {
    // Dense package traffic: rows on both sides of where backfill and indexer meet. A POST waits for
    // the indexer as long as a loaded machine may need.
    const s = (stack = await startStack({
      chain: { checkpoints: 6_000, initialTip: 1_500, packageTrafficFraction: 0.9 },
      knobs: { tipAdvanceMs: 50 },
      env: { INDEXER_HANDOFF_TIMEOUT_MS: String(PATIENCE_MS) },
    }));
    let running = indexer(s, [], { LOG_LEVEL: 'info' });
    await waitForOutput(running, 'indexer starting', PATIENCE_MS);
    await s.startWorker({ BACKFILL_CHUNK_SIZE: 10 });
    const book = s.chain.package('book');
    // Slow RPCs keep the backfill's 130 chunks going for seconds: the kill and the restart land in its middle.
    s.simnet.setKnobs({ latencyMs: 30 });
    const posted = await s.call('POST', '/v1/backfills', { packageId: book.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const start = BigInt(posted.body.toCheckpoint) + 1n;
    expect((await startedTracking(s, book.originalId)).firstCheckpoint).toBe(start);
    await indexerPast(s, start + 10n);
    running.kill('SIGKILL');
    expect((await running.exited).signal).toBe('SIGKILL');
    const killedAt = (await readWatermark(s.database.sql))!.checkpointHiInclusive;
    const atKill = (await s.call('GET', `/v1/backfills/${posted.body.id}`)).body;
    expect(atKill.status).toBe('running');
    expect(BigInt(atKill.watermark.checkpointHiInclusive)).toBeLessThan(start - 100n);

    await noIndexerRunning(s);
    running = indexer(s, [], { LOG_LEVEL: 'info' });
    await waitForOutput(running, `"next":${killedAt + 1n},"resumed":true`, PATIENCE_MS);
    expect((await s.call('GET', `/v1/backfills/${posted.body.id}`)).body.status).toBe('running');
    s.simnet.setKnobs({ latencyMs: 0 });
    await s.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    const later = await indexerPast(s, killedAt + 60n);
    const truth = s.truth(book.originalId, 'anywhere', s.chain.publishCheckpoint(book.originalId), later);
    expect(truth.filter((row) => row.checkpoint > killedAt).length).toBeGreaterThan(0);
    expect((await s.objects()).filter((row) => row.checkpoint <= later)).toEqual(truth);
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('a kill -9 between a batch\'s inserts and its watermark advance rolls the whole batch back; the restart covers it exactly once', async () => {
    // The tip stands until the test moves it, so the batch held at its commit is exactly
    // [tip + 1, tip + 60]: it holds late's last upgrade (which adds late::Extra) and objects of the family.
    const tip = 1_500n;
    const upgradeAt = 1_510;
    const options: StackOptions = {
      chain: { checkpoints: 6_000, initialTip: Number(tip), packageTrafficFraction: 0.9, publishAt: { late: [1_000, 1_200, upgradeAt] } },
      knobs: { tipAdvanceMs: 0 },
      env: { INDEXER_HANDOFF_TIMEOUT_MS: String(PATIENCE_MS) },
    };
    const s = (stack = await startStack(options));
    const { sql } = s.database;
    const late = s.chain.package('late');
    const upgrade = late.versions[2];
    const held = { from: tip + 1n, to: tip + 60n };
    const heldTruth = s.truth(late.originalId, 'anywhere', held.from, held.to);
    expect(heldTruth.filter((row) => row.typeName === 'Extra').length).toBeGreaterThan(0);
    expect(upgrade.publishCheckpoint).toBe(BigInt(upgradeAt));

    await s.startWorker();
    let running = indexer(s, []);
    await waitForOutput(running, `"next":${tip},"resumed":false`, PATIENCE_MS);
    const posted = await s.call('POST', '/v1/backfills', { packageId: late.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const tracking = await startedTracking(s, late.originalId);
    expect(BigInt(posted.body.toCheckpoint)).toBe(tracking.firstCheckpoint - 1n);
    expect(tracking.familyIds).not.toContain(upgrade.id);
    await s.waitForStatus(posted.body.id, ['completed'], PATIENCE_MS);
    await indexerPast(s, tip);
    const packagesNow = async () => (await sql<{ package_id: string }[]>`select package_id from sui_packages order by package_id`).map((row) => row.package_id);
    const before = { watermark: await readWatermark(sql), tracking: await getTracking(s.database.db, late.originalId, 'anywhere'), packages: await packagesNow() };
    expect(before.watermark?.checkpointHiInclusive).toBe(tip);
    expect(before.packages).not.toContain(upgrade.id);

    // A second session holds the watermark row: the batch's transaction gets through its packages,
    // trackings and rows, then waits at the watermark advance, its last statement.
    const holder = await sql.reserve();
    let blocked: { pid: number; query: string };
    try {
      await holder`begin`;
      await holder`select pipeline from watermarks where pipeline = 'sui_objects' for update`;
      const [{ pid: holderPid }] = await holder<{ pid: number }[]>`select pg_backend_pid() as pid`;
      s.chain.advanceTip(Number(held.to - tip));
      blocked = await waitFor('the batch transaction to wait on the watermark row', async () => {
        const [row] = await sql<{ pid: number; query: string }[]>`
          select pid, query from pg_stat_activity
          where datname = current_database() and application_name = 'sui-backfill indexer' and wait_event_type = 'Lock'
            and ${holderPid}::int = any(pg_blocking_pids(pid))`;
        return row;
      }, PATIENCE_MS);
      expect(blocked.query).toMatch(/^\s*insert into watermarks/);
      // Its rows, the upgrade's package and the family's new member are written, not committed.
      const written = await sql<{ table: string }[]>`select relation::regclass::text as table from pg_locks where pid = ${blocked.pid} and mode = 'RowExclusiveLock'`;
      expect(written.map((row) => row.table)).toEqual(expect.arrayContaining(['sui_objects', 'sui_packages', 'indexer_tracked_packages']));
      expect(batchesStarted(running).at(-1)).toEqual(held);
      running.kill('SIGKILL');
      expect((await running.exited).signal).toBe('SIGKILL');
    } finally {
      await holder`rollback`;
      holder.release();
    }
    // Given the row, the killed process's backend finds its client gone: the transaction ends uncommitted.
    await waitFor('the killed batch\'s session to end', async () => (await sql`select 1 from pg_stat_activity where pid = ${blocked.pid}`).length === 0, PATIENCE_MS);

    expect(await readWatermark(sql)).toEqual(before.watermark);
    expect((await s.objects()).filter((row) => row.checkpoint >= held.from)).toEqual([]);
    expect(await getTracking(s.database.db, late.originalId, 'anywhere')).toEqual(before.tracking);
    expect(await packagesNow()).toEqual(before.packages);

    await noIndexerRunning(s);
    running = indexer(s, []);
    await waitForOutput(running, `"next":${held.from},"resumed":true`, PATIENCE_MS);
    s.chain.advanceTip(40);
    const later = await indexerPast(s, held.to + 40n);
    const [reader] = await sql<{ reader_lo: string }[]>`select reader_lo from watermarks where pipeline = 'sui_objects'`;
    const rows = (await s.objects()).filter((row) => row.checkpoint <= later);
    // Every object version of the indexer's stretch once, and with the backfill's, of the whole family.
    expect(rows.filter((row) => row.checkpoint >= BigInt(reader.reader_lo))).toEqual(s.truth(late.originalId, 'anywhere', BigInt(reader.reader_lo), later));
    expect(rows).toEqual(s.truth(late.originalId, 'anywhere', s.chain.publishCheckpoint(late.originalId), later));
    expect(new Set(rows.map((row) => `${row.objectId}:${row.version}`)).size).toBe(rows.length);
    expect(await packagesNow()).toEqual([...before.packages, upgrade.id].sort());
    expect((await getTracking(s.database.db, late.originalId, 'anywhere'))?.familyIds).toContain(upgrade.id);
    running.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('refuses a second indexer on the same database with one clear line', async () => {
    const s = (stack = await startStack({ chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 20 } }));
    const first = indexer(s, [], { LOG_LEVEL: 'info' });
    await waitForOutput(first, 'indexer starting', PATIENCE_MS);
    const second = indexer(s, [], { LOG_LEVEL: 'info' });
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    expect(second.output()).toContain('another indexer is already running against this database');
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});
