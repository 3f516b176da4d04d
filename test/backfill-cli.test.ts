import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.ts';
import { runCli } from './helpers/processes.ts';
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
    expect((await cli()).code).toBe(2);
  });

  it.each(SUBCOMMANDS)('%s --help shows its usage and options', async (sub) => {
    const { code, stdout } = await cli(sub, '--help');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: sui-backfill backfill ${sub}( |$)`));
    expect(stdout).toContain('--json');
    expect(stdout).toContain('--api URL');
  });

  it('answers usage errors with exit code 2 and a hint', async () => {
    expect(await cli('bogus')).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown backfill command 'bogus'") });
    expect(await cli('status')).toMatchObject({ code: 2, stderr: "backfill status: expected <id>, got none\nRun 'sui-backfill backfill status --help' for its usage." });
    expect((await cli('status', 'a', 'b')).code).toBe(2);
    expect((await cli('list', 'extra')).code).toBe(2);
    expect((await cli('list', '--bogus')).code).toBe(2);
    expect((await cli('status', 'x', '--watch', '--interval', 'soon')).code).toBe(2);
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
    expect((await cli('start', pkg('token'), '--from', 'soon')).code).toBe(6);
    expect((await cli('start', `0x${randomBytes(32).toString('hex')}`)).code).toBe(4);

    const listed = await cli('list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ items: [{ id, status: 'queued' }], nextCursor: null });
    const table = await cli('list', '--status', 'queued', '--package', pkg('token'));
    expect(table.stdout.split('\n')).toHaveLength(2);
    expect(table.stdout.split('\n')[1]).toMatch(new RegExp(`^${id}  queued +outer +0\\.0%  99/399 +0  ${pkg('token')}$`));
    expect((await cli('list', '--status', 'paused')).stdout).toBe('no backfills');
    expect((await cli('list', '--status', 'bogus')).code).toBe(6);

    const status = await cli('status', id);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`backfill   ${id}`);
    expect(status.stdout).toContain('range      100..399  watermark 99');
    expect(status.stdout).toMatch(/history:\n {2}\S+ {2}\(new\) → queued +api$/m);
    expect(JSON.parse((await cli('status', id, '--json')).stdout)).toMatchObject({ id, status: 'queued', transitions: [{ from: null, to: 'queued', actor: 'api' }] });

    expect(await cli('pause', id, '--reason', 'window')).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^paused: ${id}  paused  `)) });
    const conflict = await cli('pause', id, '--json');
    expect(conflict.code).toBe(5);
    expect(JSON.parse(conflict.stdout)).toEqual({
      error: { code: 'transition_not_allowed', message: `cannot pause backfill ${id}: it is paused; only queued and running backfills can be paused` },
    });
    expect(await cli('resume', id)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^resumed: ${id}  queued  `)) });
    expect((await cli('delete', id)).code).toBe(5);
    expect(await cli('cancel', id)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^cancelled: ${id}  cancelled  `)) });
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
    expect(history).toEqual([{ from: null, to: 'queued', actor: 'api', reason: `continues cancelled backfill ${id} from its watermark 99`, at: expect.any(String) }]);
    expect((await cli('cancel', next.id)).code).toBe(0);
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
    const token = process.env.API_TOKEN;
    process.env.API_TOKEN = 'not-the-token-0123456789';
    try {
      expect(await cli('pause', '00000000-0000-4000-8000-000000000000')).toMatchObject({ code: 7, stderr: expect.stringMatching(/^unauthorized: /) });
    } finally {
      process.env.API_TOKEN = token;
    }
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
