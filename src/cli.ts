import { apiCommand } from './api/process.ts';
import { backfillCommand } from './api/backfill-cli.ts';
import { workerCommand } from './backfill/process.ts';
import { EXIT, reportFatal, type Command } from './common/process.ts';
import { migrateCommand } from './db/process.ts';
import { simnetCommand } from './simnet/process.ts';
import { devCommand } from './dev.ts';
import { indexerCommand } from './indexer/process.ts';

const commands: Command[] = [devCommand, migrateCommand, apiCommand, workerCommand, indexerCommand, simnetCommand, backfillCommand];

function usage(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'Usage: sui-backfill <command> [options]',
    '',
    'A Sui indexer with an on-demand, per-package backfill worker.',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "Run 'sui-backfill <command> --help' for a command's options and environment variables.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    console.error(`unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    return reportFatal(error);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
