import type { ParseArgsConfig } from 'node:util';
import type { Command, EXIT } from '../common/process.ts';
import { DEFAULT_GIVE_UP_AFTER_MS } from './watch.ts';

/*
 * `sui-backfill backfill`: what each subcommand takes and says (its usage, options, help) and the
 * exit codes. What a subcommand does is in backfill-run.ts, loaded once one runs: it brings the API
 * client and its schemas, so the help and a usage error of the command line cost none of that.
 */

/** What `sui-backfill backfill ...` exits with; scripts branch on it. */
export const BACKFILL_EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
  /** 404: no such backfill (or package, for start). */
  notFound: 4,
  /** 409: the backfill's status does not allow the action. */
  conflict: 5,
  /** 400 or 422: the API rejected the input. */
  rejected: 6,
  /** 401: API_TOKEN missing or wrong. */
  unauthorized: 7,
} as const satisfies typeof EXIT & Record<string, number>;

export const DEFAULT_INTERVAL_MS = 1000;

export type SubcommandName = 'start' | 'list' | 'status' | 'pause' | 'resume' | 'cancel' | 'delete';

export type BackfillSubcommand = {
  name: SubcommandName;
  args: string[];
  summary: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
};

const COMMON_OPTIONS = `  --api URL      the API to talk to (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --json         print the API's JSON answer on stdout, errors too ({"error": {"code", "message"}})
  -h, --help     show this help`;

const EXIT_CODES = `Exit codes:
  0  done
  1  the backfill failed or was cancelled (status, start --watch), or an unexpected error
  2  usage error (unknown option, missing argument, a value out of range), or a bad PORT or
     API_TOKEN
  3  the API is unreachable, or answered 5xx (Postgres, Redis or the Sui RPC unavailable, or the
     Sui RPC refusing the service's API key)
  4  not found (no such backfill, package or object)
  5  conflict: the backfill's status does not allow this (HTTP 409)
  6  rejected input (HTTP 400 or 422), the message names the field
  7  unauthorized: API_TOKEN is missing or wrong (HTTP 401)`;

function actionHelp(name: string, what: string): string {
  return `Usage: sui-backfill backfill ${name} <id> [--reason TEXT]

${what}

Options:
  --reason TEXT  recorded in the backfill's history
${COMMON_OPTIONS}`;
}

const WATCH_OPTIONS = `  --watch        follow the progress until the backfill is completed, failed or cancelled: a live bar
                 with rate and ETA on a terminal, one line per change otherwise, one JSON line per
                 poll with --json (a paused backfill is followed until it is resumed and ends)
  --interval MS  how often --watch polls (default ${DEFAULT_INTERVAL_MS})
  --give-up-after MS
                 how long --watch keeps retrying, with backoff, an API that is unreachable or
                 answers 5xx before it exits 3 (default ${DEFAULT_GIVE_UP_AFTER_MS})`;

const subcommands: BackfillSubcommand[] = [
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
  --limit N      at most N (1-500, default 50)
  --cursor C     the page after the one that printed this cursor
${COMMON_OPTIONS}`,
    options: { status: { type: 'string' }, package: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
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
  },
  {
    name: 'pause',
    args: ['id'],
    summary: 'pause a queued or running backfill',
    help: actionHelp('pause', 'Pauses a queued or running backfill (POST /v1/backfills/:id/pause). The worker walking it stops\nwithin one chunk; resume continues from the watermark.'),
    options: { reason: { type: 'string' } },
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

/** Whether one of `flags` is on the command line before any `--` (after it, everything is an argument). */
function hasFlag(argv: string[], ...flags: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => flags.includes(arg));
}

/**
 * Says what went wrong on stderr, for whoever reads it; with --json also on stdout as
 * `{"error": {"code", "message"}}`, for the script that parses stdout. `more` follows the line on
 * stderr only (the hint of a usage error, the help).
 */
export function reportError(json: boolean, code: string, message: string, stderrLine: string, more?: string): void {
  if (json) console.log(JSON.stringify({ error: { code, message } }));
  console.error(more === undefined ? stderrLine : `${stderrLine}\n${more}`);
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
    // Read before the command line is parsed, so that one that does not parse is answered in JSON
    // too. When it parses, this is what the parser says: --json takes no value, and an option's
    // value that starts with a dash must be written --option=value.
    const json = hasFlag(argv, '--json');
    const sub = subcommands.find((candidate) => candidate.name === name);
    if (!sub) {
      const message = name.startsWith('-')
        ? `backfill: expected a command (${subcommands.map((candidate) => candidate.name).join(', ')}) before ${name}`
        : `unknown backfill command '${name}'`;
      reportError(json, 'usage', message, message, `\n${HELP}`);
      return BACKFILL_EXIT.usage;
    }
    if (hasFlag(rest, '--help', '-h')) {
      console.log(sub.help);
      return BACKFILL_EXIT.ok;
    }
    const { runBackfillSubcommand } = await import('./backfill-run.ts');
    return runBackfillSubcommand(sub, rest, json);
  },
};
