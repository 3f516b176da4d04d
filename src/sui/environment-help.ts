import { configSchema, type Config } from '../common/config.ts';

/** The variables the RPC client reads, each with what it means. */
const RPC_VARIABLES: readonly [name: keyof Config, meaning: string][] = [
  ['SUI_GRPC_URL', 'Sui full nodes, comma-separated, in order of preference'],
  ['SUI_ARCHIVE_GRPC_URL', "archival endpoint for history below the full nodes' lowest available checkpoint"],
  ['RPC_REQUESTS_PER_SECOND', 'calls per second per process, or of all together with RPC_SHARED_BUDGET; PUT /v1/config/rpc overrides it'],
  ['RPC_CONCURRENCY', 'calls in flight per process; PUT /v1/config/rpc overrides it'],
  ['RPC_SHARED_BUDGET', 'true: every process draws from one token bucket in Redis, at the lowest rate any of them asks for'],
  ['RPC_TIMEOUT_MS', 'deadline of one call'],
  ['RPC_MAX_RETRIES', 'retries of a failed call (UNAVAILABLE, reset, deadline, garbled answer)'],
  ['RPC_SETTINGS_POLL_MS', 'how often the limits set with PUT /v1/config/rpc are read'],
  ['RPC_ENDPOINT_COOLDOWN_MS', 'how long an endpoint that failed (or refused our key) 3 times in a row is put aside'],
];

/** A variable's default as the schema gives it; undefined when it has none. */
function defaultOf(name: keyof Config): string | undefined {
  const value: unknown = configSchema.shape[name].parse(undefined);
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** The RPC client's part of every process's --help: one list, so no process leaves a variable out. */
export const RPC_ENVIRONMENT_HELP = [
  'RPC client environment (the same in every process):',
  ...RPC_VARIABLES.map(([name, meaning]) => {
    const fallback = defaultOf(name);
    return `  ${name.padEnd(26)}${meaning}${fallback === undefined ? '' : ` (default ${fallback})`}`;
  }),
].join('\n');
