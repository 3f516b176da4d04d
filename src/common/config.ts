import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { redactUrl } from './redact-url.ts';

const MAINNET_GRPC_URL = 'https://fullnode.mainnet.sui.io:443';

const integer = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ error: `expected an integer from ${min} to ${max}` }).int(`expected an integer from ${min} to ${max}`).min(min, `expected an integer from ${min} to ${max}`).max(max, `expected an integer from ${min} to ${max}`);

const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);

export const postgresUrlSchema = url(['postgres:', 'postgresql:']);
export const redisUrlSchema = url(['redis:', 'rediss:']);

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const hostSchema = z.string().refine((value) => isIP(value) !== 0 || HOST_NAME.test(value), 'expected an IP address or a host name');

const urlList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(url(['http:', 'https:'])).min(1, 'expected one or more http(s) URLs, comma-separated'));

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Retries of a failed RPC call unless RPC_MAX_RETRIES says otherwise (also the Sui source's default). */
export const DEFAULT_RPC_MAX_RETRIES = 6;

/** Each variable of the environment with its rules. */
const fields = {
  DATABASE_URL: postgresUrlSchema.default('postgres://postgres@127.0.0.1:5432/sui_backfill'),
  REDIS_URL: redisUrlSchema.default(DEFAULT_REDIS_URL),
  /** Namespace of every Redis key (BullMQ prefix), so several deployments can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, _ . : or -').default('sui-backfill'),
  SUI_GRPC_URL: urlList.default([MAINNET_GRPC_URL]),
  /** Optional archival endpoint for history below the full nodes' lowest available checkpoint. */
  SUI_ARCHIVE_GRPC_URL: url(['http:', 'https:']).optional(),
  PORT: integer(0, 65535).default(3000),
  /** Where worker and indexer processes serve /metrics (the API serves its own on PORT); unset: off. */
  METRICS_PORT: integer(0, 65535).optional(),
  HOST: hostSchema.default('127.0.0.1'),
  API_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  BACKFILL_CHUNK_SIZE: integer(1, 100_000).default(100),
  /** How many more times a walk tries a chunk whose RPC calls or commit still failed transiently after their own retries. */
  BACKFILL_CHUNK_RETRIES: integer(0, 100).default(5),
  /** The first wait before a chunk's next try; it doubles at each try, up to 30 s. */
  BACKFILL_CHUNK_RETRY_BASE_MS: integer(10, 600_000).default(2_000),
  WORKER_CONCURRENCY: integer(1, 64).default(2),
  RPC_CONCURRENCY: integer(1, 1024).default(32),
  RPC_REQUESTS_PER_SECOND: integer(1, 1_000_000).default(100),
  /**
   * Deadline of one call. A hung call holds one of the RPC_CONCURRENCY slots until then; a node
   * answers a checkpoint in well under a second, so 10 s leaves room for the largest ones.
   */
  RPC_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  RPC_MAX_RETRIES: integer(0, 100).default(DEFAULT_RPC_MAX_RETRIES),
  /** RPC_REQUESTS_PER_SECOND is the limit of all replicas together, enforced by a token bucket in Redis. */
  RPC_SHARED_BUDGET: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(false),
  /** How often each process reads the RPC limits operators set with PUT /v1/config/rpc. */
  RPC_SETTINGS_POLL_MS: integer(100, 60_000).default(1_000),
  /** How long a Sui endpoint that keeps failing is put aside before it is tried again. */
  RPC_ENDPOINT_COOLDOWN_MS: integer(100, 3_600_000).default(30_000),
  HEARTBEAT_INTERVAL_MS: integer(100, 600_000).default(5_000),
  STALE_AFTER_MS: integer(300, 3_600_000).default(30_000),
  /** On SIGTERM a worker waits this long for its chunks in flight, then abandons them (never committed) and hands the requests back. */
  WORKER_SHUTDOWN_GRACE_MS: integer(0, 600_000).default(10_000),
  RECONCILE_INTERVAL_MS: integer(100, 3_600_000).default(30_000),
  INDEXER_FIRST_CHECKPOINT: z
    .string()
    .regex(/^\d+$/, 'expected a checkpoint sequence number')
    .transform((value) => BigInt(value))
    // Checkpoints are stored as int8.
    .refine((value) => value <= 2n ** 63n - 1n, 'expected a checkpoint sequence number of at most 2^63 - 1')
    .optional(),
  INDEXER_POLL_INTERVAL_MS: integer(10, 600_000).default(500),
  /** Checkpoints the live indexer commits per transaction while catching up. */
  INDEXER_BATCH_SIZE: integer(1, 10_000).default(100),
  /** How long intake waits for a running indexer to start covering a newly tracked package. */
  INDEXER_HANDOFF_TIMEOUT_MS: integer(0, 600_000).default(10_000),
  /** How long intake's calls to the Sui RPC may take in all (retries included, the wait for the indexer not) before a POST answers 503. */
  INTAKE_TIMEOUT_MS: integer(100, 600_000).default(20_000),
};

/**
 * The environment every process reads. Same names everywhere; a bad value stops the process with
 * one line naming the variable.
 */
export const configSchema = z.object(fields).refine((config) => config.STALE_AFTER_MS >= 3 * config.HEARTBEAT_INTERVAL_MS, {
  error: (issue) => {
    const heartbeat = (issue.input as { HEARTBEAT_INTERVAL_MS?: number } | undefined)?.HEARTBEAT_INTERVAL_MS;
    return `must be at least 3 times HEARTBEAT_INTERVAL_MS (${heartbeat} ms), so that a few late heartbeats are not taken for a dead worker`;
  },
  path: ['STALE_AFTER_MS'],
});

export type Config = z.infer<typeof configSchema>;

/** Variables holding several URLs, comma-separated. */
const URL_LISTS = new Set(['SUI_GRPC_URL']);

/**
 * What an error may echo of a variable's value: never a token, and of a URL (any *_URL variable)
 * only what cannot be a key or a password.
 */
function shownValue(name: string, value: string): string {
  if (name === 'API_TOKEN') return '***';
  if (!name.endsWith('_URL')) return value;
  return URL_LISTS.has(name) ? value.split(',').map((part) => redactUrl(part.trim())).join(',') : redactUrl(value);
}

/**
 * Validates variables against `schema`. Throws a `ConfigError` whose message is one line naming
 * each bad variable, or what `names` calls it (the flag that set it).
 */
export function parseVariables<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>, names: Record<string, string> = {}): z.output<T> {
  // An empty value is unset, as most tools take it: a compose file or unit passing `VAR=${VAR}` through sets it empty.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const given = present[name];
      const shown = given === undefined ? 'missing' : `got ${JSON.stringify(shownValue(name, given))}`;
      return `${names[name] ?? name}: ${issue.message} (${shown})`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Reads and validates the environment. Throws a `ConfigError` whose message is one line; `names` as in parseVariables. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}, names: Record<string, string> = {}): Config {
  return { ...parseVariables(configSchema, env, names), ...overrides };
}

/**
 * Reads and validates only the variables named, by the same rules: for a command that needs a few
 * of them and must not fail on a variable meant for the services.
 */
export function loadConfigOf<const K extends keyof typeof fields>(names: readonly K[], env: Record<string, string | undefined> = process.env): Pick<Config, K> {
  const picked = Object.fromEntries(names.map((name) => [name, fields[name]])) as Pick<typeof fields, K>;
  return parseVariables(z.object(picked), env) as Pick<Config, K>;
}
