import { setTimeout as sleep } from 'node:timers/promises';
import type { TestDatabase } from './db.ts';

// Timestamps are read as epoch milliseconds: the shared client (drizzle's) hands timestamptz out as text.
type ChunkRow = { id: bigint; from: bigint; to: bigint; rowsInserted: number; workerId: string; finishedAt: Date };

/** A request's committed chunks in commit order. */
export async function chunksOf(database: TestDatabase, requestId: string): Promise<ChunkRow[]> {
  const rows = await database.sql<{ id: string; from_checkpoint: string; to_checkpoint: string; rows_inserted: number; worker_id: string; finished_ms: number }[]>`
    select id, from_checkpoint, to_checkpoint, rows_inserted, worker_id, (extract(epoch from finished_at) * 1000)::float8 as finished_ms
    from package_backfill_chunks where request_id = ${requestId} order by id`;
  return rows.map((row) => ({
    id: BigInt(row.id),
    from: BigInt(row.from_checkpoint),
    to: BigInt(row.to_checkpoint),
    rowsInserted: row.rows_inserted,
    workerId: row.worker_id,
    finishedAt: new Date(row.finished_ms),
  }));
}

/**
 * The chunks, sorted by range, tile [from, to] exactly: no overlap (nothing walked twice) and no
 * gap. Returns the sorted ranges as `from-to` strings for readable failures.
 */
export function tiling(chunks: ChunkRow[], from: bigint, to: bigint): { ok: boolean; ranges: string[] } {
  const sorted = [...chunks].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  let next = from;
  let ok = true;
  for (const chunk of sorted) {
    if (chunk.from !== next) ok = false;
    next = chunk.to + 1n;
  }
  return { ok: ok && next === to + 1n, ranges: sorted.map((chunk) => `${chunk.from}-${chunk.to}`) };
}

/** The worker ids in commit order with repeats collapsed: `[a, b]` means a walked, then b. */
export function walkers(chunks: ChunkRow[]): string[] {
  return chunks.map((chunk) => chunk.workerId).filter((worker, i, all) => i === 0 || all[i - 1] !== worker);
}

type TransitionRow = { from: string | null; to: string; actor: string; reason: string | null; at: Date };

export async function transitionsOf(database: TestDatabase, requestId: string): Promise<TransitionRow[]> {
  const rows = await database.sql<{ from_status: string | null; to_status: string; actor: string; reason: string | null; at_ms: number }[]>`
    select from_status, to_status, actor, reason, (extract(epoch from at) * 1000)::float8 as at_ms from package_backfill_transitions where request_id = ${requestId} order by id`;
  return rows.map((row) => ({ from: row.from_status, to: row.to_status, actor: row.actor, reason: row.reason, at: new Date(row.at_ms) }));
}

/** Each transition starts where the one before ended: the history is one consistent chain. */
export function isChain(transitions: TransitionRow[]): boolean {
  return transitions.every((transition, i) => (i === 0 ? transition.from === null : transition.from === transitions[i - 1].to));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** What a request has written so far: its chunk log, its rows and its watermark. */
export async function writtenSoFar(database: TestDatabase, requestId: string) {
  const [row] = await database.sql<{ chunks: number; hi: string; objects: number }[]>`
    select (select count(*)::int from package_backfill_chunks where request_id = ${requestId}) as chunks,
           (select checkpoint_hi_inclusive from package_backfill_watermarks where request_id = ${requestId}) as hi,
           (select count(*)::int from sui_objects) as objects`;
  return row;
}
