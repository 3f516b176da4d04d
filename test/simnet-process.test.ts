import { SuiGrpcClient } from '@mysten/sui/grpc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/common/process.ts';
import { parseSimnetFlags, runSimnet } from '../src/simnet/process.ts';
import { hasMainnetFixtures, mainnetFixturesDir, withFixtures } from './helpers/fixtures.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';

/** `sui-backfill simnet <args>` as its own process, once it logged the URL it listens on. */
async function spawnSimnet(args: string[], env: Record<string, string>): Promise<Spawned & { url: string }> {
  const simnet = spawnCli(['simnet', ...args], { LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env });
  await waitForOutput(simnet, 'simnet listening');
  const listening = simnet
    .output()
    .split('\n')
    .map((line) => (line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {}))
    .find((entry) => entry.msg?.startsWith('simnet listening'));
  return { ...simnet, url: listening!.url! };
}

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
    // Without --host, HOST decides once the environment is validated.
    expect(parsed.host).toBeUndefined();
    expect(parseSimnetFlags(['--host', '0.0.0.0']).host).toBe('0.0.0.0');
    expect(() => parseSimnetFlags(['--hang-rate', '2'])).toThrow(UsageError);
    expect(() => parseSimnetFlags(['--rate-limit-style', 'smtp'])).toThrow(/--rate-limit-style/);
    expect(() => parseSimnetFlags(['--bogus'])).toThrow(UsageError);

    const placed = parseSimnetFlags(['--objects-per-tx', '2.5', '--publish-at', 'dex=10,20,30', '--publish-at', 'token=5']);
    expect(placed.chain).toMatchObject({ objectsPerTransaction: 2.5, publishAt: { dex: [10, 20, 30], token: [5] } });
    expect(() => parseSimnetFlags(['--publish-at', 'std=1'])).toThrow('--publish-at: expected NAME=C1[,C2,...] with NAME one of token, dex, book, nft, late');
  });

  it('serves until SIGTERM on the address HOST names, then exits 0', async () => {
    const simnet = await spawnSimnet(['--checkpoints', '600', '--port', '0', '--seed', '4'], { HOST: '0.0.0.0' });
    try {
      expect(simnet.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      expect(await (await fetch(`${simnet.url}/simnet/health`)).json()).toEqual({ ok: true, tip: 599 });
      const client = new SuiGrpcClient({ network: 'localnet', baseUrl: simnet.url });
      expect((await client.ledgerService.getServiceInfo({})).response.checkpointHeight).toBe(599n);
      simnet.kill('SIGTERM');
      expect(await simnet.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (simnet.child.exitCode === null) simnet.kill('SIGKILL');
    }
  });

  it.skipIf(!hasMainnetFixtures())(withFixtures('serves the mainnet fixture checkpoints with --mainnet-fixtures, on the --host given'), async () => {
    const simnet = await spawnSimnet(['--checkpoints', '600', '--port', '0', '--host', '127.0.0.1', '--mainnet-fixtures', mainnetFixturesDir()], { HOST: '0.0.0.0' });
    try {
      expect(simnet.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new SuiGrpcClient({ network: 'localnet', baseUrl: simnet.url });
      const { checkpoint } = (await client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'sequenceNumber', sequenceNumber: 16005062n } })).response;
      expect(checkpoint!.sequenceNumber).toBe(16005062n);
      simnet.kill('SIGTERM');
      expect(await simnet.exited).toEqual({ code: 0, signal: null });
    } finally {
      if (simnet.child.exitCode === null) simnet.kill('SIGKILL');
    }
  });
});
