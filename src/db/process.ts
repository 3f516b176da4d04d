import { loadConfig } from '../common/config.ts';
import { EXIT, parseFlags, requireServices, type Command } from '../common/process.ts';
import { runMigrations } from './migrate.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  help: `Usage: sui-backfill migrate [--reset]

Creates the database named by DATABASE_URL when it does not exist and applies every committed
migration in drizzle/. Safe to run from several processes at once.

Options:
  --reset     drop every sui-backfill table first (sui_objects, sui_packages, watermarks, the
              package_backfill_* tables, indexer_tracked_packages and rpc_settings), then
              migrate: a clean slate. Rows are lost.
  -h, --help  show this help

Environment: DATABASE_URL`,
  async run(argv) {
    const { values } = parseFlags(argv, { reset: { type: 'boolean', default: false } });
    if (values.help) {
      console.log(this.help);
      return EXIT.ok;
    }
    const config = loadConfig();
    const refused = await requireServices(config, { postgres: true });
    if (refused !== undefined) return refused;
    await runMigrations(config.DATABASE_URL, { reset: values.reset });
    console.log(`migrations applied to ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
    return EXIT.ok;
  },
};
