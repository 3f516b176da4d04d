import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { packageBackfillChunks, packageBackfillRequests, packageBackfillWatermarks } from '../db/schema/backfill.ts';
import { suiPackages } from '../db/schema/framework.ts';
import type { MatchMode } from '../sui/records.ts';
import { listTransitions } from './lifecycle.ts';
import type { BackfillRequest } from './requests.ts';

export type ChunkView = {
  fromCheckpoint: string;
  toCheckpoint: string;
  objectsMatched: number;
  rowsInserted: number;
  rpcCalls: number;
  durationMs: number;
  workerId: string;
  finishedAt: string;
};

export type BackfillView = {
  id: string;
  status: BackfillRequest['status'];
  packageId: string;
  originalPackageId: string;
  familyIds: string[];
  match: MatchMode;
  fromCheckpoint: string;
  toCheckpoint: string;
  watermark: {
    checkpointHiInclusive: string;
    doneRanges: string;
  };
  progress: {
    checkpointsTotal: number;
    checkpointsDone: number;
    percent: number;
    /** Over the last minute of chunks; null when not running. */
    checkpointsPerSecond: number | null;
    etaSeconds: number | null;
  };
  rowsInserted: number;
  objectsMatched: number;
  attempts: number;
  workerId: string | null;
  heartbeatAt: string | null;
  lastError: string | null;
  /** The failed chunk's range, the attempts and the error code, when a chunk failed. */
  lastErrorDetail: Record<string, unknown> | null;
  /** The cancelled request this one continues. */
  resumedFromId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  recentChunks: ChunkView[];
  /** Every status change, oldest first. */
  transitions: TransitionView[];
};

export type TransitionView = { from: BackfillRequest['status'] | null; to: BackfillRequest['status']; actor: string; reason: string | null; at: string };

const RATE_WINDOW_MS = 60_000;
const RECENT_CHUNKS = 10;

/** Percent with two decimals; an empty range (nothing to do) is complete. */
export function percentDone(done: bigint, total: bigint): number {
  return total <= 0n ? 100 : Number((done * 10_000n) / total) / 100;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** Progress numbers from the watermark and the recent chunk log. */
export function computeProgress(
  request: Pick<BackfillRequest, 'fromCheckpoint' | 'toCheckpoint' | 'status'>,
  checkpointHiInclusive: bigint,
  recent: { from: bigint; to: bigint; durationMs: number; finishedAt: Date }[],
  now: Date,
): BackfillView['progress'] {
  const total = request.toCheckpoint - request.fromCheckpoint + 1n;
  const done = checkpointHiInclusive - request.fromCheckpoint + 1n;
  const percent = percentDone(done, total);
  let rate: number | null = null;
  const windowed = recent.filter((chunk) => now.getTime() - chunk.finishedAt.getTime() <= RATE_WINDOW_MS);
  if (request.status === 'running' && windowed.length > 0) {
    const checkpoints = windowed.reduce((sum, chunk) => sum + Number(chunk.to - chunk.from + 1n), 0);
    const since = Math.min(...windowed.map((chunk) => chunk.finishedAt.getTime() - chunk.durationMs));
    const seconds = Math.max((now.getTime() - since) / 1000, 0.001);
    rate = Math.round((checkpoints / seconds) * 100) / 100;
  }
  const remaining = Number(total - done);
  return {
    checkpointsTotal: Number(total),
    checkpointsDone: Number(done),
    percent,
    checkpointsPerSecond: rate,
    etaSeconds: rate && rate > 0 ? Math.ceil(remaining / rate) : remaining === 0 ? 0 : null,
  };
}

export async function getBackfillView(db: Db, id: string): Promise<BackfillView | undefined> {
  const [row] = await db.db
    .select()
    .from(packageBackfillRequests)
    .leftJoin(packageBackfillWatermarks, eq(packageBackfillWatermarks.requestId, packageBackfillRequests.id))
    .where(eq(packageBackfillRequests.id, id));
  if (!row) return undefined;
  const request = row.package_backfill_requests;
  const watermark = row.package_backfill_watermarks;
  const chunks = await db.db
    .select()
    .from(packageBackfillChunks)
    .where(eq(packageBackfillChunks.requestId, id))
    .orderBy(desc(packageBackfillChunks.id))
    .limit(Math.max(RECENT_CHUNKS, 200));
  const hi = watermark?.checkpointHiInclusive ?? request.fromCheckpoint - 1n;
  const progress = computeProgress(
    request,
    hi,
    chunks.map((chunk) => ({ from: chunk.fromCheckpoint, to: chunk.toCheckpoint, durationMs: chunk.durationMs, finishedAt: chunk.finishedAt })),
    new Date(),
  );
  return {
    id: request.id,
    status: request.status,
    packageId: request.requestedPackageId,
    originalPackageId: request.packageId,
    familyIds: request.familyIds,
    match: request.match,
    fromCheckpoint: request.fromCheckpoint.toString(),
    toCheckpoint: request.toCheckpoint.toString(),
    watermark: { checkpointHiInclusive: hi.toString(), doneRanges: watermark?.doneRanges ?? '{}' },
    progress,
    rowsInserted: Number(watermark?.rowsInserted ?? 0n),
    objectsMatched: Number(watermark?.objectsMatched ?? 0n),
    attempts: request.attempts,
    workerId: request.workerId,
    heartbeatAt: iso(request.heartbeatAt),
    lastError: request.lastError,
    lastErrorDetail: request.lastErrorDetail ?? null,
    resumedFromId: request.resumedFromId,
    createdAt: request.createdAt.toISOString(),
    startedAt: iso(request.startedAt),
    finishedAt: iso(request.finishedAt),
    recentChunks: chunks.slice(0, RECENT_CHUNKS).map((chunk) => ({
      fromCheckpoint: chunk.fromCheckpoint.toString(),
      toCheckpoint: chunk.toCheckpoint.toString(),
      objectsMatched: chunk.objectsMatched,
      rowsInserted: chunk.rowsInserted,
      rpcCalls: chunk.rpcCalls,
      durationMs: chunk.durationMs,
      workerId: chunk.workerId,
      finishedAt: chunk.finishedAt.toISOString(),
    })),
    transitions: (await listTransitions(db.db, id)).map((transition) => ({ ...transition, at: transition.at.toISOString() })),
  };
}

export type PackageWatermarkView = {
  packageId: string;
  originalPackageId: string;
  match: MatchMode;
  requestId: string;
  status: BackfillRequest['status'];
  fromCheckpoint: string;
  toCheckpoint: string;
  checkpointHiInclusive: string;
  percent: number;
};

/**
 * The watermark of a package's newest backfill in the given match mode. Any ID of the family finds
 * it: the registry maps upgraded IDs to the original, and a request stores its whole family.
 */
export async function getPackageWatermark(db: Db, packageId: string, match: MatchMode): Promise<PackageWatermarkView | undefined> {
  const [registered] = await db.db.select({ originalId: suiPackages.originalId }).from(suiPackages).where(eq(suiPackages.packageId, packageId));
  const originalId = registered?.originalId ?? packageId;
  const [row] = await db.db
    .select()
    .from(packageBackfillRequests)
    .leftJoin(packageBackfillWatermarks, eq(packageBackfillWatermarks.requestId, packageBackfillRequests.id))
    .where(
      and(
        or(eq(packageBackfillRequests.packageId, originalId), sql`${packageBackfillRequests.familyIds} @> array[${packageId}]::text[]`),
        eq(packageBackfillRequests.match, match),
        inArray(packageBackfillRequests.status, ['queued', 'running', 'paused', 'completed', 'failed']),
      ),
    )
    .orderBy(desc(packageBackfillRequests.createdAt))
    .limit(1);
  if (!row) return undefined;
  const request = row.package_backfill_requests;
  const hi = row.package_backfill_watermarks?.checkpointHiInclusive ?? request.fromCheckpoint - 1n;
  const total = request.toCheckpoint - request.fromCheckpoint + 1n;
  return {
    packageId,
    originalPackageId: request.packageId,
    match,
    requestId: request.id,
    status: request.status,
    fromCheckpoint: request.fromCheckpoint.toString(),
    toCheckpoint: request.toCheckpoint.toString(),
    checkpointHiInclusive: hi.toString(),
    percent: percentDone(hi - request.fromCheckpoint + 1n, total),
  };
}

export type BackfillSummary = {
  id: string;
  status: BackfillRequest['status'];
  packageId: string;
  originalPackageId: string;
  match: MatchMode;
  fromCheckpoint: string;
  toCheckpoint: string;
  checkpointHiInclusive: string;
  percent: number;
  rowsInserted: number;
  createdAt: string;
  finishedAt: string | null;
};

export type BackfillPage = { items: BackfillSummary[]; nextCursor: string | null };

/** Cursor of keyset pagination: the (created_at, id) of the last item, opaque to clients. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(id)) return undefined;
  return { createdAt, id };
}

/** Backfills newest first, optionally by status and by package (any ID of its family). */
export async function listBackfills(
  db: Db,
  filter: { status?: BackfillRequest['status']; packageId?: string; limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<BackfillPage> {
  const conditions = [];
  if (filter.status) conditions.push(eq(packageBackfillRequests.status, filter.status));
  if (filter.packageId) {
    conditions.push(
      or(eq(packageBackfillRequests.packageId, filter.packageId), sql`${packageBackfillRequests.familyIds} @> array[${filter.packageId}]::text[]`),
    );
  }
  if (filter.cursor) {
    conditions.push(
      sql`(${packageBackfillRequests.createdAt}, ${packageBackfillRequests.id}) < (${filter.cursor.createdAt.toISOString()}::timestamptz, ${filter.cursor.id}::uuid)`,
    );
  }
  const rows = await db.db
    .select()
    .from(packageBackfillRequests)
    .leftJoin(packageBackfillWatermarks, eq(packageBackfillWatermarks.requestId, packageBackfillRequests.id))
    .where(and(...conditions))
    .orderBy(desc(packageBackfillRequests.createdAt), desc(packageBackfillRequests.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  const items = page.map(({ package_backfill_requests: request, package_backfill_watermarks: watermark }) => {
    const hi = watermark?.checkpointHiInclusive ?? request.fromCheckpoint - 1n;
    const total = request.toCheckpoint - request.fromCheckpoint + 1n;
    return {
      id: request.id,
      status: request.status,
      packageId: request.requestedPackageId,
      originalPackageId: request.packageId,
      match: request.match,
      fromCheckpoint: request.fromCheckpoint.toString(),
      toCheckpoint: request.toCheckpoint.toString(),
      checkpointHiInclusive: hi.toString(),
      percent: percentDone(hi - request.fromCheckpoint + 1n, total),
      rowsInserted: Number(watermark?.rowsInserted ?? 0n),
      createdAt: request.createdAt.toISOString(),
      finishedAt: iso(request.finishedAt),
    };
  });
  const last = page[page.length - 1]?.package_backfill_requests;
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}
