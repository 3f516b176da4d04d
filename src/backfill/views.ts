import type { z } from '@hono/zod-openapi';
import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import type {
  BackfillPageSchema,
  BackfillSchema,
  BackfillSummarySchema,
  ChunkPageSchema,
  ChunkSchema,
  PackageWatermarkSchema,
} from '../api/schemas.ts';
import type { Db } from '../db/client.ts';
import { BACKFILL_STATUSES, packageBackfillChunks, packageBackfillRequests, packageBackfillWatermarks, type BackfillStatus } from '../db/schema/backfill.ts';
import { suiPackages } from '../db/schema/framework.ts';
import type { MatchMode } from '../sui/records.ts';
import { listTransitions } from './lifecycle.ts';
import type { BackfillRequest } from './requests.ts';

/** What the API answers is what these functions build: the types are the API's schemas. */
export type BackfillView = z.infer<typeof BackfillSchema>;
type ChunkView = z.infer<typeof ChunkSchema>;
type ChunkPage = z.infer<typeof ChunkPageSchema>;
type BackfillSummary = z.infer<typeof BackfillSummarySchema>;
type BackfillPage = z.infer<typeof BackfillPageSchema>;
type PackageWatermarkView = z.infer<typeof PackageWatermarkSchema>;

/** The rate is measured over the chunks of the last minute. */
const RATE_WINDOW_MS = 60_000;
/** At most this many chunks are read for the rate: a minute of chunks at 10 per second. */
const RATE_WINDOW_MAX_CHUNKS = 600;
const RECENT_CHUNKS = 10;

type Range = Pick<BackfillRequest, 'fromCheckpoint' | 'toCheckpoint'>;

/**
 * Where a request stands: its watermark (just below its first checkpoint while nothing is done),
 * checkpoints done and in all, and the percent done with two decimals (an empty range is complete).
 */
export function watermarkProgress(request: Range, checkpointHiInclusive: bigint | null | undefined) {
  const hi = checkpointHiInclusive ?? request.fromCheckpoint - 1n;
  const total = request.toCheckpoint - request.fromCheckpoint + 1n;
  const done = hi - request.fromCheckpoint + 1n;
  return { hi, total, done, percent: total <= 0n ? 100 : Number((done * 10_000n) / total) / 100 };
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** What every short view of a request starts with (the `requestFields` of the API's schemas). */
export function requestFieldsOf(request: BackfillRequest): Pick<BackfillSummary, 'id' | 'status' | 'packageId' | 'originalPackageId' | 'match' | 'fromCheckpoint' | 'toCheckpoint'> {
  return {
    id: request.id,
    status: request.status,
    packageId: request.requestedPackageId,
    originalPackageId: request.packageId,
    match: request.match,
    fromCheckpoint: request.fromCheckpoint.toString(),
    toCheckpoint: request.toCheckpoint.toString(),
  };
}

export type ChunkTiming = { from: bigint; to: bigint; durationMs: number; finishedAt: Date };

/**
 * Progress numbers from the watermark and the chunk log: the rate is the checkpoints of the chunks
 * finished within the last minute over the time since the first of them started (a running request
 * only); the ETA is what is left at that rate.
 */
export function computeProgress(
  request: Range & Pick<BackfillRequest, 'status'>,
  checkpointHiInclusive: bigint,
  recent: ChunkTiming[],
  now: Date,
): BackfillView['progress'] {
  const { total, done, percent } = watermarkProgress(request, checkpointHiInclusive);
  let rate: number | null = null;
  const windowed = recent.filter((chunk) => now.getTime() - chunk.finishedAt.getTime() <= RATE_WINDOW_MS);
  if (request.status === 'running' && windowed.length > 0) {
    const checkpoints = windowed.reduce((sum, chunk) => sum + Number(chunk.to - chunk.from + 1n), 0);
    const since = Math.min(...windowed.map((chunk) => chunk.finishedAt.getTime() - chunk.durationMs));
    rate = checkpoints / Math.max((now.getTime() - since) / 1000, 0.001);
  }
  const remaining = Number(total - done);
  return {
    checkpointsTotal: Number(total),
    checkpointsDone: Number(done),
    percent,
    checkpointsPerSecond: rate === null ? null : Math.round(rate * 100) / 100,
    etaSeconds: rate && rate > 0 ? Math.ceil(remaining / rate) : remaining === 0 ? 0 : null,
  };
}

type ChunkRow = typeof packageBackfillChunks.$inferSelect;

function toChunkView(chunk: ChunkRow): ChunkView {
  return {
    fromCheckpoint: chunk.fromCheckpoint.toString(),
    toCheckpoint: chunk.toCheckpoint.toString(),
    objectsMatched: chunk.objectsMatched,
    rowsInserted: chunk.rowsInserted,
    rpcCalls: chunk.rpcCalls,
    durationMs: chunk.durationMs,
    workerId: chunk.workerId,
    finishedAt: chunk.finishedAt.toISOString(),
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
    .limit(RATE_WINDOW_MAX_CHUNKS);
  const hi = watermarkProgress(request, watermark?.checkpointHiInclusive).hi;
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
    recentChunks: chunks.slice(0, RECENT_CHUNKS).map(toChunkView),
    transitions: (await listTransitions(db.db, id)).map((transition) => ({ ...transition, at: transition.at.toISOString() })),
  };
}

/** A request's chunk log, newest first, a page at a time; undefined when there is no such request. */
export async function listChunks(db: Db, requestId: string, page: { limit: number; cursor?: bigint }): Promise<ChunkPage | undefined> {
  const [request] = await db.db.select({ id: packageBackfillRequests.id }).from(packageBackfillRequests).where(eq(packageBackfillRequests.id, requestId));
  if (!request) return undefined;
  const rows = await db.db
    .select()
    .from(packageBackfillChunks)
    .where(and(eq(packageBackfillChunks.requestId, requestId), page.cursor === undefined ? undefined : lt(packageBackfillChunks.id, page.cursor)))
    .orderBy(desc(packageBackfillChunks.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items: items.map(toChunkView), nextCursor: rows.length > page.limit && last ? last.id.toString() : null };
}

/** Parses a chunk cursor (the id of the last chunk of the previous page). */
export function decodeChunkCursor(cursor: string): bigint | undefined {
  return /^\d{1,19}$/.test(cursor) ? BigInt(cursor) : undefined;
}

/** The request rows of a package family in one match mode, found from any ID of the family. */
async function familyOriginalId(db: Db, packageId: string): Promise<string | undefined> {
  const [registered] = await db.db.select({ originalId: suiPackages.originalId }).from(suiPackages).where(eq(suiPackages.packageId, packageId));
  if (registered) return registered.originalId;
  const [requested] = await db.db
    .select({ originalId: packageBackfillRequests.packageId })
    .from(packageBackfillRequests)
    .where(or(eq(packageBackfillRequests.packageId, packageId), sql`${packageBackfillRequests.familyIds} @> array[${packageId}]::text[]`))
    .limit(1);
  return requested?.originalId;
}

/**
 * A package's watermark in one match mode, over every backfill of its family in that mode: the done
 * ranges of all of them together (the package's coverage, which keeps those of deleted requests),
 * and the watermark, the end of the coverage that runs without a gap from the package's publish
 * checkpoint (or, when the registry does not know it, from the lowest first checkpoint of its
 * backfills or, with none left, of its coverage). The backfills that did some of that work and
 * still exist are listed, newest first. Any ID of the family finds it; undefined when the family
 * has neither a backfill nor any coverage in that mode.
 */
export async function getPackageWatermark(db: Db, packageId: string, match: MatchMode): Promise<PackageWatermarkView | undefined> {
  const originalId = await familyOriginalId(db, packageId);
  if (originalId === undefined) return undefined;
  const [published] = await db.db.select({ checkpoint: suiPackages.publishCheckpoint }).from(suiPackages).where(eq(suiPackages.packageId, originalId));
  const publishCheckpoint = published?.checkpoint ?? null;
  const [coverage] = await db.sql<{ sources: number; start: string | null; ranges: string; hi: string | null }[]>`
    with family as (
      select r.from_checkpoint, coalesce(w.done_ranges, '{}'::int8multirange) as done_ranges
      from package_backfill_requests r left join package_backfill_watermarks w on w.request_id = r.id
      where r.package_id = ${originalId} and r.match = ${match}
    ), kept as (
      select done_ranges from package_backfill_coverage where package_id = ${originalId} and match = ${match}
    ), covered as (
      select coalesce(${publishCheckpoint?.toString() ?? null}::int8, (select min(from_checkpoint) from family), (select lower(done_ranges) from kept)) as start,
             (select coalesce(range_agg(done_ranges), '{}'::int8multirange) from (select done_ranges from family union all select done_ranges from kept) done) as ranges,
             ((select count(*) from family) + (select count(*) from kept))::int as sources
    )
    select sources, start::text as start, ranges::text as ranges,
           (select upper(r) - 1 from unnest(covered.ranges) r where r @> covered.start)::text as hi
    from covered`;
  if (!coverage || coverage.sources === 0 || coverage.start === null) return undefined;
  const contributors = await db.db
    .select()
    .from(packageBackfillRequests)
    .innerJoin(packageBackfillWatermarks, eq(packageBackfillWatermarks.requestId, packageBackfillRequests.id))
    .where(and(eq(packageBackfillRequests.packageId, originalId), eq(packageBackfillRequests.match, match), sql`not isempty(${packageBackfillWatermarks.doneRanges})`))
    .orderBy(desc(packageBackfillRequests.createdAt), desc(packageBackfillRequests.id));
  return {
    packageId,
    originalPackageId: originalId,
    match,
    publishCheckpoint: publishCheckpoint?.toString() ?? null,
    checkpointHiInclusive: coverage.hi ?? (BigInt(coverage.start) - 1n).toString(),
    doneRanges: coverage.ranges,
    requests: contributors.map(({ package_backfill_requests: request, package_backfill_watermarks: watermark }) => ({
      id: request.id,
      status: request.status,
      fromCheckpoint: request.fromCheckpoint.toString(),
      toCheckpoint: request.toCheckpoint.toString(),
      checkpointHiInclusive: watermark.checkpointHiInclusive.toString(),
      doneRanges: watermark.doneRanges,
    })),
  };
}

/**
 * Cursor of keyset pagination: the (created_at, id) of the last item, opaque to clients. The time
 * keeps Postgres' microseconds: requests created within one millisecond must still be told apart.
 */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

type BackfillCursor = { createdAt: string; id: string };

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function decodeCursor(cursor: string): BackfillCursor | undefined {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !CURSOR_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || !id || !/^[0-9a-f-]{36}$/.test(id)) return undefined;
  return { createdAt, id };
}

const createdAtText = sql<string>`to_char(${packageBackfillRequests.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The chunks of the rate window of each request, as getBackfillView reads them: at most RATE_WINDOW_MAX_CHUNKS, newest first. */
async function recentChunksOf(db: Db, requestIds: string[], now: Date): Promise<Map<string, ChunkTiming[]>> {
  const byRequest = new Map<string, ChunkTiming[]>();
  if (requestIds.length === 0) return byRequest;
  const rows = await db.sql<{ request_id: string; from_checkpoint: string; to_checkpoint: string; duration_ms: number; finished_ms: number }[]>`
    select request_id, from_checkpoint::text, to_checkpoint::text, duration_ms, floor(extract(epoch from finished_at) * 1000)::float8 as finished_ms from (
      select *, row_number() over (partition by request_id order by id desc) as n
      from package_backfill_chunks
      where request_id = any(${requestIds}::uuid[]) and finished_at >= ${new Date(now.getTime() - RATE_WINDOW_MS).toISOString()}::timestamptz
    ) ranked
    where n <= ${RATE_WINDOW_MAX_CHUNKS}`;
  for (const row of rows) {
    const timings = byRequest.get(row.request_id) ?? [];
    timings.push({ from: BigInt(row.from_checkpoint), to: BigInt(row.to_checkpoint), durationMs: row.duration_ms, finishedAt: new Date(row.finished_ms) });
    byRequest.set(row.request_id, timings);
  }
  return byRequest;
}

/** Backfills newest first, optionally by status and by package (any ID of its family). */
export async function listBackfills(
  db: Db,
  filter: { status?: BackfillStatus; packageId?: string; limit: number; cursor?: BackfillCursor },
): Promise<BackfillPage> {
  const conditions = [];
  if (filter.status) conditions.push(eq(packageBackfillRequests.status, filter.status));
  if (filter.packageId) {
    conditions.push(
      or(eq(packageBackfillRequests.packageId, filter.packageId), sql`${packageBackfillRequests.familyIds} @> array[${filter.packageId}]::text[]`),
    );
  }
  if (filter.cursor) {
    conditions.push(sql`(${packageBackfillRequests.createdAt}, ${packageBackfillRequests.id}) < (${filter.cursor.createdAt}::timestamptz, ${filter.cursor.id}::uuid)`);
  }
  const rows = await db.db
    .select({ request: packageBackfillRequests, watermark: packageBackfillWatermarks, createdAt: createdAtText })
    .from(packageBackfillRequests)
    .leftJoin(packageBackfillWatermarks, eq(packageBackfillWatermarks.requestId, packageBackfillRequests.id))
    .where(and(...conditions))
    .orderBy(desc(packageBackfillRequests.createdAt), desc(packageBackfillRequests.id))
    .limit(filter.limit + 1);
  const page = rows.slice(0, filter.limit);
  const now = new Date();
  const recent = await recentChunksOf(db, page.filter(({ request }) => request.status === 'running').map(({ request }) => request.id), now);
  const items = page.map(({ request, watermark }): BackfillSummary => {
    const { hi, percent } = watermarkProgress(request, watermark?.checkpointHiInclusive);
    const progress = computeProgress(request, hi, recent.get(request.id) ?? [], now);
    return {
      ...requestFieldsOf(request),
      checkpointHiInclusive: hi.toString(),
      percent,
      rowsInserted: Number(watermark?.rowsInserted ?? 0n),
      objectsMatched: Number(watermark?.objectsMatched ?? 0n),
      checkpointsPerSecond: progress.checkpointsPerSecond,
      etaSeconds: progress.etaSeconds,
      workerId: request.workerId,
      heartbeatAt: iso(request.heartbeatAt),
      lastError: request.lastError,
      createdAt: request.createdAt.toISOString(),
      startedAt: iso(request.startedAt),
      finishedAt: iso(request.finishedAt),
    };
  });
  const last = page[page.length - 1];
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.request.id) : null };
}

/** How many requests are in each status (every status listed, zero included). */
export async function countRequestsByStatus(db: Db): Promise<Record<BackfillStatus, number>> {
  const rows = await db.db
    .select({ status: packageBackfillRequests.status, count: sql<number>`count(*)::int` })
    .from(packageBackfillRequests)
    .groupBy(packageBackfillRequests.status);
  const counts = Object.fromEntries(BACKFILL_STATUSES.map((status) => [status, 0])) as Record<BackfillStatus, number>;
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}
