import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/common/process.ts';
import { parseSimnetFlags, runSimnet } from '../src/simnet/process.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const FIXTURES = path.resolve(import.meta.dirname, '../../shared/fixtures/sui');

const FLAGS = [
  '--seed',
  '--checkpoints',
  '--initial-tip',
  '--tx-per-checkpoint',
  '--package-traffic',
  '--mainnet-fixtures',
  '--host',
  '--port',
  '--tip-advance-ms',
  '--lowest-available',
  '--latency-ms',
  '--rate-limit-rps',
  '--rate-limit-style',
  '--unavailable-rate',
  '--hang-rate',
  '--hang-ms',
  '--truncate-rate',
  '--max-response-bytes',
  '--omit-changed-object-types',
  '--response-cache-mb',
  '--help',
];

describe('sui-backfill simnet', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('lists every flag in --help', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await runSimnet(['--help'])).toBe(0);
    const help = log.mock.calls.map((call) => String(call[0])).join('\n');
    for (const flag of FLAGS) expect(help).toContain(flag);
  });

  it('parses flags into chain options and knobs, and rejects bad values', () => {
    const parsed = parseSimnetFlags(
      ['--seed', '9', '--checkpoints', '5000', '--initial-tip', '100', '--lowest-available', '10', '--rate-limit-rps', '50', '--rate-limit-style', 'http', '--hang-rate', '0.25', '--port', '0', '--response-cache-mb', '512'],
      { host: '127.0.0.1' },
    );
    expect(parsed.chain).toEqual({
      seed: 9,
      checkpoints: 5000,
      initialTip: 100,
      txPerCheckpoint: undefined,
      packageTrafficFraction: undefined,
      lowestAvailableCheckpoint: 10,
    });
    expect(parsed.knobs).toEqual({ lowestAvailableCheckpoint: 10, rateLimitRps: 50, rateLimitStyle: 'http', hangRate: 0.25 });
    expect(parsed.port).toBe(0);
    expect(parsed.responseCacheMb).toBe(512);
    expect(parsed.host).toBe('127.0.0.1');
    expect(() => parseSimnetFlags(['--hang-rate', '2'], { host: 'x' })).toThrow(UsageError);
    expect(() => parseSimnetFlags(['--rate-limit-style', 'smtp'], { host: 'x' })).toThrow(/--rate-limit-style/);
    expect(() => parseSimnetFlags(['--bogus'], { host: 'x' })).toThrow(UsageError);

    const placed = parseSimnetFlags(['--objects-per-tx', '2.5', '--publish-at', 'dex=10,20,30', '--publish-at', 'token=5'], { host: 'x' });
    expect(placed.chain).toMatchObject({ objectsPerTransaction: 2.5, publishAt: { dex: [10, 20, 30], token: [5] } });
    expect(() => parseSimnetFlags(['--publish-at', 'std=1'], { host: 'x' })).toThrow('--publish-at: expected NAME=C1[,C2,...] with NAME one of token, dex, book, nft, late');
  });

  it('serves until SIGTERM, then exits 0', async () => {
    const args = ['--checkpoints', '600', '--port', '0', '--seed', '4'];
    const withFixtures = existsSync(path.join(FIXTURES, 'mainnet'));
    if (withFixtures) args.push('--mainnet-fixtures', FIXTURES);
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', "import { runSimnet } from './src/simnet/process.ts'; process.exitCode = await runSimnet(process.argv.slice(1));", '--', ...args],
      { cwd: REPO, env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => {
          const entry = JSON.parse(line) as { url?: string; msg?: string };
          if (entry.msg?.startsWith('simnet listening') && entry.url) resolve(entry.url);
        });
        child.once('exit', (code) => reject(new Error(`simnet exited early with ${code}`)));
      });
      expect(await (await fetch(`${url}/simnet/health`)).json()).toEqual({ ok: true, tip: 599 });
      const client = new SuiGrpcClient({ network: 'localnet', baseUrl: url });
      expect((await client.ledgerService.getServiceInfo({})).response.checkpointHeight).toBe(599n);
      if (withFixtures) {
        const { checkpoint } = (await client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'sequenceNumber', sequenceNumber: 16005062n } })).response;
        expect(checkpoint!.sequenceNumber).toBe(16005062n);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
