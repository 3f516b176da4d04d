import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiService } from '../src/api/process.ts';
import { startStack, type Stack } from './helpers/stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const title = `the admin page in headless Chromium${hasChromium ? '' : ` (skipped: no browser at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH)`}`;

/** What a row of the list shows: each cell's text, and the titles and classes that carry the rest. */
type RowSeen = {
  cells: string[];
  className: string;
  requestTitle: string;
  packageTitle: string;
  heartbeatTitle: string;
  heartbeatClass: string;
  barWidth: string;
};

/** What the detail panel shows: its title, its facts (an ID fact as the full IDs it shows) and its two tables. */
type DetailSeen = {
  shown: boolean;
  heading: string;
  facts: Record<string, string | string[]>;
  chunks: string[][];
  history: string[][];
};

async function rowOf(page: Page, id: string): Promise<RowSeen | null> {
  return page.evaluate((rowId) => {
    const tr = document.querySelector(`#rows tr[data-id="${rowId}"]`) as HTMLTableRowElement | null;
    if (!tr) return null;
    return {
      cells: [...tr.cells].map((cell) => cell.textContent ?? ''),
      className: tr.className,
      requestTitle: tr.cells[0].title,
      packageTitle: tr.cells[1].title,
      heartbeatTitle: tr.cells[10].title,
      heartbeatClass: tr.cells[10].className,
      barWidth: (tr.cells[4].querySelector('.bar > span') as HTMLElement).style.width,
    };
  }, id);
}

async function detailOf(page: Page): Promise<DetailSeen> {
  return page.evaluate(() => {
    const panel = document.getElementById('detail')!;
    const facts: Record<string, string | string[]> = {};
    for (const dt of panel.querySelectorAll('dt')) {
      const dd = dt.nextElementSibling!;
      const codes = [...dd.querySelectorAll('code')].map((code) => code.textContent ?? '');
      facts[dt.textContent ?? ''] = codes.length === 0 ? (dd.textContent ?? '') : codes.length === 1 && dt.textContent !== 'upgrade family' ? codes[0] : codes;
    }
    const tables = [...panel.querySelectorAll('table')].map((table) => [...table.rows].slice(1).map((tr) => [...tr.cells].map((cell) => cell.textContent ?? '')));
    return {
      shown: panel.classList.contains('shown'),
      heading: panel.querySelector('h2')?.firstChild?.textContent ?? '',
      facts,
      chunks: tables.length === 2 ? tables[0] : [],
      history: tables.length === 2 ? tables[1] : (tables[0] ?? []),
    };
  });
}

const bannerOf = (page: Page) =>
  page.evaluate(() => ({ shown: document.getElementById('banner')!.classList.contains('shown'), text: document.getElementById('banner')!.textContent, outdated: document.getElementById('table')!.classList.contains('outdated') }));

/** The page refreshes a second after each refresh ended: what it shows settles within a few seconds. */
const SETTLES = { timeout: 10_000, interval: 100 };

/** The recent chunks and the history as the detail's tables show them. */
const chunkRows = (chunks: any[]) =>
  chunks.map((chunk) => [
    `${chunk.fromCheckpoint} .. ${chunk.toCheckpoint}`,
    String(chunk.objectsMatched),
    String(chunk.rowsInserted),
    String(chunk.rpcCalls),
    `${chunk.durationMs} ms`,
    chunk.workerId,
    chunk.finishedAt,
  ]);
const historyRows = (transitions: any[]) => transitions.map((transition) => [transition.at, `${transition.from ?? '—'} → ${transition.to}`, transition.actor, transition.reason ?? '']);

/** The first copy button of the detail (the request's), and whether it is the one marked before a rebuild of the panel. */
const copyButtonOf = (page: Page) =>
  page.evaluate(() => {
    const button = document.querySelector('#detail dd button') as HTMLButtonElement;
    return { text: button.textContent, marked: button.dataset.marked === 'yes' };
  });

describe.skipIf(!hasChromium)(title, () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let restarted: ApiService | undefined;
  /** Console errors and uncaught exceptions of the page, in order. */
  const problems: string[] = [];
  beforeAll(async () => {
    // Latency and small chunks keep the walk running long enough to be watched mid-way; a short
    // chain and RPC timeout let it end soon once the chain answers again.
    stack = await startStack({ chain: { checkpoints: 400 }, knobs: { latencyMs: 40 }, env: { WORKER_SHUTDOWN_GRACE_MS: '200', RPC_TIMEOUT_MS: '3000' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.api.url });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  });
  afterAll(async () => {
    await browser?.close();
    await restarted?.close();
    await stack?.close();
  });

  // The tests run in order on one page, following one backfill: posted, running, done, then the API gone.
  const dex = () => stack.chain.package('dex');
  let id: string;

  it('shows a posted backfill queued, then running with its progress frozen where the chain stopped answering', async () => {
    await page.goto(`${stack.api.url}/`);
    await expect.poll(() => page.locator('#placeholder').textContent(), SETTLES).toBe('no backfills yet');

    const newest = dex().versions[dex().versions.length - 1].id;
    const original = dex().originalId;
    const posted = await stack.call('POST', '/v1/backfills', { packageId: newest, match: 'anywhere' }, { 'x-actor': 'alice@ops-host' });
    expect(posted.status).toBe(202);
    id = posted.body.id;
    const short = (value: string) => `${value.slice(0, 10)}…${value.slice(-6)}`;

    const queued = (await stack.call('GET', `/v1/backfills/${id}`)).body;
    await expect.poll(() => rowOf(page, id), SETTLES).toEqual({
      cells: [short(id), short(original), 'anywhere', 'queued', '0.0%', `- / ${queued.toCheckpoint}`, '0', '0', '', '', '', ''],
      className: 'queued',
      requestTitle: id,
      packageTitle: `${original} (posted as ${newest})`,
      heartbeatTitle: '',
      heartbeatClass: '',
      barWidth: '0%',
    });
    expect(await page.locator('#placeholder').count()).toBe(0);

    await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
    // A few chunks in, every RPC hangs: the request stays running with a fixed chunk log.
    const chunkCount = async () => Number((await stack.database.sql`select count(*)::int as n from package_backfill_chunks where request_id = ${id}`)[0].n);
    await expect.poll(chunkCount, { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(3);
    stack.simnet.setKnobs({ hangRate: 1, hangMs: 60_000 });
    let settled = await chunkCount();
    for (;;) {
      await sleep(300);
      const now = await chunkCount();
      if (now === settled) break;
      settled = now;
    }

    const item = (await stack.call('GET', '/v1/backfills?limit=50')).body.items.find((entry: { id: string }) => entry.id === id);
    expect(item.status).toBe('running');
    expect(item.percent).toBeGreaterThan(0);
    expect(item.percent).toBeLessThan(100);
    const progress = `${(Math.floor(item.percent * 10 + 1e-9) / 10).toFixed(1)}%`;
    const watermark = `${item.checkpointHiInclusive} / ${item.toCheckpoint}`;
    await expect.poll(async () => (await rowOf(page, id))?.cells.slice(3, 8), SETTLES).toEqual(['running', progress, watermark, String(item.rowsInserted), String(item.objectsMatched)]);
    const running = (await rowOf(page, id))!;
    expect(running.barWidth).toBe(`${item.percent}%`);
    expect(running.className).toBe('running');
    // The rate and ETA move with the clock; their form is fixed.
    expect(running.cells[8]).toMatch(/^\d+(\.\d+)? cp\/s$/);
    expect(Number.parseFloat(running.cells[8])).toBeGreaterThan(0);
    expect(running.cells[9]).toMatch(/^\d+ (s|min)$|^\d+\.\d h$/);
    // The worker still beats while its RPCs hang: the heartbeat is fresh, not late.
    expect(running.cells[10]).toMatch(/^[0-3] s ago$/);
    expect(running.heartbeatClass).toBe('');
    expect(running.heartbeatTitle).toBe(`worker ${item.workerId}`);
    expect(running.cells[11]).toBe('');
    expect(problems).toEqual([]);
  });

  it('opens the detail on a click, with full IDs, done ranges, recent chunks and the history with its actors', async () => {
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    expect(new URL(page.url()).hash).toBe(`#${id}`);
    const view = (await stack.call('GET', `/v1/backfills/${id}`)).body;
    expect(view.status).toBe('running');
    expect(view.recentChunks.length).toBeGreaterThanOrEqual(3);
    expect(view.transitions.map((transition: any) => [transition.from, transition.to, transition.actor])).toEqual([
      [null, 'queued', 'api:alice@ops-host'],
      ['queued', 'running', `worker:${view.workerId}`],
    ]);

    const facts = (status: string, current: any, extra: Record<string, string>) => ({
      request: id,
      'package (as posted)': dex().versions[dex().versions.length - 1].id,
      'original package': dex().originalId,
      'upgrade family': current.familyIds,
      match: 'anywhere',
      range: `${current.fromCheckpoint} .. ${current.toCheckpoint}`,
      watermark: current.watermark.checkpointHiInclusive,
      'done ranges': current.watermark.doneRanges,
      progress: `${current.progress.checkpointsDone} of ${current.progress.checkpointsTotal} checkpoints (${current.progress.percent.toFixed(2)}%)`,
      'rows inserted': String(current.rowsInserted),
      'objects matched': String(current.objectsMatched),
      worker: current.workerId,
      attempts: '1',
      created: current.createdAt,
      started: current.startedAt,
      finished: current.finishedAt ?? '—',
      'last error': '—',
      ...extra,
      ...(status === 'completed' ? { rate: '—', ETA: '—' } : {}),
    });
    await expect.poll(() => detailOf(page), SETTLES).toMatchObject({ shown: true, heading: 'Backfill running', chunks: chunkRows(view.recentChunks), history: historyRows(view.transitions) });
    const seen = await detailOf(page);
    expect([...view.familyIds].sort()).toEqual([...stack.chain.family(dex().originalId)].sort());
    expect(view.watermark.doneRanges).toMatch(/^\{\[\d+,\d+\)\}$/);
    expect(seen.facts.rate).toMatch(/^\d+(\.\d+)? checkpoints\/s$/);
    expect(seen.facts.ETA).toMatch(/^\d+ (s|min)$|^\d+\.\d h$/);
    expect(seen.facts.heartbeat).toMatch(/^[0-3] s ago$/);
    expect(seen.facts).toEqual(facts('running', view, { rate: seen.facts.rate as string, ETA: seen.facts.ETA as string, heartbeat: seen.facts.heartbeat as string }));
    expect((await rowOf(page, id))!.className).toBe('running selected');

    // The copy button puts the full ID on the clipboard and says so for a moment, past the
    // rebuild of the panel at the next refresh, without closing or reopening anything.
    await page.locator('#detail dd button').first().click();
    await expect.poll(() => copyButtonOf(page), SETTLES).toEqual({ text: 'copied', marked: false });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id);
    await page.evaluate(() => {
      (document.querySelector('#detail dd button') as HTMLButtonElement).dataset.marked = 'yes';
    });
    await expect.poll(async () => (await copyButtonOf(page)).marked, SETTLES).toBe(false);
    expect((await copyButtonOf(page)).text).toBe('copied');
    await expect.poll(async () => (await copyButtonOf(page)).text, SETTLES).toBe('copy');
    expect((await detailOf(page)).shown).toBe(true);

    // The chain answers again: the row and the open detail follow the backfill to its end.
    stack.simnet.setKnobs({ hangRate: 0, latencyMs: 0 });
    const done = await stack.waitForStatus(id, ['completed'], 30_000);
    expect(done.lastError).toBeNull();
    const target = `${done.toCheckpoint} / ${done.toCheckpoint}`;
    await expect.poll(async () => (await rowOf(page, id))?.cells.slice(2, 10), SETTLES).toEqual([
      'anywhere',
      'completed',
      '100.0%',
      target,
      String(done.rowsInserted),
      String(done.objectsMatched),
      '',
      '',
    ]);
    const completed = (await rowOf(page, id))!;
    expect(completed.className).toBe('completed selected');
    expect(completed.barWidth).toBe('100%');
    expect(completed.cells[10]).toMatch(/^\d+ s ago$/);
    expect(completed.heartbeatClass).toBe('muted');

    await expect.poll(async () => (await detailOf(page)).heading, SETTLES).toBe('Backfill completed');
    const final = await detailOf(page);
    expect(done.progress.percent).toBe(100);
    expect(done.watermark.doneRanges).toBe(`{[${done.fromCheckpoint},${BigInt(done.toCheckpoint) + 1n})}`);
    expect(final.facts).toEqual(facts('completed', done, { heartbeat: final.facts.heartbeat as string }));
    expect(final.facts.heartbeat).toMatch(/^\d+ s ago$/);
    expect(final.chunks).toEqual(chunkRows(done.recentChunks));
    expect(final.history).toEqual(historyRows(done.transitions));
    expect(done.transitions.map((transition: any) => [transition.from, transition.to, transition.actor])).toEqual([
      [null, 'queued', 'api:alice@ops-host'],
      ['queued', 'running', `worker:${done.workerId}`],
      ['running', 'completed', `worker:${done.workerId}`],
    ]);

    // A link to the detail opens it straight away.
    await page.reload();
    await expect.poll(async () => (await detailOf(page)).heading, SETTLES).toBe('Backfill completed');
    expect((await detailOf(page)).history).toEqual(historyRows(done.transitions));
    expect((await rowOf(page, id))!.className).toBe('completed selected');

    // Closed, the panel is gone and the link no longer names it.
    await page.locator('#detail').getByRole('button', { name: 'close' }).click();
    expect(await detailOf(page)).toEqual({ shown: false, heading: '', facts: {}, chunks: [], history: [] });
    expect(new URL(page.url()).hash).toBe('');
    expect((await rowOf(page, id))!.className).toBe('completed');
    expect(problems).toEqual([]);
  });

  it('says the data is stale while the API does not answer, keeps showing it, and clears the banner when it is back', async () => {
    expect(await bannerOf(page)).toEqual({ shown: false, text: '', outdated: false });
    const shown = (await rowOf(page, id))!;
    const port = Number(new URL(stack.api.url).port);
    await stack.api.close();

    await expect.poll(() => bannerOf(page), SETTLES).toMatchObject({ shown: true, outdated: true });
    expect((await bannerOf(page)).text).toMatch(
      /^Cannot refresh: the API is unreachable \(Failed to fetch\); showing data from \d{1,2}:\d{2}:\d{2} [AP]M \(\d s ago\)\. Retrying every 1 s\.$/,
    );
    expect(await rowOf(page, id)).toEqual({ ...shown, cells: [...shown.cells.slice(0, 10), expect.stringMatching(/^\d+ s ago$/), ''] });

    // Opening a detail while the API is down waits for it, and the banner keeps saying why.
    await page.locator(`#rows tr[data-id="${id}"]`).click();
    await sleep(1_200);
    expect(await page.locator('#detail').textContent()).toBe('loading…');
    expect((await bannerOf(page)).shown).toBe(true);

    restarted = await startApi({ ...stack.common, config: { ...stack.common.config, PORT: port } }, { db: stack.database, source: stack.source });
    expect(restarted.url).toBe(stack.api.url);
    await expect.poll(() => bannerOf(page), SETTLES).toMatchObject({ shown: false, outdated: false });
    await expect.poll(async () => (await detailOf(page)).heading, SETTLES).toBe('Backfill completed');
    expect(await page.locator('#updated').textContent()).toMatch(/^Updated \d{1,2}:\d{2}:\d{2} [AP]M\.$/);

    // The browser reports each refused call itself, the list's and the detail's; the page adds no error of its own.
    const refused = (path: string) => `console: Failed to load resource: net::ERR_CONNECTION_REFUSED (${stack.api.url}${path})`;
    expect(new Set(problems)).toEqual(new Set([refused('/v1/backfills?limit=50'), refused(`/v1/backfills/${id}`)]));
  });
});
