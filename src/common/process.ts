import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from './config.ts';
import { createCommon, type Common } from './context.ts';
import { ConfigError, errorMessage, SuiBackfillError } from './errors.ts';
import { checkServices } from './services.ts';
import { survivePostgresWriteAfterClose } from '../db/client.ts';

/** A `sui-backfill <name>` subcommand. */
export type Command = {
  name: string;
  summary: string;
  /** Full `--help` text. */
  help: string;
  run: (argv: string[]) => Promise<number>;
};

export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3 } as const;

/** After a clean stop, how long the process may take to exit on its own. */
const EXIT_GRACE_MS = 2_000;

export class UsageError extends SuiBackfillError {
  constructor(message: string) {
    super('usage', message, { retryable: false });
  }
}

/** parseArgs with a one-line error instead of a stack trace for unknown or malformed flags. */
export function parseFlags<T extends ParseArgsConfig['options']>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

/**
 * Runs a long-lived process: validates the environment (plus the command's own `validate`, which
 * throws a ConfigError), checks Postgres and Redis (one line each when unreachable), builds the
 * common context, and on SIGTERM/SIGINT runs the registered closers and resolves with exit code 0.
 */
export async function runService(
  name: string,
  options: {
    needs?: { postgres?: boolean; redis?: boolean };
    env?: Record<string, string | undefined>;
    validate?: (config: Config) => void;
  },
  main: (common: Common, fail: (error: unknown) => void) => Promise<void>,
): Promise<number> {
  // Flags arrive as environment values so that zod validates them the same way.
  const flags = Object.fromEntries(Object.entries(options.env ?? {}).filter(([, value]) => value !== undefined));
  const config = loadConfig({ ...process.env, ...flags });
  options.validate?.(config);
  const needs = options.needs ?? {};
  if (needs.postgres || needs.redis) {
    const problems = (await checkServices({ databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL })).filter(
      (line) => (needs.postgres && line.startsWith('PostgreSQL')) || (needs.redis && line.startsWith('Redis')),
    );
    if (problems.length > 0) {
      for (const line of problems) console.error(line);
      return EXIT.unavailable;
    }
  }
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
    common.logger.fatal({ err: error }, `${name} failed to start`);
    await common.shutdown.run('startup failure');
    return EXIT.failure;
  }
  return stopped;
}

/** Prints the one-line message for errors a user can fix, and a stack only for real bugs. */
export function reportFatal(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) {
    console.error(error.message);
    return EXIT.usage;
  }
  if (error instanceof SuiBackfillError) {
    console.error(`${error.code}: ${error.message}`);
    return error.retryable ? EXIT.unavailable : EXIT.failure;
  }
  console.error(error);
  return EXIT.failure;
}
