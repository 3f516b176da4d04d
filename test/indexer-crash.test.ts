import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWatermark } from '../src/indexer/watermark.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
const processes: Spawned[] = [];
beforeAll(async () => {
  stack = await startStack({ chain: { checkpoints: 6_000, initialTip: 1_500 }, knobs: { tipAdvanceMs: 20 } });
});
afterAll(async () => {
  for (const spawned of processes) spawned.kill('SIGKILL');
  await stack?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('live indexer crash', () => {
  it('a kill -9 and a restart neither lose nor duplicate rows; the watermark never moves back', async () => {
    const env = { ...stack.env, LOG_LEVEL: 'info', INDEXER_POLL_INTERVAL_MS: '50', INDEXER_BATCH_SIZE: '7' };
    const start = () => {
      const spawned = spawnCli(['indexer', '--no-migrate'], env);
      processes.push(spawned);
      return spawned;
    };
    let indexer = start();
    await waitForOutput(indexer, 'indexer starting');
    await stack.startWorker();
    const token = stack.chain.package('token');
    const posted = await stack.call('POST', '/v1/backfills', { packageId: token.originalId, match: 'anywhere' });
    expect(posted.status).toBe(202);
    const coverageStart = BigInt(posted.body.toCheckpoint) + 1n;

    const seen: bigint[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const watermark = await readWatermark(stack.database.sql);
        if (watermark) seen.push(watermark.checkpointHiInclusive);
        await sleep(15);
      }
    })();

    // Kill it hard three times at seeded points, mid-batch, and start it again each time.
    let seed = 7;
    for (let kill = 0; kill < 3; kill++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      await sleep(300 + (seed % 700));
      indexer.kill('SIGKILL');
      expect((await indexer.exited).signal).toBe('SIGKILL');
      indexer = start();
      await waitForOutput(indexer, 'indexer starting');
    }
    await stack.waitForStatus(posted.body.id, ['completed']);
    const later = (await readWatermark(stack.database.sql))!.checkpointHiInclusive + 40n;
    while ((await readWatermark(stack.database.sql))!.checkpointHiInclusive < later) await sleep(50);
    sampling = false;
    await sampler;

    expect(seen.length).toBeGreaterThan(20);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(coverageStart).toBeGreaterThan(token.versions[0].publishCheckpoint);
    const truth = stack.truth(token.originalId, 'anywhere', stack.chain.publishCheckpoint(token.originalId), later);
    expect((await stack.objects()).filter((row) => row.checkpoint <= later)).toEqual(truth);

    indexer.kill('SIGTERM');
    expect((await indexer.exited).code).toBe(0);
  });

  it('refuses a second indexer on the same database with one clear line', async () => {
    const env = { ...stack.env, LOG_LEVEL: 'info' };
    const first = spawnCli(['indexer', '--no-migrate'], env);
    processes.push(first);
    await waitForOutput(first, 'indexer starting');
    const second = spawnCli(['indexer', '--no-migrate'], env);
    processes.push(second);
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    expect(second.output()).toContain('another indexer is already running against this database');
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});

function withoutComments(text: string): string {
  return text.replaceAll(/\/\*[\s\S]*?\*\//g, '').replaceAll(/\/\/.*$/gm, '');
}

/** Every .ts file under a folder of src/, with its text. */
function sources(folder: string): { file: string; text: string }[] {
  const root = path.resolve(import.meta.dirname, '../src', folder);
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => ({ file: path.join(folder, file), text: readFileSync(path.join(root, file), 'utf8') }));
}

describe('table ownership', () => {
  it('src/backfill never references the framework watermarks table', () => {
    const offending = sources('backfill').filter(({ text }) => {
      const code = withoutComments(text)
        // The backfill's own watermark table and module are fine.
        .replaceAll(/package_backfill_watermarks|packageBackfillWatermarks|['"]\.\/watermarks\.ts['"]/g, '');
      return /\bwatermarks\b/.test(code) || /indexer\/watermark/.test(code);
    });
    expect(offending.map(({ file }) => file)).toEqual([]);
  });

  it('src/indexer never references the backfill tables', () => {
    const offending = sources('indexer').filter(({ text }) =>
      /package_backfill|packageBackfill|schema\/backfill|from ['"][^'"]*\/backfill\//.test(withoutComments(text)),
    );
    expect(offending.map(({ file }) => file)).toEqual([]);
  });
});
