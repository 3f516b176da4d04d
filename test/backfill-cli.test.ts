import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { runCli, spawnCli, waitForOutput } from './helpers/processes.ts';
import { freePort } from './helpers/servers.ts';
import { startStack, TEST_TOKEN, type Stack } from './helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  process.env.API_TOKEN = TEST_TOKEN;
  process.env.PORT = new URL(stack.api.url).port;
});
afterAll(async () => {
  await stack?.close();
});

/** `sui-backfill backfill <args>` in this process, as the binary runs it; stdout and stderr captured. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts) => void stdout.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts) => void stderr.push(parts.join(' ')));
  try {
    const code = await main(['backfill', ...args]);
    return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

const SUBCOMMANDS = ['start', 'list', 'status', 'pause', 'resume', 'cancel', 'delete'];
/** The CLI names its operator in X-Actor; the history records it. */
const ACTOR = `api:${userInfo().username}@${hostname()}`;
const pkg = (name: 'dex' | 'book' | 'token' | 'nft') => stack.chain.package(name).originalId;

describe('sui-backfill backfill --help', () => {
  it('lists every command, the options and the exit codes', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const sub of SUBCOMMANDS) expect(stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
    for (const line of ['0  done', '2  usage error', '3  the API is unreachable', '4  not found', '5  conflict', '6  rejected input', '7  unauthorized']) {
      expect(stdout).toContain(line);
    }
    expect(stdout).toContain('--api URL');
    expect(stdout).toContain('API_TOKEN');
    // Without a command it is a usage error: the help goes to stderr.
    expect(await cli()).toEqual({ code: 2, stdout: '', stderr: stdout });
  });

  it('sui-backfill --help lists every command with its summary', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['--help'])).toBe(0);
      const help = String(log.mock.calls[0][0]);
      const listed = help.slice(help.indexOf('Commands:\n') + 10, help.indexOf('\n\n', help.indexOf('Commands:'))).split('\n');
      expect(listed.map((line) => /^ {2}(\S+) +\S/.exec(line)?.[1])).toEqual(['dev', 'migrate', 'api', 'worker', 'indexer', 'simnet', 'backfill']);
      expect(listed.at(-1)).toBe('  backfill  start, list, follow, pause, resume, cancel and delete backfills through the API');
    } finally {
      log.mockRestore();
    }
  });

  it('the help loads no library: each command is loaded when it runs', async () => {
    // Records every module the process resolves, printed on stderr as it exits.
    const hooks = `data:text/javascript,${encodeURIComponent(`
      import { registerHooks } from 'node:module';
      const seen = new Set();
      registerHooks({ resolve: (specifier, context, next) => { const resolved = next(specifier, context); seen.add(resolved.url); return resolved; } });
      process.on('exit', () => process.stderr.write(JSON.stringify([...seen])));`)}`;
    const loaded = async (...args: string[]) => {
      const child = spawn(process.execPath, ['--import', hooks, path.resolve(import.meta.dirname, '../src/cli.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      await new Promise((resolve) => child.once('close', resolve));
      return (JSON.parse(stderr.slice(stderr.lastIndexOf('['))) as string[]).filter((url) => !url.startsWith('node:')).map((url) => url.replace(/^.*\/src\//, 'src/'));
    };
    const help = ['src/cli.ts', 'src/api/backfill-cli.ts', 'src/api/watch.ts', 'src/common/errors.ts', 'src/api/progress-bar.ts'];
    expect(await loaded('--help')).toEqual(['src/cli.ts']);
    expect(await loaded('backfill', '--help')).toEqual(help);
    expect(await loaded('backfill', 'start', '--help')).toEqual(help);
    expect(await loaded('backfill', 'bogus')).toEqual(help);
    // Running one loads what it needs.
    expect(await loaded('backfill', 'list', '--api', 'x')).toEqual(expect.arrayContaining(['src/api/backfill-run.ts', 'src/api/client.ts']));
  });

  it.each(SUBCOMMANDS)('%s --help shows its usage and options, every description in one column', async (sub) => {
    const { code, stdout } = await cli(sub, '--help');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: sui-backfill backfill ${sub}( |$)`));
    expect(stdout).toContain('--json');
    expect(stdout).toContain('--api URL');
    const options = stdout.slice(stdout.indexOf('\nOptions:\n') + 10).split('\n');
    const columns = options.map((line) => {
      // The description starts after the first run of two or more spaces that follows the option.
      const described = /^( {2}-.*?\S {2,})\S/.exec(line);
      if (described) return described[1].length;
      const continued = /^( +)\S/.exec(line);
      // An option alone on its line (its description below) is not a column.
      return continued && !/^ {2}-/.test(line) ? continued[1].length : undefined;
    });
    expect(columns.filter((column) => column !== undefined).length).toBeGreaterThanOrEqual(3);
    expect(new Set(columns.filter((column) => column !== undefined))).toEqual(new Set([17]));
  });

  it('the usage lines name every option of start and status', async () => {
    const usage = async (sub: string) => {
      const { stdout } = await cli(sub, '--help');
      return stdout.slice(0, stdout.indexOf('\n\n'));
    };
    for (const sub of ['start', 'status']) {
      for (const option of ['--watch', '--interval MS', '--give-up-after MS']) expect([sub, (await usage(sub)).includes(`[${option}]`)]).toEqual([sub, true]);
    }
    expect(await usage('start')).toBe(
      'Usage: sui-backfill backfill start <packageId> [--match outer|anywhere] [--from N] [--to N]\n' +
        '                                   [--watch] [--interval MS] [--give-up-after MS]',
    );
  });

  it("the README's synopsis of every command is its --help usage", async () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
    const block = /```sh\n(sui-backfill backfill start [\s\S]*?)```/.exec(readme)![1];
    // Each command with its continuation lines, without the comments, spaces collapsed.
    const synopsis = block
      .replace(/ *#.*$/gm, '')
      .split(/\n(?=sui-backfill)/)
      .map((command) => command.replace(/\s+/g, ' ').trim());
    const usages: string[] = [];
    // One at a time: cli() captures the console.
    for (const sub of SUBCOMMANDS) usages.push((await cli(sub, '--help')).stdout.split('\n\n')[0].replace(/^Usage: /, '').replace(/\s+/g, ' '));
    expect(synopsis).toEqual(usages);
  });

  it('answers usage errors with exit code 2 and a hint', async () => {
    expect(await cli('bogus')).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown backfill command 'bogus'") });
    expect(await cli('status')).toMatchObject({ code: 2, stderr: "backfill status: expected <id>, got none\nRun 'sui-backfill backfill status --help' for its usage." });
    expect((await cli('status', 'a', 'b')).code).toBe(2);
    expect((await cli('list', 'extra')).code).toBe(2);
    expect((await cli('list', '--bogus')).code).toBe(2);
    // Flags that would do nothing without --watch are refused, not ignored.
    for (const flag of ['--interval', '--give-up-after']) {
      expect(await cli('status', 'x', flag, '100')).toEqual({ code: 2, stdout: '', stderr: `${flag}: only with --watch\nRun 'sui-backfill backfill status --help' for its usage.` });
    }
    for (const api of ['notaurl', 'ftp://127.0.0.1:3000']) {
      expect(await cli('list', '--api', api)).toEqual({
        code: 2,
        stdout: '',
        stderr: `--api: expected an http:// or https:// URL (got "${api}")\nRun 'sui-backfill backfill list --help' for its usage.`,
      });
    }
  });

  it('checks the numbers it sends the API, or waits by, as the API checks them: a usage error naming the flag (exit 2)', async () => {
    const refused = (sub: string, problem: string) => ({ code: 2, stdout: '', stderr: `${problem}\nRun 'sui-backfill backfill ${sub} --help' for its usage.` });
    const limits = 'expected an integer from 1 to 500';
    for (const limit of ['abc', '0', '501', '-1', '1.5', '']) expect(await cli('list', '--limit', limit)).toEqual(refused('list', `--limit: ${limits} (got ${JSON.stringify(limit)})`));
    expect((await cli('list', '--limit', '500', '--json')).code).toBe(0);
    expect((await cli('list', '--help')).stdout).toContain('  --limit N      at most N (1-500, default 50)\n');
    const checkpoints = 'expected a non-negative integer checkpoint sequence number';
    expect(await cli('start', pkg('dex'), '--from', 'soon')).toEqual(refused('start', `--from: ${checkpoints} (got "soon")`));
    expect(await cli('start', pkg('dex'), '--to', '-5')).toEqual(refused('start', `--to: ${checkpoints} (got "-5")`));
    expect(await cli('start', pkg('dex'), '--from', '10', '--to', '9')).toEqual(refused('start', '--to: must not be below --from (got "9")'));
    const ms = (min: number) => `expected milliseconds from ${min} to 2147483647`;
    expect(await cli('status', 'x', '--watch', '--interval', 'soon')).toEqual(refused('status', `--interval: ${ms(50)} (got "soon")`));
    expect(await cli('status', 'x', '--watch', '--interval', '49')).toEqual(refused('status', `--interval: ${ms(50)} (got "49")`));
    expect(await cli('start', pkg('dex'), '--watch', '--give-up-after', '2147483648')).toEqual(refused('start', `--give-up-after: ${ms(0)} (got "2147483648")`));
    // Nothing was started by any of them.
    expect(JSON.parse((await cli('list', '--package', pkg('dex'), '--json')).stdout).items).toEqual([]);
  });

  it('with --json, a usage or configuration error is also JSON on stdout; stderr keeps the line (exit 2)', async () => {
    const usage = (message: string) => JSON.stringify({ error: { code: 'usage', message } });
    const hint = (sub: string) => `Run 'sui-backfill backfill ${sub} --help' for its usage.`;
    expect(await cli('pause', '--json')).toEqual({ code: 2, stdout: usage('backfill pause: expected <id>, got none'), stderr: `backfill pause: expected <id>, got none\n${hint('pause')}` });
    const unknown = "Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\"";
    expect(await cli('list', '--bogus', '--json')).toEqual({ code: 2, stdout: usage(unknown), stderr: `${unknown}\n${hint('list')}` });
    const api = '--api: expected an http:// or https:// URL (got "ftp://x")';
    expect(await cli('list', '--api', 'ftp://x', '--json')).toEqual({ code: 2, stdout: usage(api), stderr: `${api}\n${hint('list')}` });
    expect(await cli('status', 'x', '--interval', '100', '--json')).toMatchObject({ code: 2, stdout: usage('--interval: only with --watch') });
    expect(await cli('list', '--limit', 'abc', '--json')).toMatchObject({ code: 2, stdout: usage('--limit: expected an integer from 1 to 500 (got "abc")') });
    const help = (await cli('--help')).stdout;
    expect(await cli('bogus', '--json')).toEqual({ code: 2, stdout: usage("unknown backfill command 'bogus'"), stderr: `unknown backfill command 'bogus'\n\n${help}` });
    const first = 'backfill: expected a command (start, list, status, pause, resume, cancel, delete) before --json';
    expect(await cli('--json')).toEqual({ code: 2, stdout: usage(first), stderr: `${first}\n\n${help}` });
    // After --, --json is an argument, not the option.
    expect(await cli('status', '--', '--json')).toMatchObject({ code: 6, stdout: '', stderr: expect.stringMatching(/^invalid_request: id: /) });

    const port = process.env.PORT;
    process.env.PORT = 'abc';
    try {
      const config = 'Invalid configuration: PORT: expected an integer from 0 to 65535 (got "abc")';
      expect(await cli('list', '--json')).toEqual({ code: 2, stdout: JSON.stringify({ error: { code: 'config_invalid', message: config } }), stderr: config });
    } finally {
      process.env.PORT = port;
    }
  });

  it('reads only PORT and API_TOKEN of the environment: a variable meant for the services does not stop it', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { LOG_LEVEL: 'verbose', STALE_AFTER_MS: '1', DATABASE_URL: 'not a url' });
      const listed = await cli('list', '--json');
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ items: expect.any(Array) });
      // Its own variables are checked by the same rules as every process's.
      process.env.PORT = '70000';
      expect(await cli('list')).toEqual({ code: 2, stdout: '', stderr: 'Invalid configuration: PORT: expected an integer from 0 to 65535 (got "70000")' });
    } finally {
      for (const name of ['LOG_LEVEL', 'STALE_AFTER_MS', 'DATABASE_URL', 'PORT']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe('sui-backfill backfill against the API', () => {
  it('start, list, status, pause, resume, cancel and delete, with --json and the exit codes', async () => {
    const started = await cli('start', pkg('token'), '--from', '100', '--to', '399', '--json');
    expect(started.code).toBe(0);
    const created = JSON.parse(started.stdout);
    expect(created).toMatchObject({ status: 'queued', originalPackageId: pkg('token'), match: 'outer', fromCheckpoint: '100', toCheckpoint: '399', enqueued: true });
    const id: string = created.id;

    const again = await cli('start', pkg('token'), '--from', '100', '--to', '399');
    expect(again).toMatchObject({ code: 0, stdout: `already active: ${id}  queued  ${pkg('token')}  match outer  checkpoints 100..399` });

    expect(await cli('start', '0xzz')).toMatchObject({ code: 6, stderr: 'invalid_request: packageId: expected 0x followed by 1 to 64 hex digits' });
    expect((await cli('start', `0x${randomBytes(32).toString('hex')}`)).code).toBe(4);

    const listed = await cli('list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [{ id, status: 'queued' }], nextCursor: null });
    const table = await cli('list', '--status', 'queued', '--package', pkg('token'));
    const short = `${pkg('token').slice(0, 6)}…${pkg('token').slice(-4)}`;
    expect(table).toEqual({
      code: 0,
      stdout: [
        'ID                                    STATUS  MATCH  DONE  WATERMARK/TO  CP/S  ETA  ROWS  PACKAGE',
        `${id}  queued  outer  0.0%  -/399            -  -       0  ${short}`,
      ].join('\n'),
      stderr: '',
    });
    expect((await cli('list', '--status', 'paused')).stdout).toBe('no backfills');
    expect((await cli('list', '--status', 'bogus')).code).toBe(6);

    const status = await cli('status', id);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`backfill   ${id}`);
    // Nothing done: no watermark yet (the stored one, 99, is the checkpoint before the range).
    expect(status.stdout).toContain('range      100..399  watermark -  done {}');
    expect(status.stdout).toContain('progress   [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░]   0.0%  cp -/399  rows 0  queued');
    expect(status.stdout).toMatch(new RegExp(`history:\n {2}\\S+ {2}\\(new\\) → queued +${ACTOR}$`, 'm'));
    expect(JSON.parse((await cli('status', id, '--json')).stdout)).toMatchObject({ id, status: 'queued', transitions: [{ from: null, to: 'queued', actor: ACTOR }] });

    expect(await cli('pause', id, '--reason', 'window')).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^paused: ${id}  paused  `)) });
    const conflict = await cli('pause', id, '--json');
    expect(conflict.code).toBe(5);
    expect(JSON.parse(conflict.stdout)).toEqual({
      error: { code: 'transition_not_allowed', message: `cannot pause backfill ${id}: it is paused; only queued and running backfills can be paused` },
    });
    expect(await cli('resume', id)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^resumed: ${id}  queued  `)) });
    expect((await cli('delete', id)).code).toBe(5);
    const cancelled = await cli('cancel', id, '--json', '--reason', 'not needed');
    expect(cancelled.code).toBe(0);
    const cancelledView = JSON.parse(cancelled.stdout);
    expect(cancelledView).toMatchObject({ id, status: 'cancelled', finishedAt: expect.any(String) });
    expect(cancelledView.transitions.map((t: { from: string; to: string; actor: string; reason: string }) => [t.from, t.to, t.actor, t.reason])).toEqual([
      [null, 'queued', ACTOR, null],
      ['queued', 'paused', ACTOR, 'window'],
      ['paused', 'queued', ACTOR, null],
      ['queued', 'cancelled', ACTOR, 'not needed'],
    ]);
    // A cancelled backfill: status exits 1; resume continues it as a new backfill.
    expect((await cli('status', id)).code).toBe(1);
    const continued = await cli('resume', id, '--json');
    expect(continued.code).toBe(0);
    const next = JSON.parse(continued.stdout);
    expect(next).toMatchObject({ resumedFromId: id, status: 'queued', fromCheckpoint: '100', toCheckpoint: '399' });
    expect(await cli('delete', id)).toMatchObject({ code: 0, stdout: `deleted: ${id}` });
    expect(await cli('delete', id, '--json')).toMatchObject({ code: 4, stdout: JSON.stringify({ error: { code: 'request_not_found', message: `no backfill request ${id}` } }) });
    expect(await cli('status', id)).toMatchObject({ code: 4, stderr: `request_not_found: no backfill request ${id}` });

    const history = JSON.parse((await cli('status', next.id, '--json')).stdout).transitions;
    expect(history).toEqual([{ from: null, to: 'queued', actor: ACTOR, reason: `continues cancelled backfill ${id} from its watermark 99`, at: expect.any(String) }]);
    expect(await cli('cancel', next.id)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^cancelled: ${next.id}  cancelled  `)) });
  });

  it('follows a backfill to the end with --watch, and exits 3, 7 when the API is unreachable or the token wrong', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 50 });
    try {
      stack.simnet.setKnobs({ latencyMs: 5 });
      const watched = await cli('start', pkg('nft'), '--from', '100', '--to', '699', '--watch', '--interval', '50', '--json');
      expect(watched.code).toBe(0);
      const lines = watched.stdout.split('\n').map((line) => JSON.parse(line));
      expect(lines[0]).toMatchObject({ fromCheckpoint: '100', toCheckpoint: '699' });
      expect(lines.at(-1)).toMatchObject({ status: 'completed', progress: { percent: 100 }, watermark: { checkpointHiInclusive: '699' } });
      const rows = stack.truth(pkg('nft'), 'outer', 100n, 699n).length;
      expect(lines.at(-1).rowsInserted).toBe(rows);

      const text = await cli('status', lines[0].id, '--watch', '--interval', '50');
      expect(text.code).toBe(0);
      const [bar] = text.stdout.split('\n');
      expect(bar).toBe(`[${'█'.repeat(30)}] 100.0%  cp 699/699  rows ${rows}  completed`);
      expect(text.stdout).toContain('recent chunks (newest first):');
      expect(text.stdout).toMatch(/^ {2}650\.\.699 +rows +\d+ +rpc +\d+ /m);
    } finally {
      stack.simnet.setKnobs({ latencyMs: 0 });
      await worker.close();
    }

    expect(await cli('list', '--api', 'http://127.0.0.1:1')).toMatchObject({ code: 3, stderr: expect.stringMatching(/^api_unreachable: the API at http:\/\/127\.0\.0\.1:1 did not answer/) });
    // Credentials in --api are never echoed, not even where fetch quotes the URL.
    const withSecrets = await cli('list', '--api', 'http://u:SECRET@127.0.0.1:1/');
    expect(withSecrets).toMatchObject({
      code: 3,
      stderr: 'api_unreachable: the API at http://127.0.0.1:1/… did not answer: Request cannot be constructed from a URL that includes credentials: http://127.0.0.1:1/…/v1/backfills',
    });
    const token = process.env.API_TOKEN;
    process.env.API_TOKEN = 'not-the-token-0123456789';
    try {
      expect(await cli('pause', '00000000-0000-4000-8000-000000000000')).toMatchObject({ code: 7, stderr: expect.stringMatching(/^unauthorized: /) });
      // The environment goes through the same validation as every process.
      process.env.API_TOKEN = 'short';
      expect(await cli('list')).toEqual({ code: 2, stdout: '', stderr: 'Invalid configuration: API_TOKEN: expected at least 16 characters (got "***")' });
    } finally {
      process.env.API_TOKEN = token;
    }
  });

  it('an answer that is not what the API schemas allow is an unexpected error saying so (exit 1)', async () => {
    // Answers every request with 200 and a body that is no backfill.
    const impostor = http.createServer((_, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"x","status":"queued"}'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const api = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
    const id = '00000000-0000-4000-8000-000000000000';
    try {
      const message = (what: string, problem: string) => `the API at ${api} answered ${what} with a body that is not what this client expects (${problem})`;
      const expected = (what: string, problem: string) => ({ code: 1, stdout: '', stderr: `unexpected error: ${message(what, problem)}` });
      const notABackfill = 'id: Invalid UUID; packageId: Invalid input: expected string, received undefined; originalPackageId: Invalid input: expected string, received undefined';
      expect(await cli('status', id, '--api', api)).toEqual(expected(`GET /v1/backfills/${id}`, notABackfill));
      expect(await cli('status', id, '--watch', '--api', api)).toEqual(expected(`GET /v1/backfills/${id}`, notABackfill));
      const deleted = message(`DELETE /v1/backfills/${id}`, 'body: Invalid input: expected ""');
      expect(await cli('delete', id, '--api', api, '--json')).toEqual({
        code: 1,
        stdout: JSON.stringify({ error: { code: 'api_response_invalid', message: deleted } }),
        stderr: `unexpected error: ${deleted}`,
      });
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('start --watch exits 1 when the backfill fails', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20, BACKFILL_CHUNK_RETRIES: 0 });
    try {
      stack.simnet.setKnobs({ latencyMs: 20 });
      const watching = cli('start', pkg('book'), '--from', '500', '--to', '999', '--watch', '--interval', '50');
      await waitFor('the walk to commit a chunk', async () => {
        const rows = await stack.database.sql`select 1 from package_backfill_chunks c join package_backfill_requests r on r.id = c.request_id where r.from_checkpoint = 500 and r.package_id = ${pkg('book')}`;
        return rows.length > 0;
      });
      stack.simnet.setKnobs({ unavailableRate: 1 });
      const { code, stdout } = await watching;
      expect(code).toBe(1);
      expect(stdout.split('\n')[0]).toMatch(/^started: \S+  queued  /);
      expect(stdout.split('\n').at(-1)).toMatch(/  failed$/);
      // The list says why, under the row, cut to 120 columns.
      const id = /^started: (\S+)/.exec(stdout)![1];
      const [failed] = JSON.parse((await cli('list', '--status', 'failed', '--package', pkg('book'), '--json')).stdout).items;
      expect(failed).toMatchObject({ id, lastError: expect.stringMatching(/^chunk \[\d+, \d+\] failed \(fetch, \d+ attempt\(s\)\): getCheckpoint/) });
      const lines = (await cli('list', '--status', 'failed', '--package', pkg('book'))).stdout.split('\n');
      expect(lines[0]).toMatch(/^ID {36}STATUS  MATCH +DONE  WATERMARK\/TO +CP\/S  ETA +ROWS  PACKAGE$/);
      expect(lines[1]).toMatch(new RegExp(`^${id}  failed  outer +\\d+\\.\\d%  \\d+/999 +-  -  +\\d+  0x[0-9a-f]{4}…[0-9a-f]{4}$`));
      const because = `  last error: ${failed.lastError}`;
      expect(lines.slice(2)).toEqual([because.length > 120 ? `${because.slice(0, 119)}…` : because]);
    } finally {
      stack.simnet.setKnobs({ latencyMs: 0, unavailableRate: 0 });
      await worker.close();
    }
  });

  it('status --watch on a terminal draws a live bar with the rate and ETA while the backfill runs', async () => {
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 10 });
    const writes: string[] = [];
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
    try {
      stack.simnet.setKnobs({ latencyMs: 30 });
      const { body } = await stack.call('POST', '/v1/backfills', { packageId: pkg('nft'), fromCheckpoint: 800, toCheckpoint: 1199 });
      const { code } = await cli('status', body.id, '--watch', '--interval', '100');
      expect(code).toBe(0);
    } finally {
      write.mockRestore();
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
      stack.simnet.setKnobs({ latencyMs: 0 });
      await worker.close();
    }
    const bars = writes.filter((chunk) => chunk.startsWith('\r['));
    // Redrawn in place while running, with the rate and ETA; the last one ends the line.
    const live = bars.filter((bar) => /^\r\[[█░]{30}\] +\d+\.\d%  cp \d+\/1199  \d+ cp\/s  ETA \d+s  rows \d+  running\x1b\[K$/.test(bar));
    expect(live.length).toBeGreaterThan(2);
    expect(bars.at(-1)).toMatch(/^\r\[█{30}\] 100\.0%  cp 1199\/1199  rows \d+  completed\x1b\[K\n$/);
  });

  it('--watch rides out an API restart, saying so on stderr, and gives up with exit 3 after a sustained outage', async () => {
    // An API process of its own, killed and started again on the same port.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const startApiProcess = async () => {
      const api = spawnCli(['api', '--no-migrate'], { ...stack.env, PORT: String(port), LOG_LEVEL: 'info' });
      await waitForOutput(api, 'api listening');
      return api;
    };
    let api = await startApiProcess();
    const worker = await stack.startWorker({ BACKFILL_CHUNK_SIZE: 20 });
    try {
      // Slow enough (about 2 s) to be running when its API dies.
      stack.simnet.setKnobs({ latencyMs: 40 });
      const { body } = await stack.call('POST', '/v1/backfills', { packageId: pkg('dex'), fromCheckpoint: 800, toCheckpoint: 1199 });
      const watching = cli('status', body.id, '--watch', '--interval', '50', '--api', url);
      await sleep(200);
      api.kill('SIGKILL');
      await api.exited;
      await sleep(1_000);
      api = await startApiProcess();
      const { code, stdout, stderr } = await watching;
      expect(code).toBe(0);
      expect(stdout).toContain(`backfill   ${body.id}`);
      expect(stdout).toContain('status     completed');
      const lines = stderr.split('\n');
      expect(lines[0]).toMatch(new RegExp(`^api_unreachable: the API at ${url} did not answer: .+; retrying in 0\\.5s \\(giving up after 1m00s without an answer\\)$`));
      expect(lines.at(-1)).toMatch(new RegExp(`^the API answers again after \\d+(m\\d\\d)?s; following ${body.id}$`));
      expect(lines.slice(0, -1).every((line) => line.startsWith('api_unreachable: '))).toBe(true);
    } finally {
      stack.simnet.setKnobs({ latencyMs: 0 });
      await worker.close();
      api.kill('SIGKILL');
      await api.exited;
    }

    // Nothing answers: retried for the time given, then exit 3.
    const started = Date.now();
    const { code, stderr } = await cli('status', '00000000-0000-4000-8000-000000000000', '--watch', '--give-up-after', '2000', '--api', url);
    expect(code).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    const lines = stderr.split('\n').map((line) => line.replace(/did not answer: .+; retrying/, 'did not answer: …; retrying'));
    // Backoff doubling from half a second, the last wait cut to what is left of the 2 s.
    expect(lines.slice(0, 2)).toEqual([
      `api_unreachable: the API at ${url} did not answer: …; retrying in 0.5s (giving up after 2s without an answer)`,
      `api_unreachable: the API at ${url} did not answer: …; retrying in 1.0s (giving up after 2s without an answer)`,
    ]);
    expect(lines.slice(2, -1).every((line) => /^api_unreachable: .+; retrying in 0\.\ds \(giving up after 2s without an answer\)$/.test(line))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^api_unreachable: the API at ${url} did not answer`));
  });

  it('runs as the real binary: help, --json output and exit codes', async () => {
    const { body } = await stack.call('POST', '/v1/backfills', { packageId: pkg('book'), fromCheckpoint: 100, toCheckpoint: 199 });
    const env = { API_TOKEN: TEST_TOKEN, PORT: new URL(stack.api.url).port };
    const [help, status, conflict, unreachable] = await Promise.all([
      runCli(['backfill', 'status', '--help'], env),
      runCli(['backfill', 'status', body.id, '--json'], env),
      runCli(['backfill', 'resume', body.id], env),
      runCli(['backfill', 'list', '--api', 'http://127.0.0.1:1'], env),
    ]);
    expect(help.code).toBe(0);
    expect(help.output).toContain('Usage: sui-backfill backfill status <id> [--watch] [--interval MS]');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.output)).toMatchObject({ id: body.id, status: 'queued' });
    expect(conflict.code).toBe(5);
    expect(conflict.output).toContain(`transition_not_allowed: cannot resume backfill ${body.id}: it is queued`);
    expect(unreachable.code).toBe(3);
  });
});
