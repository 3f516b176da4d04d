import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { DEFAULT_REDIS_URL, loadConfig, parseVariables, postgresUrlSchema, redisUrlSchema, type Config } from './config.ts';
import { createCommon, type Common } from './context.ts';
import { ConfigError, errorMessage, SuiBackfillError } from './errors.ts';
import { ListenError } from './listen.ts';
import { findServiceProblems } from './services.ts';
import { survivePostgresWriteAfterClose } from '../db/client.ts';

/** A `sui-backfill <name>` subcommand; its summary for the command list is in src/cli.ts. */
export type Command = {
  name: string;
  /** Full `--help` text. */
  help: string;
  run: (argv: string[]) => Promise<number>;
};

export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3 } as const;

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** After a clean stop, how long the process may take to exit on its own. */
const EXIT_GRACE_MS = 2_000;

export class UsageError extends SuiBackfillError {
  constructor(message: string) {
    super('usage', message, { retryable: false });
  }
}

/**
 * A negative number after a flag that takes a value is that value (`--checkpoints -5`), not an
 * option: joined as `--checkpoints=-5` it reaches validation, which names the flag.
 */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const takesValue = new Set(
    Object.entries(options).flatMap(([name, option]) => (option.type === 'string' ? [`--${name}`, ...(option.short ? [`-${option.short}`] : [])] : [])),
  );
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const next = argv[index + 1];
    if (takesValue.has(argv[index]) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${argv[index]}=${next}`);
      index++;
    } else joined.push(argv[index]);
  }
  return joined;
}

/** parseArgs with a one-line error instead of a stack trace for unknown or malformed flags. */
export function parseFlags<T extends ParseArgsConfig['options']>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options ?? {}), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    // Node explains some mistakes over several lines.
    throw new UsageError(errorMessage(error).split('\n').join(' '));
  }
}

/**
 * Flag values (by flag name, as parseFlags gives them) checked against `schema`: a `UsageError` of
 * one line naming each bad flag and its value.
 */
export function parseFlagValues<T extends z.ZodType>(schema: T, given: Record<string, string | string[] | boolean | undefined>): z.output<T> {
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  throw new UsageError(
    parsed.error.issues
      .map((issue) => {
        const [name, index] = issue.path as [string, number | undefined];
        const value = index === undefined ? given[name] : (given[name] as string[])[index];
        return `--${name}: ${issue.message} (got ${JSON.stringify(value)})`;
      })
      .join('; '),
  );
}

/** Errors whose message tells the user what to change: printed as one line, no stack. */
function isUserError(error: unknown): boolean {
  return error instanceof ConfigError || error instanceof UsageError || error instanceof ListenError;
}

/**
 * Logs in to the services a command needs. Prints one line per one that cannot be used and returns
 * the exit code: usage when a URL must change (a refused login), unavailable when a service must be
 * started or freed; undefined when all answer. Every command that needs Postgres migrates by
 * default, and migrating creates the database, so a missing one is no problem here.
 */
export async function requireServices(
  config: Pick<Config, 'DATABASE_URL' | 'REDIS_URL'>,
  needs: { postgres?: boolean; redis?: boolean },
  databaseVariable = 'DATABASE_URL',
): Promise<number | undefined> {
  const problems = await findServiceProblems({
    postgres: needs.postgres ? { url: config.DATABASE_URL, createsDatabase: true, variable: databaseVariable } : undefined,
    redis: needs.redis ? { url: config.REDIS_URL } : undefined,
  });
  if (problems.length === 0) return undefined;
  for (const problem of problems) console.error(problem.line);
  return problems.some((problem) => problem.cause === 'config') ? EXIT.usage : EXIT.unavailable;
}

/**
 * Runs a long-lived process: validates the environment (plus the command's own `validate`, which
 * throws a ConfigError), checks Postgres and Redis (requireServices), builds the
 * common context, and on SIGTERM/SIGINT runs the registered closers and resolves with exit code 0.
 */
export async function runService(
  name: string,
  options: {
    needs?: { postgres?: boolean; redis?: boolean };
    env?: Record<string, string | undefined>;
    /** Flags that stand for variables, `{ PORT: ['--port', value] }`: validated as the variable, named as the flag. */
    flags?: Record<string, readonly [flag: string, value: string | undefined]>;
    validate?: (config: Config) => void;
    /** The variable DATABASE_URL was set from, named when Postgres refuses it (dev: DEV_DATABASE_URL). */
    databaseVariable?: string;
  },
  main: (common: Common, fail: (error: unknown) => void) => Promise<void>,
): Promise<number> {
  // Flags arrive as environment values so that zod validates them the same way.
  const given = Object.entries(options.flags ?? {}).filter(([, [, value]]) => value !== undefined);
  const flags = Object.fromEntries([
    ...Object.entries(options.env ?? {}).filter(([, value]) => value !== undefined),
    ...given.map(([variable, [, value]]) => [variable, value]),
  ]);
  const config = loadConfig({ ...process.env, ...flags }, {}, Object.fromEntries(given.map(([variable, [flag]]) => [variable, flag])));
  options.validate?.(config);
  const refused = await requireServices(config, options.needs ?? {}, options.databaseVariable);
  if (refused !== undefined) return refused;
  const common = createCommon(config, { process: name });
  survivePostgresWriteAfterClose(common.logger);
  let stop: (reason: string, code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => {
    stop = (reason, code) => {
      common.shutdown.run(reason).then(() => {
        // Every closer has run; a handle a library still holds (a socket stuck reconnecting to a
        // Postgres that restarted) must not keep the process from exiting.
        setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
        resolve(code);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM', EXIT.ok));
    process.once('SIGINT', () => stop('SIGINT', EXIT.ok));
  });
  // A service that hit an error no retry can fix stops cleanly, with one line and a failure code.
  const fail = (error: unknown) => {
    console.error(`${name} stopped: ${error instanceof SuiBackfillError ? `${error.code}: ` : ''}${errorMessage(error)}`);
    stop(`${name} failed`, EXIT.failure);
  };
  try {
    await main(common, fail);
  } catch (error) {
    // A typed error (another indexer holds the lock, a service refused) says all in its message; a stack is for bugs.
    if (!(error instanceof SuiBackfillError)) {
      common.logger.fatal({ err: error }, `${name} failed to start`);
      await common.shutdown.run('startup failure');
      return EXIT.failure;
    }
    // The one line is the whole story of a process that never started: the shutdown's own info lines would bury it.
    if (common.logger.isLevelEnabled('info')) common.logger.level = 'warn';
    const code = reportFatal(error);
    await common.shutdown.run('startup failure');
    return code;
  }
  return stopped;
}

/**
 * For scripts outside the processes (the tests' global setup, the bench): their own variables by
 * the configuration's rules, or the one-line message and exit with `exitCode`.
 */
function loadVariablesOrExit<T extends z.ZodType>(schema: T, exitCode: number, env: Record<string, string | undefined> = process.env): z.output<T> {
  try {
    return parseVariables(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(exitCode);
  }
}

/**
 * For the tests and the bench: the Postgres server (the URL of its admin database) and the Redis
 * they use, from two variables of their own, checked by the configuration's URL rules.
 */
export function loadScriptServices(names: { postgres: string; redis: string }, exitCode: number): { adminUrl: string; redisUrl: string } {
  const schema = z.object({ [names.postgres]: postgresUrlSchema.default(DEFAULT_ADMIN_URL), [names.redis]: redisUrlSchema.default(DEFAULT_REDIS_URL) });
  const variables = loadVariablesOrExit(schema, exitCode) as Record<string, string>;
  return { adminUrl: variables[names.postgres], redisUrl: variables[names.redis] };
}

/** Prints the one-line message for errors a user can fix, and a stack only for real bugs. */
export function reportFatal(error: unknown): number {
  if (isUserError(error)) {
    console.error((error as SuiBackfillError).message);
    // A port in use may be freed (the previous instance still stopping); a wrong address needs a change.
    return error instanceof ListenError && error.retryable ? EXIT.unavailable : EXIT.usage;
  }
  if (error instanceof SuiBackfillError) {
    console.error(`${error.code}: ${error.message}`);
    return error.retryable ? EXIT.unavailable : EXIT.failure;
  }
  console.error(error);
  return EXIT.failure;
}
