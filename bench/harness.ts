import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { BACKFILL_QUEUE } from '../src/backfill/queue.ts';
import { jsonOf } from '../src/common/json.ts';
import { loadScriptServices } from '../src/common/process.ts';
import { databaseUrl } from '../src/db/client.ts';
import { quoteIdent, runMigrations } from '../src/db/migrate.ts';

const CLI = path.resolve(import.meta.dirname, '../src/cli.ts');

/** Where the bench finds Postgres and Redis (one line naming a bad variable). */
const services = loadScriptServices({ postgres: 'BENCH_ADMIN_DATABASE_URL', redis: 'BENCH_REDIS_URL' }, 2);
const ADMIN_URL = services.adminUrl;
export const REDIS_URL = services.redisUrl;

/** A fresh, migrated database for one measurement. */
export async function freshDatabase(name: string): Promise<string> {
  await dropDatabase(name);
  const url = databaseUrl(ADMIN_URL, name);
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

type BenchProcess = {
  pid: number;
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string;
  /** Resolves once it has written `text`; rejects when it exits first or `timeoutMs` passes. */
  waitFor: (text: string, timeoutMs: number) => Promise<void>;
  /** SIGTERM, then its exit code. */
  stop: () => Promise<number | null>;
};

/** Runs `sui-backfill <args>` in a process of its own, so its CPU is not counted against the bench's. */
export function startCli(args: string[], env: Record<string, string>): BenchProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const append = (chunk: Buffer) => {
    output += chunk;
    notify();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let gone = false;
  void exited.then(() => {
    gone = true;
    notify();
  });
  return {
    pid: child.pid!,
    output: () => output,
    waitFor: (text, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const settle = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (output.includes(text)) settle();
          else if (gone) settle(new Error(`sui-backfill ${args[0]} exited before writing "${text}":\n${output}`));
        };
        const timer = setTimeout(() => settle(new Error(`sui-backfill ${args[0]} did not write "${text}" within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        listeners.add(check);
        check();
      }),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** What the bench reads of the simulator's startup log line. */
const SimnetStartedSchema = jsonOf(z.object({ url: z.string(), packages: z.record(z.string(), z.string()) }));

/** Starts `sui-backfill simnet` on a free port; its startup line carries the URL and the package IDs. */
export async function startSimnetProcess(flags: string[]): Promise<{ url: string; pid: number; packages: Record<string, string>; stop: () => Promise<unknown> }> {
  const simnet = startCli(['simnet', '--port', '0', ...flags], { LOG_LEVEL: 'info' });
  await simnet.waitFor('simnet listening on', 60_000);
  const started = SimnetStartedSchema.parse(simnet.output().split('\n').find((line) => line.includes('simnet listening on')));
  return { url: started.url, pid: simnet.pid, packages: started.packages, stop: simnet.stop };
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) a process has used so far, in ms (Linux /proc/<pid>/stat). */
export function cpuMs(pid: number): number {
  // Fields after the parenthesised command name, which may itself hold spaces: utime and stime are fields 14 and 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Peak resident set size of a process in MiB (Linux VmHWM). */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

const SimnetStatsSchema = jsonOf(z.object({ requests: z.record(z.string(), z.number()), throttled: z.number() }));

export async function simnetStats(url: string): Promise<z.infer<typeof SimnetStatsSchema>> {
  return SimnetStatsSchema.parse(await (await fetch(`${url}/simnet/stats`)).text());
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
