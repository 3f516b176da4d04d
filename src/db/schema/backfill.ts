import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  customType,
  index,
  jsonb,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** Tables of the backfill, owned by src/backfill. Names never overlap the framework's. */

export const BACKFILL_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];
export const ACTIVE_STATUSES = ['queued', 'running', 'paused'] as const satisfies readonly BackfillStatus[];

/** Postgres `int8multirange`, kept as its text form (`{[1,11),[20,31)}`); SQL does the arithmetic. */
const int8multirange = customType<{ data: string; driverData: string }>({
  dataType: () => 'int8multirange',
});

export const packageBackfillRequests = pgTable(
  'package_backfill_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The family's original package ID. */
    packageId: text('package_id').notNull(),
    /** The ID as posted (normalized); may be any version of the family. */
    requestedPackageId: text('requested_package_id').notNull(),
    /** Every address defining a struct of the family, fixed at intake. */
    familyIds: text('family_ids').array().notNull(),
    match: text('match', { enum: ['outer', 'anywhere'] }).notNull(),
    /** Canonical form of the options that make two requests "the same" (match and explicit range). */
    optionsKey: text('options_key').notNull(),
    fromCheckpoint: bigint('from_checkpoint', { mode: 'bigint' }).notNull(),
    /** Where this backfill ends; fixed at intake, never recomputed (invariant 3, README "Data and invariants"). */
    toCheckpoint: bigint('to_checkpoint', { mode: 'bigint' }).notNull(),
    status: text('status', { enum: BACKFILL_STATUSES }).notNull().default('queued'),
    workerId: text('worker_id'),
    heartbeatAt: timestamp('heartbeat_at', { mode: 'date', withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Structured context of the last error (failed chunk range, attempts, error code). */
    lastErrorDetail: jsonb('last_error_detail').$type<Record<string, unknown>>(),
    lastErrorAt: timestamp('last_error_at', { mode: 'date', withTimezone: true }),
    createdAt: timestamp('created_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { mode: 'date', withTimezone: true }),
    finishedAt: timestamp('finished_at', { mode: 'date', withTimezone: true }),
    /** The cancelled request this one continues (it starts from that request's watermark). */
    resumedFromId: uuid('resumed_from_id'),
  },
  (table) => [
    // At most one active request per (package, options): invariant 4 (README "Data and invariants").
    uniqueIndex('package_backfill_requests_active_idx')
      .on(table.packageId, table.optionsKey)
      .where(sql`${table.status} in ('queued', 'running', 'paused')`),
    index('package_backfill_requests_status_idx').on(table.status, table.createdAt),
    index('package_backfill_requests_package_idx').on(table.packageId, table.createdAt),
    // An empty range (to = from - 1) is a backfill with nothing to do: the live indexer covers it all.
    check('package_backfill_requests_range_check', sql`${table.fromCheckpoint} <= ${table.toCheckpoint} + 1`),
    check(
      'package_backfill_requests_status_check',
      sql`${table.status} in ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')`,
    ),
  ],
);

export const packageBackfillWatermarks = pgTable('package_backfill_watermarks', {
  requestId: uuid('request_id')
    .primaryKey()
    .references(() => packageBackfillRequests.id, { onDelete: 'cascade' }),
  /** Highest checkpoint such that everything from the request's from_checkpoint up to it is done. */
  checkpointHiInclusive: bigint('checkpoint_hi_inclusive', { mode: 'bigint' }).notNull(),
  /** Every finished range; chunks may finish out of order. */
  doneRanges: int8multirange('done_ranges').notNull().default(sql`'{}'::int8multirange`),
  rowsInserted: bigint('rows_inserted', { mode: 'bigint' }).notNull().default(sql`0`),
  objectsMatched: bigint('objects_matched', { mode: 'bigint' }).notNull().default(sql`0`),
  checkpointsDone: bigint('checkpoints_done', { mode: 'bigint' }).notNull().default(sql`0`),
  updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
});

/**
 * What the backfills of a package family have done in one match mode, and what they owe the
 * handoff to the live indexer. `done_ranges` is the union of the done ranges of all its requests,
 * deleted ones included: written in each chunk's transaction, it never shrinks, so a package's
 * watermark and what the handoff counts as covered survive the deletion of requests. The handoff's
 * obligation is kept here too, not read from requests an operator may delete.
 */
export const packageBackfillCoverage = pgTable(
  'package_backfill_coverage',
  {
    /** The family's original package ID. */
    packageId: text('package_id').notNull(),
    match: text('match', { enum: ['outer', 'anywhere'] }).notNull(),
    doneRanges: int8multirange('done_ranges').notNull().default(sql`'{}'::int8multirange`),
    /**
     * The lowest first checkpoint of any request whose end defaulted to the handoff: from there to
     * the checkpoint before the indexer's start, the backfills owe every checkpoint. Null while no
     * such request was ever created.
     */
    handoffFrom: bigint('handoff_from', { mode: 'bigint' }),
    /** The options key of the request that set `handoff_from`: the continuations' options. */
    handoffOptionsKey: text('handoff_options_key'),
    /** What operators gave up of that obligation: the unwalked ranges of cancelled requests with a defaulted end. */
    waivedRanges: int8multirange('waived_ranges').notNull().default(sql`'{}'::int8multirange`),
    updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.packageId, table.match] })],
);

/** One row per finished chunk: the history operators read. */
export const packageBackfillChunks = pgTable(
  'package_backfill_chunks',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => packageBackfillRequests.id, { onDelete: 'cascade' }),
    fromCheckpoint: bigint('from_checkpoint', { mode: 'bigint' }).notNull(),
    toCheckpoint: bigint('to_checkpoint', { mode: 'bigint' }).notNull(),
    objectsMatched: integer('objects_matched').notNull(),
    rowsInserted: integer('rows_inserted').notNull(),
    rpcCalls: integer('rpc_calls').notNull(),
    durationMs: integer('duration_ms').notNull(),
    workerId: text('worker_id').notNull(),
    finishedAt: timestamp('finished_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('package_backfill_chunks_request_idx').on(table.requestId, table.id)],
);

/** Every status change of a request, with who made it: the history operators read. */
export const packageBackfillTransitions = pgTable(
  'package_backfill_transitions',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    requestId: uuid('request_id')
      .notNull()
      .references(() => packageBackfillRequests.id, { onDelete: 'cascade' }),
    fromStatus: text('from_status', { enum: BACKFILL_STATUSES }),
    toStatus: text('to_status', { enum: BACKFILL_STATUSES }).notNull(),
    /** `api`, `worker:<id>`, `reconciler`, ... */
    actor: text('actor').notNull(),
    reason: text('reason'),
    at: timestamp('at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('package_backfill_transitions_request_idx').on(table.requestId, table.id)],
);
