import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { Queue } from 'bullmq';
import { BACKFILL_QUEUE } from '../src/backfill/queue.ts';
import { quoteIdent, runMigrations } from '../src/db/migrate.ts';
import { spawnCli, waitForOutput, type Spawned } from '../test/helpers/processes.ts';

export const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, migrated database for one measurement. */
export async function freshDatabase(name: string): Promise<string> {
  await dropDatabase(name);
  const url = databaseUrl(name);
  await runMigrations(url);
  return url;
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

export async function emptyQueue(prefix: string): Promise<void> {
  const queue = new Queue(BACKFILL_QUEUE, { connection: { url: REDIS_URL }, prefix });
  await queue.obliterate({ force: true });
  await queue.close();
}

/** Starts `sui-backfill simnet` in its own process so its CPU is not counted against the client. */
export async function startSimnetProcess(flags: string[]): Promise<{ url: string; process: Spawned; stop: () => Promise<void> }> {
  const simnet = spawnCli(['simnet', '--port', '0', ...flags], { LOG_LEVEL: 'info' });
  await waitForOutput(simnet, 'simnet listening on', 60_000);
  const url = /simnet listening on (http:\/\/[^"\s]+)/.exec(simnet.output())![1];
  return {
    url,
    process: simnet,
    stop: async () => {
      simnet.kill('SIGTERM');
      await simnet.exited;
    },
  };
}

/** Peak resident set size of a process in MiB (Linux VmHWM). */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

export async function simnetStats(url: string): Promise<{ requests: Record<string, number>; throttled: number }> {
  return (await fetch(`${url}/simnet/stats`)).json() as Promise<{ requests: Record<string, number>; throttled: number }>;
}

export async function resetSimnetStats(url: string): Promise<void> {
  await fetch(`${url}/simnet/stats/reset`, { method: 'POST' });
}

export function totalRequests(stats: { requests: Record<string, number> }): number {
  return Object.values(stats.requests).reduce((sum, count) => sum + count, 0);
}

export async function setSimnetKnobs(url: string, knobs: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${url}/simnet/knobs`, { method: 'POST', body: JSON.stringify(knobs) });
  if (!response.ok) throw new Error(`simnet refused knobs ${JSON.stringify(knobs)}: ${await response.text()}`);
}
