import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { loadConfigOf } from '../common/config.ts';
import { ConfigError, errorMessage, SuiBackfillError } from '../common/errors.ts';
import { parseFlags, parseFlagValues, UsageError } from '../common/process.ts';
import { BACKFILL_EXIT, DEFAULT_INTERVAL_MS, reportError, type BackfillSubcommand, type SubcommandName } from './backfill-cli.ts';
import { backfillTable } from './backfill-table.ts';
import { ApiRequestError, ApiUnreachableError, createApiClient, type ApiClient, type Backfill } from './client.ts';
import { formatDuration, progressLine, shownWatermark } from './progress-bar.ts';
import { CreateBackfillSchema, ListBackfillsQuerySchema } from './schemas.ts';
import { DEFAULT_GIVE_UP_AFTER_MS, watchBackfill } from './watch.ts';

/*
 * What each `sui-backfill backfill` subcommand does, against the API: loaded by backfill-cli.ts
 * (which has their usage and help) once one runs.
 */

type Flags = Record<string, string | boolean | undefined>;
type Context = { client: ApiClient; flags: Flags; json: boolean; args: string[] };

const print = (value: unknown) => console.log(typeof value === 'string' ? value : JSON.stringify(value));

function exitFor(status: string): number {
  return status === 'failed' || status === 'cancelled' ? BACKFILL_EXIT.failure : BACKFILL_EXIT.ok;
}

function summaryLine(view: Backfill): string {
  return `${view.id}  ${view.status}  ${view.originalPackageId}  match ${view.match}  checkpoints ${view.fromCheckpoint}..${view.toCheckpoint}`;
}

function detail(view: Backfill): string {
  const lines = [
    `backfill   ${view.id}`,
    `status     ${view.status}${view.resumedFromId ? `  (continues ${view.resumedFromId})` : ''}`,
    `package    ${view.packageId}${view.packageId === view.originalPackageId ? '' : `  (original ${view.originalPackageId})`}  match ${view.match}`,
    `range      ${view.fromCheckpoint}..${view.toCheckpoint}  watermark ${shownWatermark(view.fromCheckpoint, view.watermark.checkpointHiInclusive)}  done ${view.watermark.doneRanges}`,
    `progress   ${progressLine(view)}`,
    `rows       ${view.rowsInserted} inserted, ${view.objectsMatched} matched, attempts ${view.attempts}`,
  ];
  if (view.workerId) lines.push(`worker     ${view.workerId}${view.heartbeatAt ? `  heartbeat ${view.heartbeatAt}` : ''}`);
  if (view.lastError) lines.push(`last error ${view.lastError}`);
  if (view.recentChunks.length > 0) {
    lines.push('recent chunks (newest first):');
    for (const chunk of view.recentChunks) {
      lines.push(
        `  ${`${chunk.fromCheckpoint}..${chunk.toCheckpoint}`.padEnd(24)} rows ${String(chunk.rowsInserted).padStart(6)}  rpc ${String(chunk.rpcCalls).padStart(5)}  ${formatDuration(chunk.durationMs / 1000).padStart(6)}  ${chunk.workerId}`,
      );
    }
  }
  lines.push('history:');
  for (const transition of view.transitions) {
    const change = `${transition.from ?? '(new)'} → ${transition.to}`;
    lines.push(`  ${transition.at}  ${change.padEnd(22)} ${transition.actor}${transition.reason ? `  ${transition.reason}` : ''}`);
  }
  return lines.join('\n');
}

/** Follows the backfill to its end (see watchBackfill) with the --watch options. */
async function watch(client: ApiClient, id: string, json: boolean, options: WatchFlags): Promise<Backfill> {
  const view = await watchBackfill(client, id, { ...options, json });
  // No signal is passed, so only the backfill's end returns.
  return view!;
}

/** Who runs the command, sent as X-Actor so the history names the operator: `user@host`, printable ASCII. */
function operatorName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container running under a bare uid): the host still says where.
  }
  return `${user}@${hostname()}`.replace(/[^\x21-\x7e]/g, '?').slice(0, 64);
}

/** A flag's value as a decimal integer from `min` to `max`. */
const integerFlag = (min: number, max: number, message: string) =>
  z
    .string()
    .regex(/^\d+$/, message)
    .transform(Number)
    .refine((value) => value >= min && value <= max, message);

// Node's timers fire at once for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;
const milliseconds = (min: number, fallback: number) => integerFlag(min, MAX_TIMER_MS, `expected milliseconds from ${min} to ${MAX_TIMER_MS}`).default(fallback);
const WatchFlagsSchema = z.object({ interval: milliseconds(50, DEFAULT_INTERVAL_MS), 'give-up-after': milliseconds(0, DEFAULT_GIVE_UP_AFTER_MS) });

/** The --watch options, checked before anything is asked of the API; without --watch they would do nothing, so they are refused. */
const watchFlagsOf = (flags: Flags) => {
  for (const name of ['interval', 'give-up-after']) {
    if (!flags.watch && flags[name] !== undefined) throw new UsageError(`--${name}: only with --watch`);
  }
  const parsed = parseFlagValues(WatchFlagsSchema, flags);
  return { intervalMs: parsed.interval, giveUpAfterMs: parsed['give-up-after'] };
};
type WatchFlags = ReturnType<typeof watchFlagsOf>;

// Checked here as the API checks them, so a typo is a usage error naming the flag, not a 400.
const checkpoint = CreateBackfillSchema.shape.fromCheckpoint;
const StartFlagsSchema = z
  .object({ from: checkpoint, to: checkpoint })
  .refine((flags) => flags.from === undefined || flags.to === undefined || flags.from <= flags.to, { message: 'must not be below --from', path: ['to'] });
const { minValue: LIMIT_MIN, maxValue: LIMIT_MAX } = ListBackfillsQuerySchema.shape.limit.unwrap();
const ListFlagsSchema = z.object({ limit: integerFlag(LIMIT_MIN!, LIMIT_MAX!, `expected an integer from ${LIMIT_MIN} to ${LIMIT_MAX}`).optional() });

/** What each subcommand does, its command line parsed and checked as far as its flags go. */
const runs: Record<SubcommandName, (context: Context) => Promise<number>> = {
  start: async ({ client, flags, json, args }) => {
    const watchFlags = watchFlagsOf(flags);
    const range = parseFlagValues(StartFlagsSchema, flags);
    const { status, body } = await client.createBackfill({
      packageId: args[0],
      match: flags.match as 'outer' | 'anywhere' | undefined,
      fromCheckpoint: range.from?.toString(),
      toCheckpoint: range.to?.toString(),
    });
    if (json) print(body);
    else {
      print(`${status === 202 ? 'started' : 'already active'}: ${body.id}  ${body.status}  ${body.originalPackageId}  match ${body.match}  checkpoints ${body.fromCheckpoint}..${body.toCheckpoint}`);
      if (!body.enqueued && status === 202 && body.status === 'queued') print('note: Redis was unavailable; the backfill is saved and will be queued when Redis is back');
    }
    if (!flags.watch) return BACKFILL_EXIT.ok;
    return exitFor((await watch(client, body.id, json, watchFlags)).status);
  },
  list: async ({ client, flags, json }) => {
    const { limit } = parseFlagValues(ListFlagsSchema, flags);
    const page = await client.listBackfills({
      status: flags.status as string | undefined,
      packageId: flags.package as string | undefined,
      limit,
      cursor: flags.cursor as string | undefined,
    });
    if (json) {
      print(page);
      return BACKFILL_EXIT.ok;
    }
    if (page.items.length === 0) print('no backfills');
    else for (const line of backfillTable(page.items)) print(line);
    if (page.nextCursor) print(`more: --cursor ${page.nextCursor}`);
    return BACKFILL_EXIT.ok;
  },
  status: async ({ client, flags, json, args }) => {
    const watchFlags = watchFlagsOf(flags);
    if (flags.watch) {
      const view = await watch(client, args[0], json, watchFlags);
      if (!json) print(detail(view));
      return exitFor(view.status);
    }
    const view = await client.getBackfill(args[0]);
    print(json ? view : detail(view));
    return exitFor(view.status);
  },
  pause: async ({ client, flags, json, args }) => {
    const view = await client.pauseBackfill(args[0], flags.reason as string | undefined);
    print(json ? view : `paused: ${summaryLine(view)}`);
    return BACKFILL_EXIT.ok;
  },
  resume: async ({ client, flags, json, args }) => {
    const { status, body } = await client.resumeBackfill(args[0], flags.reason as string | undefined);
    if (json) print(body);
    else {
      print(`${status === 202 ? `continued by a new backfill from checkpoint ${body.fromCheckpoint}` : 'resumed'}: ${summaryLine(body)}`);
      if (!body.enqueued && body.status === 'queued') print('note: Redis was unavailable; the backfill will be queued when Redis is back');
    }
    return BACKFILL_EXIT.ok;
  },
  cancel: async ({ client, flags, json, args }) => {
    const view = await client.cancelBackfill(args[0], flags.reason as string | undefined);
    print(json ? view : `cancelled: ${summaryLine(view)}`);
    return BACKFILL_EXIT.ok;
  },
  delete: async ({ client, json, args }) => {
    await client.deleteBackfill(args[0]);
    print(json ? { id: args[0], deleted: true } : `deleted: ${args[0]}`);
    return BACKFILL_EXIT.ok;
  },
};

function apiErrorExit(error: ApiRequestError): number {
  if (error.status === 400 || error.status === 422) return BACKFILL_EXIT.rejected;
  if (error.status === 401) return BACKFILL_EXIT.unauthorized;
  if (error.status === 404) return BACKFILL_EXIT.notFound;
  if (error.status === 409) return BACKFILL_EXIT.conflict;
  if (error.status >= 500) return BACKFILL_EXIT.unavailable;
  return BACKFILL_EXIT.failure;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Runs a subcommand (its --help already answered): parses and checks its command line, asks the API
 * and prints the answer, or the error (with --json, also as JSON on stdout). Returns the exit code.
 */
export async function runBackfillSubcommand(sub: BackfillSubcommand, argv: string[], json: boolean): Promise<number> {
  try {
    const { values, positionals } = parseFlags(argv, { ...sub.options, api: { type: 'string' }, json: { type: 'boolean', default: false } }, true);
    if (positionals.length !== sub.args.length) {
      const expected = sub.args.length === 0 ? 'no arguments' : sub.args.map((arg) => `<${arg}>`).join(' ');
      throw new UsageError(`backfill ${sub.name}: expected ${expected}, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    }
    const api = values.api as string | undefined;
    if (api !== undefined && !isHttpUrl(api)) throw new UsageError(`--api: expected an http:// or https:// URL (got ${JSON.stringify(api)})`);
    // Only what this command uses: a variable meant for the services (LOG_LEVEL, ...) is not its business.
    const config = loadConfigOf(['PORT', 'API_TOKEN']);
    const baseUrl = api ?? `http://127.0.0.1:${config.PORT}`;
    const client = createApiClient({ baseUrl, token: config.API_TOKEN, actor: operatorName() });
    return await runs[sub.name]({ client, flags: values, json, args: positionals });
  } catch (error) {
    if (error instanceof UsageError) {
      reportError(json, error.code, error.message, error.message, `Run 'sui-backfill backfill ${sub.name} --help' for its usage.`);
      return BACKFILL_EXIT.usage;
    }
    if (error instanceof ConfigError) {
      reportError(json, error.code, error.message, error.message);
      return BACKFILL_EXIT.usage;
    }
    if (error instanceof ApiRequestError || error instanceof ApiUnreachableError) {
      reportError(json, error.code, error.message, `${error.code}: ${error.message}`);
      return error instanceof ApiRequestError ? apiErrorExit(error) : BACKFILL_EXIT.unavailable;
    }
    // An answer the API's schemas do not allow, or a bug: still one line, and JSON for a script.
    reportError(json, error instanceof SuiBackfillError ? error.code : 'unexpected', errorMessage(error), `unexpected error: ${errorMessage(error)}`);
    return BACKFILL_EXIT.failure;
  }
}
