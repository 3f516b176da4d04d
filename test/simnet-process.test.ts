import net from 'node:net';
import path from 'node:path';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/common/process.ts';
import { parseSimnetFlags, runSimnet } from '../src/simnet/process.ts';
import { hasMainnetFixtures, mainnetFixturesDir, withFixtures } from './helpers/fixtures.ts';
import { runCli, spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';

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
  '--objects-per-tx',
  '--publish-at',
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
    expect(parseSimnetFlags([]).chain?.checkpoints).toBe(20_000);
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
    expect(() => parseSimnetFlags(['--publish-at', 'std=1'])).toThrow('--publish-at: expected NAME=C1[,C2,...] with NAME one of token, dex, book, nft, late (got "std=1")');
  });

  it.each([
    [['--port', 'abc'], '--port: expected an integer from 0 to 65535 (got "abc")'],
    [['--checkpoints', '-5'], '--checkpoints: expected an integer of at least 100 (got "-5")'],
    [['--seed', '1.5'], '--seed: expected an integer of at least 0 (got "1.5")'],
    [['--hang-rate', 'x'], '--hang-rate: expected a number from 0 to 1 (got "x")'],
    [['--hang-ms', '3000000000'], '--hang-ms: expected an integer from 0 to 2147483647 (got "3000000000")'],
    [['--tip-advance-ms', '2147483648'], '--tip-advance-ms: expected an integer from 0 to 2147483647 (got "2147483648")'],
    [['--unavailable-rate', '0.5', '--hang-rate', '0.25', '--truncate-rate', '0.5'], '--unavailable-rate, --hang-rate, --truncate-rate: add up to 1.25; expected at most 1 together'],
    [['--initial-tip', '600', '--checkpoints', '600'], "--initial-tip: 600 is past the chain's last checkpoint, 599 (--checkpoints 600)"],
    [['--initial-tip', '20000'], "--initial-tip: 20000 is past the chain's last checkpoint, 19999 (--checkpoints 20000)"],
    [['--lowest-available', '101', '--initial-tip', '100'], '--lowest-available: 101 is above the initial tip, 100; nothing would be served'],
    [['--lowest-available', '600', '--checkpoints', '600'], '--lowest-available: 600 is above the initial tip, 599; nothing would be served'],
    [['--publish-at', 'token=5', '--publish-at', 'token=7'], '--publish-at: token given twice (token=5 and token=7); give each package once'],
    [['--publish-at', 'dex=10,20,700', '--checkpoints', '600'], "--publish-at: dex=10,20,700: checkpoint 700 is past the chain's last checkpoint, 599 (--checkpoints 600)"],
    [['--checkpoints'], "Option '--checkpoints <value>' argument missing"],
    [['--host', '-x'], "Option '--host' argument is ambiguous. Did you forget to specify the option argument for '--host'? To specify an option argument starting with a dash use '--host=-XYZ'."],
  ])('refuses %j with one line naming the flag', (argv, message) => {
    expect(() => parseSimnetFlags(argv)).toThrow(new UsageError(message));
  });

  it('accepts the edges: the tip at the last checkpoint, nothing pruned up to the tip', () => {
    expect(parseSimnetFlags(['--checkpoints', '600', '--initial-tip', '599', '--lowest-available', '599']).chain).toMatchObject({ initialTip: 599, lowestAvailableCheckpoint: 599 });
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

  it.skipIf(!hasMainnetFixtures()).each(['DIR', 'DIR/mainnet'])(withFixtures('serves the mainnet fixture checkpoints with --mainnet-fixtures %s, on the --host given'), async (form) => {
    const dir = form === 'DIR' ? mainnetFixturesDir() : path.join(mainnetFixturesDir(), 'mainnet');
    const simnet = await spawnSimnet(['--checkpoints', '600', '--port', '0', '--host', '127.0.0.1', '--mainnet-fixtures', dir], { HOST: '0.0.0.0' });
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

  describe('a configuration it cannot serve stops it with one line and exit 2 (3: the port is in use)', () => {
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const { code, output } = await runCli(['simnet', ...args], { LOG_LEVEL: 'info', ...env });
      return { code, lines: output.trim().split('\n') };
    };

    it('a publish placement the chain refuses: dex before token (token defaults to 1% of the chain)', async () => {
      expect(await run(['--publish-at', 'dex=100,300,500'])).toEqual({ code: 2, lines: ['--publish-at: dex links against token, so token must be published first'] });
    });

    it('a --mainnet-fixtures directory without the fixtures, before any request can reach it', async () => {
      expect(await run(['--checkpoints', '600', '--port', '0', '--mainnet-fixtures', '/nonexistent/fixtures'])).toEqual({
        code: 2,
        lines: [
          '--mainnet-fixtures: cannot read mainnet fixture /nonexistent/fixtures/mainnet/checkpoint-15918264.bcs-parts.json.gz ' +
            '(expected DIR or DIR/mainnet holding the fixture files, e.g. ../shared/fixtures/sui)',
        ],
      });
    });

    it('a bad --host, named as the flag; a bad HOST, named as the variable', async () => {
      expect(await run(['--host', 'bad host!'])).toEqual({ code: 2, lines: ['Invalid configuration: --host: expected an IP address or a host name (got "bad host!")'] });
      expect(await run([], { HOST: ' ' })).toEqual({ code: 2, lines: ['Invalid configuration: HOST: expected an IP address or a host name (got " ")'] });
    });

    it('a port in use (exit 3), and an address this machine does not have (exit 2)', async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as net.AddressInfo;
      try {
        expect(await run(['--checkpoints', '600', '--port', String(port)])).toEqual({
          code: 3,
          lines: [`cannot listen on 127.0.0.1:${port} (HOST, --port): address already in use (another process listens there)`],
        });
      } finally {
        holder.close();
      }
      // 192.0.2.0/24 is reserved for documentation: no machine has it.
      expect(await run(['--checkpoints', '600', '--port', '0', '--host', '192.0.2.1'])).toEqual({
        code: 2,
        lines: ['cannot listen on 192.0.2.1:0 (--host, --port): address not available (no interface of this machine has it)'],
      });
    });
  });
});
