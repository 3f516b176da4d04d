import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');

/** Children still running when the test process exits are killed, whatever the tests did. */
const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

export type Spawned = {
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr interleaved). */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal?: NodeJS.Signals) => void;
};

/** Runs `sui-backfill <args>` as a real process with the given environment. */
export function spawnCli(args: string[], env: Record<string, string>): Spawned {
  return spawnScript(CLI, args, env);
}

/** Runs a TypeScript file of the project as a real process with the given environment. */
export function spawnScript(script: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

/**
 * The processes a test spawns: `killAll` ends those still running (SIGKILL) and waits for their
 * exit, so none outlives its test (an indexer left running would hold the lock of the next).
 */
export function createSpawnedSet(): { track: (spawned: Spawned) => Spawned; killAll: () => Promise<void> } {
  const all: Spawned[] = [];
  return {
    track: (spawned) => {
      all.push(spawned);
      return spawned;
    },
    killAll: async () => {
      const running = all.splice(0);
      for (const spawned of running) spawned.kill('SIGKILL');
      await Promise.all(running.map((spawned) => spawned.exited));
    },
  };
}

/** Runs `sui-backfill <args>` to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const spawned = spawnCli(args, env);
  const { code } = await spawned.exited;
  return { code, output: spawned.output() };
}

/** Resolves when the process has written `text`; rejects if it exits first or `timeoutMs` passes. */
export async function waitForOutput(spawned: Spawned, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void spawned.exited.then(() => (exited = true));
  while (!spawned.output().includes(text)) {
    if (exited) throw new Error(`process exited before writing "${text}":\n${spawned.output()}`);
    if (Date.now() > deadline) throw new Error(`process did not write "${text}" within ${timeoutMs} ms:\n${spawned.output()}`);
    await sleep(25);
  }
}
