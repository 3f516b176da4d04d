import { describe, expect, it } from 'vitest';
import { apiCommand } from '../api/process.ts';
import { workerCommand } from '../backfill/process.ts';
import { configSchema } from '../common/config.ts';
import { indexerCommand } from '../indexer/process.ts';
import { RPC_ENVIRONMENT_HELP } from './environment-help.ts';

describe('RPC_ENVIRONMENT_HELP', () => {
  it('lists every variable of the RPC client, with its default', () => {
    const listed = RPC_ENVIRONMENT_HELP.split('\n').slice(1).map((line) => line.trim().split(' ')[0]);
    expect(listed.sort()).toEqual(Object.keys(configSchema.shape).filter((name) => /^(RPC|SUI)_/.test(name)).sort());
    expect(RPC_ENVIRONMENT_HELP).toContain('\n  RPC_TIMEOUT_MS            deadline of one call (default 10000)\n');
    expect(RPC_ENVIRONMENT_HELP).toContain(`\n  SUI_ARCHIVE_GRPC_URL      archival endpoint for history below the full nodes' lowest available checkpoint\n`);
  });

  it.each([apiCommand, workerCommand, indexerCommand])("is part of the $name's --help, whose own list names no RPC variable", (command) => {
    const [own, rpc] = command.help.split(RPC_ENVIRONMENT_HELP);
    expect(rpc).toBe('');
    expect(own.slice(own.indexOf('Environment:'))).not.toMatch(/\b(RPC|SUI)_/);
  });
});
