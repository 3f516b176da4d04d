import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { loadConfigOf } from '../common/config.ts';
import { ConfigError, errorMessage, SuiBackfillError } from '../common/errors.ts';
import { EXIT, parseFlags, parseFlagValues, UsageError, type Command } from '../common/process.ts';
import { ApiRequestError, ApiUnreachableError, createApiClient, type ApiClient, type Backfill } from './client.ts';
import { backfillTable } from './backfill-table.ts';
import { formatDuration, progressLine, shownWatermark } from './progress-bar.ts';
import { CreateBackfillSchema, ListBackfillsQuerySchema } from './schemas.ts';
import { DEFAULT_GIVE_UP_AFTER_MS, watchBackfill } from './watch.ts';

/** What `sui-backfill backfill ...` exits with; scripts branch on it. */
const BACKFILL_EXIT = {
  ...EXIT,
  /** 404: no such backfill (or package, for start). */
  notFound: 4,
  /** 409: the backfill's status does not allow the action. */
  conflict: 5,
  /** 400 or 422: the API rejected the input. */
  rejected: 6,
  /** 401: API_TOKEN missing or wrong. */
  unauthorized: 7,
} as const;

const COMMON_OPTIONS = `  --api URL      the API to talk to (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --json         print the API's JSON answer on stdout, errors too ({"error": {"code", "message"}})
  -h, --help     show this help`;

const EXIT_CODES = `Exit codes:
  0  done
  1  the backfill failed or was cancelled (status, start --watch), or an unexpected error
  2  usage error (unknown option, missing argument)
  3  the API is unreachable, or answered 5xx (Postgres, Redis or the Sui RPC unavailable, or the
     Sui RPC refusing the service's API key)
  4  not found (no such backfill, package or object)
  5  conflict: the backfill's status does not allow this (HTTP 409)
  6  rejected input (HTTP 400 or 422), the message names the field
  7  unauthorized: API_TOKEN is missing or wrong (HTTP 401)`;

type Flags = Record<string, string | boolean | undefined>;
type Context = { client: ApiClient; flags: Flags; json: boolean; args: string[] };

type Subcommand = {
  name: string;
  args: string[];
  summary: string;
  help: string;
  options: Parameters<typeof parseFlags>[1];
  run: (context: Context) => Promise<number>;
};

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

function actionHelp(name: string, what: string): string {
  return `Usage: sui-backfill backfill ${name} <id> [--reason TEXT]

${what}

Options:
  --reason TEXT  recorded in the backfill's history
${COMMON_OPTIONS}`;
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
const WatchFlagsSchema = z.object({ interval: milliseconds(50, 1000), 'give-up-after': milliseconds(0, DEFAULT_GIVE_UP_AFTER_MS) });

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

const WATCH_OPTIONS = `  --watch        follow the progress until the backfill is completed, failed or cancelled: a live bar
                 with rate and ETA on a terminal, one line per change otherwise, one JSON line per
                 poll with --json (a paused backfill is followed until it is resumed and ends)
  --interval MS  how often --watch polls (default 1000)
  --give-up-after MS
                 how long --watch keeps retrying, with backoff, an API that is unreachable or
                 answers 5xx before it exits 3 (default ${DEFAULT_GIVE_UP_AFTER_MS})`;

const subcommands: Subcommand[] = [
  {
    name: 'start',
    args: ['packageId'],
    summary: 'backfill a package (any ID of its upgrade family)',
    help: `Usage: sui-backfill backfill start <packageId> [--match outer|anywhere] [--from N] [--to N]
                                   [--watch] [--interval MS] [--give-up-after MS]

Posts a backfill (POST /v1/backfills). The range defaults to the package's publish checkpoint up to
where the live indexer covers it (or the chain tip read now); it is fixed on the request. When the
package already has an active backfill with the same options, that one is shown instead.

Options:
  --match MODE   outer (default: the object's own type is defined by the package family) or anywhere
                 (the family appears anywhere in the type: dynamic fields, coins of its currency)
  --from N       first checkpoint (default: the package's publish checkpoint)
  --to N         last checkpoint (default: where live indexing took over, or the tip)
${WATCH_OPTIONS}
${COMMON_OPTIONS}`,
    options: {
      match: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      watch: { type: 'boolean', default: false },
      interval: { type: 'string' },
      'give-up-after': { type: 'string' },
    },
    run: async ({ client, flags, json, args }) => {
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
  },
  {
    name: 'list',
    args: [],
    summary: 'list backfills, newest first',
    help: `Usage: sui-backfill backfill list [--status S] [--package ID] [--limit N] [--cursor C]

Lists backfills newest first (GET /v1/backfills): status, progress, watermark, checkpoints per
second and ETA of the running ones, rows, the package (shortened; --json and status show it whole)
and, on a line of its own, the last error. When more exist, the last line gives the --cursor of the
next page (with --json: nextCursor).

Options:
  --status S     only queued, running, paused, completed, failed or cancelled ones
  --package ID   only backfills of this package (any ID of its upgrade family)
  --limit N      at most N (${LIMIT_MIN}-${LIMIT_MAX}, default 50)
  --cursor C     the page after the one that printed this cursor
${COMMON_OPTIONS}`,
    options: { status: { type: 'string' }, package: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
    run: async ({ client, flags, json }) => {
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
  },
  {
    name: 'status',
    args: ['id'],
    summary: "a backfill's progress, chunk log and history (--watch: live)",
    help: `Usage: sui-backfill backfill status <id> [--watch] [--interval MS] [--give-up-after MS]

Shows a backfill (GET /v1/backfills/:id): status, range, watermark, progress with rate and ETA, rows,
the recent chunks and every status change with who made it and why. Exits 1 when the backfill
failed or was cancelled.

Options:
${WATCH_OPTIONS}
${COMMON_OPTIONS}`,
    options: { watch: { type: 'boolean', default: false }, interval: { type: 'string' }, 'give-up-after': { type: 'string' } },
    run: async ({ client, flags, json, args }) => {
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
  },
  {
    name: 'pause',
    args: ['id'],
    summary: 'pause a queued or running backfill',
    help: actionHelp('pause', 'Pauses a queued or running backfill (POST /v1/backfills/:id/pause). The worker walking it stops\nwithin one chunk; resume continues from the watermark.'),
    options: { reason: { type: 'string' } },
    run: async ({ client, flags, json, args }) => {
      const view = await client.pauseBackfill(args[0], flags.reason as string | undefined);
      print(json ? view : `paused: ${summaryLine(view)}`);
      return BACKFILL_EXIT.ok;
    },
  },
  {
    name: 'resume',
    args: ['id'],
    summary: 'resume a paused, failed or cancelled backfill',
    help: actionHelp(
      'resume',
      'Resumes a backfill (POST /v1/backfills/:id/resume). A paused or failed backfill is queued again and\n' +
        'continues from its watermark. A cancelled one stays cancelled and is continued by a new backfill\n' +
        'from its watermark to its end (same package, match and options), which is shown.',
    ),
    options: { reason: { type: 'string' } },
    run: async ({ client, flags, json, args }) => {
      const { status, body } = await client.resumeBackfill(args[0], flags.reason as string | undefined);
      if (json) print(body);
      else {
        print(`${status === 202 ? `continued by a new backfill from checkpoint ${body.fromCheckpoint}` : 'resumed'}: ${summaryLine(body)}`);
        if (!body.enqueued && body.status === 'queued') print('note: Redis was unavailable; the backfill will be queued when Redis is back');
      }
      return BACKFILL_EXIT.ok;
    },
  },
  {
    name: 'cancel',
    args: ['id'],
    summary: 'cancel a queued, running or paused backfill',
    help: actionHelp(
      'cancel',
      'Cancels a backfill (POST /v1/backfills/:id/cancel). Final: the worker walking it stops within one\n' +
        'chunk and the rows written so far stay. Resume starts a new backfill from its watermark.',
    ),
    options: { reason: { type: 'string' } },
    run: async ({ client, flags, json, args }) => {
      const view = await client.cancelBackfill(args[0], flags.reason as string | undefined);
      print(json ? view : `cancelled: ${summaryLine(view)}`);
      return BACKFILL_EXIT.ok;
    },
  },
  {
    name: 'delete',
    args: ['id'],
    summary: 'delete a completed, failed or cancelled backfill',
    help: `Usage: sui-backfill backfill delete <id>

Deletes a finished backfill (DELETE /v1/backfills/:id) with its watermark, chunk log and history. The
object versions it wrote stay in sui_objects. Queued, running and paused backfills cannot be deleted
(exit 5): cancel them first.

Options:
${COMMON_OPTIONS}`,
    options: {},
    run: async ({ client, json, args }) => {
      await client.deleteBackfill(args[0]);
      print(json ? { id: args[0], deleted: true } : `deleted: ${args[0]}`);
      return BACKFILL_EXIT.ok;
    },
  },
];

const width = Math.max(...subcommands.map((sub) => `${sub.name} ${sub.args.map((arg) => `<${arg}>`).join(' ')}`.length));

const HELP = `Usage: sui-backfill backfill <command> [arguments] [options]

Starts, lists, follows and steers backfills through the API. Mutating commands send API_TOKEN as
the bearer token.

Commands:
${subcommands.map((sub) => `  ${`${sub.name} ${sub.args.map((arg) => `<${arg}>`).join(' ')}`.padEnd(width)}  ${sub.summary}`).join('\n')}

Options of every command:
${COMMON_OPTIONS}

Environment: API_TOKEN (bearer token of start, pause, resume, cancel and delete), PORT (the default --api).
Changes are recorded in the backfill's history as made by api:<user>@<host> (sent as X-Actor).

${EXIT_CODES}

Run 'sui-backfill backfill <command> --help' for a command's options.`;

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
 * Whether the command line asks for --json, read before it is parsed: a command line that does not
 * parse is answered in JSON too.
 */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Says what went wrong on stderr, for whoever reads it; with --json also on stdout as
 * `{"error": {"code", "message"}}`, for the script that parses stdout. `more` follows the line on
 * stderr only (the hint of a usage error, the help).
 */
function reportError(json: boolean, code: string, message: string, stderrLine: string, more?: string): void {
  if (json) print({ error: { code, message } });
  console.error(more === undefined ? stderrLine : `${stderrLine}\n${more}`);
}

async function runSubcommand(sub: Subcommand, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...sub.options, api: { type: 'string' }, json: { type: 'boolean', default: false } }, true);
  if (values.help) {
    console.log(sub.help);
    return BACKFILL_EXIT.ok;
  }
  if (positionals.length !== sub.args.length) {
    const expected = sub.args.length === 0 ? 'no arguments' : sub.args.map((arg) => `<${arg}>`).join(' ');
    throw new UsageError(`backfill ${sub.name}: expected ${expected}, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  }
  const json = values.json === true;
  const api = values.api as string | undefined;
  if (api !== undefined && !isHttpUrl(api)) throw new UsageError(`--api: expected an http:// or https:// URL (got ${JSON.stringify(api)})`);
  // Only what this command uses: a variable meant for the services (LOG_LEVEL, ...) is not its business.
  const config = loadConfigOf(['PORT', 'API_TOKEN']);
  const baseUrl = api ?? `http://127.0.0.1:${config.PORT}`;
  const client = createApiClient({ baseUrl, token: config.API_TOKEN, actor: operatorName() });
  return sub.run({ client, flags: values, json, args: positionals });
}

export const backfillCommand: Command = {
  name: 'backfill',
  help: HELP,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined) {
      console.error(HELP);
      return BACKFILL_EXIT.usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      console.log(HELP);
      return BACKFILL_EXIT.ok;
    }
    const json = wantsJson(argv);
    const sub = subcommands.find((candidate) => candidate.name === name);
    if (!sub) {
      const message = name.startsWith('-')
        ? `backfill: expected a command (${subcommands.map((candidate) => candidate.name).join(', ')}) before ${name}`
        : `unknown backfill command '${name}'`;
      reportError(json, 'usage', message, message, `\n${HELP}`);
      return BACKFILL_EXIT.usage;
    }
    try {
      return await runSubcommand(sub, rest);
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
  },
};
