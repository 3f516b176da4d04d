import type { Command, EXIT as PROCESS_EXIT } from './common/process.ts';

/**
 * Every subcommand, with the line `sui-backfill --help` shows for it. Its module is loaded only
 * when it runs: each pulls in its own libraries (the API, BullMQ, drizzle, the simulator), so the
 * help, or `backfill --help`, costs none of them.
 */
const commands: { name: string; summary: string; load: () => Promise<Command> }[] = [
  {
    name: 'dev',
    summary: 'run everything in one process for a first look: simnet, API, worker, indexer and a demo backfill',
    load: async () => (await import('./dev.ts')).devCommand,
  },
  {
    name: 'migrate',
    summary: 'create the database if needed and apply the migrations in drizzle/',
    load: async () => (await import('./db/process.ts')).migrateCommand,
  },
  {
    name: 'api',
    summary: 'serve the HTTP API (backfill intake, progress, OpenAPI, metrics, admin page)',
    load: async () => (await import('./api/process.ts')).apiCommand,
  },
  {
    name: 'worker',
    summary: 'run a backfill worker (run as many replicas as you like)',
    load: async () => (await import('./backfill/process.ts')).workerCommand,
  },
  {
    name: 'indexer',
    summary: 'run the live indexer (one per database): follows the tip, records packages, indexes tracked ones',
    load: async () => (await import('./indexer/process.ts')).indexerCommand,
  },
  {
    name: 'simnet',
    summary: 'serve a simulated Sui chain over gRPC-web (sui.rpc.v2) for development and tests',
    load: async () => (await import('./simnet/process.ts')).simnetCommand,
  },
  {
    name: 'backfill',
    summary: 'start, list, follow, pause, resume, cancel and delete backfills through the API',
    load: async () => (await import('./api/backfill-cli.ts')).backfillCommand,
  },
];

// The process module's codes, checked against it, without loading it (and the database client it imports).
const EXIT = { ok: 0, usage: 2 } as const satisfies Partial<typeof PROCESS_EXIT>;

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
  const entry = commands.find((candidate) => candidate.name === name);
  if (!entry) {
    console.error(`unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (error) {
    const { reportFatal } = await import('./common/process.ts');
    return reportFatal(error);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
