import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { toListenError } from '../common/listen.ts';
import { EXIT, UsageError, parseFlagValues, parseFlags, runService, type Command } from '../common/process.ts';
import { createSimChain, type SimChain, type SimChainOptions } from './chain.ts';
import type { Ledger } from './ledger.ts';
import { createMainnetLedger, MAINNET_CHECKPOINTS, MainnetFixtureError } from './mainnet.ts';
import { createSimnetServer, type SimnetKnobs, type SimnetServer } from './server.ts';

const SIMNET_HELP = `Usage: sui-backfill simnet [options]

Serves a deterministic, seeded Sui chain over gRPC-web (sui.rpc.v2), as a full node does, so
SuiGrpcClient and every process of this project can run against it (SUI_GRPC_URL=<url>).
Control routes: GET /simnet/health, GET /simnet/stats, POST /simnet/stats/reset,
GET|POST /simnet/knobs (JSON, the knob names below in camelCase).

Chain:
  --seed N                         seed of everything generated (default 1)
  --checkpoints N                  checkpoints generated, 0 .. N-1 (default 20000, at least 100)
  --initial-tip N                  highest checkpoint at start, at most N-1 (default N-1)
  --tx-per-checkpoint N            mean transactions per checkpoint (default 12)
  --package-traffic F              fraction of user transactions touching the simulator's
                                   packages (default 0.1)
  --objects-per-tx F               mean objects an unrelated user transaction creates (default 1)
  --publish-at NAME=C1[,C2,C3]     checkpoints of a package's publish and upgrades (token, book,
                                   nft: 1; dex, late: 3), once per package; dex links against
                                   token, so token must come first (by default at 1% of the chain,
                                   dex at 2%), e.g. --publish-at token=50 --publish-at dex=100,300,500
  --mainnet-fixtures DIR           also serve the real mainnet checkpoints of DIR/mainnet or DIR
                                   (e.g. ../shared/fixtures/sui), read at start

Server:
  --host HOST                      listen address (default HOST, 127.0.0.1)
  --port N                         listen port (default 9000; 0 picks a free port)
  --response-cache-mb N            encoded checkpoint responses kept for repeated reads
                                   (default 32)

Knobs (also settable at runtime through POST /simnet/knobs):
  --tip-advance-ms N               advance the tip by one checkpoint every N ms (default 0: static)
  --lowest-available N             prune checkpoints below N, at most the initial tip (default 0)
  --latency-ms N                   latency added to every RPC (default 0)
  --rate-limit-rps N               requests per second before throttling (default 0: unlimited)
  --rate-limit-style grpc|http     RESOURCE_EXHAUSTED, or HTTP 429 as a proxy answers (default grpc)
  --unavailable-rate F             fraction of RPCs answered UNAVAILABLE (default 0)
  --hang-rate F                    fraction of RPCs held for --hang-ms (default 0)
  --hang-ms N                      how long a hung RPC is held (default 120000)
  --truncate-rate F                fraction of responses cut inside the data frame (default 0)
  --max-response-bytes N           refuse larger responses with OUT_OF_RANGE, as tonic does (default 0: none)
  --omit-changed-object-types F    fraction of changed objects served without object_type (default 0)
  -h, --help                       show this help

Environment: HOST, LOG_LEVEL, LOG_FORMAT`;

const integer = (min: number, max?: number) => {
  const message = max === undefined ? `expected an integer of at least ${min}` : `expected an integer from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max ?? Number.MAX_SAFE_INTEGER, message);
};
const decimal = (min: number, max: number, message = `expected a number from ${min} to ${max}`) =>
  z.coerce.number({ error: message }).min(min, message).max(max, message);
const count = integer(0);
const share = decimal(0, 1);
/** Node fires a longer timer at once: a delay past it would do the opposite of what it says. */
const delayMs = integer(0, 2_147_483_647);
/** The simulator's flags, by name; `dev` checks the two it passes on with the same rules. */
export const simnetFlagsSchema = z.object({
  seed: count.optional(),
  checkpoints: integer(100).optional(),
  'initial-tip': count.optional(),
  'tx-per-checkpoint': z.coerce.number({ error: 'expected a number above 0' }).positive('expected a number above 0').optional(),
  'package-traffic': share.optional(),
  'objects-per-tx': decimal(0, 100).optional(),
  'publish-at': z
    .array(z.string().regex(/^(token|dex|book|nft|late)=\d+(,\d+)*$/, 'expected NAME=C1[,C2,...] with NAME one of token, dex, book, nft, late'))
    .optional(),
  'mainnet-fixtures': z.string().min(1, 'expected a directory').optional(),
  // Validated as HOST, with the rest of the environment.
  host: z.string().optional(),
  port: integer(0, 65535).optional(),
  'response-cache-mb': count.optional(),
  'tip-advance-ms': delayMs.optional(),
  'lowest-available': count.optional(),
  'latency-ms': delayMs.optional(),
  'rate-limit-rps': decimal(0, Number.MAX_SAFE_INTEGER, 'expected a number of at least 0').optional(),
  'rate-limit-style': z.enum(['grpc', 'http'], { error: 'expected grpc or http' }).optional(),
  'unavailable-rate': share.optional(),
  'hang-rate': share.optional(),
  'hang-ms': delayMs.optional(),
  'truncate-rate': share.optional(),
  'max-response-bytes': count.optional(),
  'omit-changed-object-types': share.optional(),
});

const FLAG_NAMES = Object.keys(simnetFlagsSchema.shape);
const DEFAULT_PORT = 9000;
const DEFAULT_CHECKPOINTS = 20_000;

type SimnetOptions = {
  chain?: SimChainOptions;
  knobs?: Partial<SimnetKnobs>;
  host: string;
  port: number;
  responseCacheMb?: number;
  mainnetFixtures?: string;
};

type RunningSimnet = { url: string; chain: SimChain; server: SimnetServer; close: () => Promise<void> };

/**
 * Parses `sui-backfill simnet` flags into chain, server and knob options. `host` is the flag's
 * alone: without it the process listens on HOST, validated with the rest of the environment.
 */
export function parseSimnetFlags(argv: string[]): Omit<SimnetOptions, 'host'> & { host: string | undefined; help: boolean } {
  const options = Object.fromEntries(FLAG_NAMES.map((name) => [name, { type: 'string' as const, multiple: name === 'publish-at' }]));
  const { values } = parseFlags(argv, options);
  const { help, ...given } = values as Record<string, string | string[] | undefined> & { help?: boolean };
  const flags = parseFlagValues(simnetFlagsSchema, given);
  const checkpoints = flags.checkpoints ?? DEFAULT_CHECKPOINTS;
  const last = checkpoints - 1;
  if (flags['initial-tip'] !== undefined && flags['initial-tip'] > last) {
    throw new UsageError(`--initial-tip: ${flags['initial-tip']} is past the chain's last checkpoint, ${last} (--checkpoints ${checkpoints})`);
  }
  const tip = flags['initial-tip'] ?? last;
  if (flags['lowest-available'] !== undefined && flags['lowest-available'] > tip) {
    throw new UsageError(`--lowest-available: ${flags['lowest-available']} is above the initial tip, ${tip}; nothing would be served`);
  }
  const faults = (flags['unavailable-rate'] ?? 0) + (flags['hang-rate'] ?? 0) + (flags['truncate-rate'] ?? 0);
  // Each request gets one fault at most: shares adding up past 1 cannot all be served.
  if (faults > 1) throw new UsageError(`--unavailable-rate, --hang-rate, --truncate-rate: add up to ${faults}; expected at most 1 together`);
  const publishAt: Record<string, number[]> = {};
  for (const entry of flags['publish-at'] ?? []) {
    const [name, list] = entry.split('=');
    if (publishAt[name]) throw new UsageError(`--publish-at: ${name} given twice (${name}=${publishAt[name].join(',')} and ${entry}); give each package once`);
    publishAt[name] = list.split(',').map(Number);
    const past = publishAt[name].find((checkpoint) => checkpoint > last);
    if (past !== undefined) throw new UsageError(`--publish-at: ${entry}: checkpoint ${past} is past the chain's last checkpoint, ${last} (--checkpoints ${checkpoints})`);
  }
  const knobs: Partial<SimnetKnobs> = {
    tipAdvanceMs: flags['tip-advance-ms'],
    lowestAvailableCheckpoint: flags['lowest-available'],
    latencyMs: flags['latency-ms'],
    rateLimitRps: flags['rate-limit-rps'],
    rateLimitStyle: flags['rate-limit-style'],
    unavailableRate: flags['unavailable-rate'],
    hangRate: flags['hang-rate'],
    hangMs: flags['hang-ms'],
    truncateRate: flags['truncate-rate'],
    maxResponseBytes: flags['max-response-bytes'],
    omitChangedObjectTypes: flags['omit-changed-object-types'],
  };
  return {
    help: help === true,
    chain: {
      seed: flags.seed,
      checkpoints,
      initialTip: flags['initial-tip'],
      txPerCheckpoint: flags['tx-per-checkpoint'],
      packageTrafficFraction: flags['package-traffic'],
      objectsPerTransaction: flags['objects-per-tx'],
      publishAt: flags['publish-at'] && publishAt,
      lowestAvailableCheckpoint: flags['lowest-available'],
    },
    knobs: Object.fromEntries(Object.entries(knobs).filter(([, value]) => value !== undefined)),
    host: flags.host,
    port: flags.port ?? DEFAULT_PORT,
    responseCacheMb: flags['response-cache-mb'],
    mainnetFixtures: flags['mainnet-fixtures'],
  };
}

/**
 * The mainnet fixtures of `dir` (the fixtures directory or its `mainnet` folder), read now so that
 * a wrong directory fails at start rather than every request that reaches the ledger.
 */
function loadMainnetLedger(dir: string): Ledger {
  const resolved = path.resolve(dir);
  const root = !existsSync(path.join(resolved, 'mainnet')) && path.basename(resolved) === 'mainnet' ? path.dirname(resolved) : resolved;
  const ledger = createMainnetLedger(root);
  try {
    ledger.getCheckpoint(MAINNET_CHECKPOINTS[0]);
  } catch (error) {
    throw error instanceof MainnetFixtureError ? error : new MainnetFixtureError(`cannot load the mainnet fixtures of ${root}/mainnet: ${errorMessage(error)}`, error);
  }
  return ledger;
}

/**
 * Generates the chain and starts serving it; the mainnet fixture checkpoints, if given, answer
 * first. `addressSettings` names what chose the address in the error of a failed listen.
 */
export async function startSimnet(common: Pick<Common, 'logger'>, options: SimnetOptions & { addressSettings?: string }): Promise<RunningSimnet> {
  const started = performance.now();
  const chain = createSimChain(options.chain);
  const ledgers: Ledger[] = options.mainnetFixtures ? [loadMainnetLedger(options.mainnetFixtures), chain] : [chain];
  const responseCacheBytes = options.responseCacheMb === undefined ? undefined : options.responseCacheMb * 1024 * 1024;
  const server = await createSimnetServer({ chain, ledgers, host: options.host, port: options.port, responseCacheBytes, logger: common.logger, ...options.knobs }).catch(
    (error: unknown) => {
      throw toListenError(error, { host: options.host, port: options.port, settings: options.addressSettings });
    },
  );
  common.logger.info(
    {
      url: server.url,
      seed: chain.seed,
      checkpoints: chain.checkpointCount,
      transactions: chain.totalTransactions,
      tip: Number(chain.tip()),
      generatedMs: Math.round(performance.now() - started),
      packages: Object.fromEntries(chain.packages.map((pkg) => [pkg.name, pkg.originalId])),
      mainnetFixtures: options.mainnetFixtures ?? null,
    },
    `simnet listening on ${server.url}`,
  );
  return { url: server.url, chain, server, close: () => server.close() };
}

/** What the flags cannot build, said as a usage error naming the flag. */
function asUsageError(error: unknown): unknown {
  // Placements the chain refuses (dex before token, upgrades out of order) are named by their option, publishAt.
  if (error instanceof RangeError) return new UsageError(error.message.replace(/\bpublishAt\b(\.)?/g, (_, dot) => (dot ? '--publish-at ' : '--publish-at')));
  if (error instanceof MainnetFixtureError) return new UsageError(`--mainnet-fixtures: ${error.message} (expected DIR or DIR/mainnet holding the fixture files, e.g. ../shared/fixtures/sui)`);
  return error;
}

/** `sui-backfill simnet`: runs until SIGTERM/SIGINT, then closes the server and resolves with 0. */
export async function runSimnet(argv: string[]): Promise<number> {
  const parsed = parseSimnetFlags(argv);
  if (parsed.help) {
    console.log(SIMNET_HELP);
    return EXIT.ok;
  }
  // --host arrives as HOST, so the flag and the variable are validated alike.
  return runService('simnet', { flags: { HOST: ['--host', parsed.host] } }, async (common) => {
    const addressSettings = `${parsed.host === undefined ? 'HOST' : '--host'}, --port`;
    const simnet = await startSimnet(common, { ...parsed, host: common.config.HOST, addressSettings }).catch((error: unknown) => {
      throw asUsageError(error);
    });
    common.shutdown.add('simnet', () => simnet.close());
  });
}

export const simnetCommand: Command = {
  name: 'simnet',
  help: SIMNET_HELP,
  run: runSimnet,
};
