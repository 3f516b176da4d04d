import { sql } from 'drizzle-orm';
import { bigint, check, index, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { TypeOriginRecord } from '../../sui/records.ts';

/**
 * Tables of the live indexer ("the framework"), owned by src/indexer. The backfill writes
 * `sui_objects` too (ON CONFLICT DO NOTHING makes overlap harmless) and reads `sui_packages`,
 * but never touches `watermarks`.
 */

/** Same columns as the Sui indexer framework's watermarks table. Only moves forward. */
export const watermarks = pgTable('watermarks', {
  pipeline: text('pipeline').primaryKey(),
  epochHiInclusive: bigint('epoch_hi_inclusive', { mode: 'bigint' }).notNull(),
  checkpointHiInclusive: bigint('checkpoint_hi_inclusive', { mode: 'bigint' }).notNull(),
  txHi: bigint('tx_hi', { mode: 'bigint' }).notNull(),
  timestampMsHiInclusive: bigint('timestamp_ms_hi_inclusive', { mode: 'bigint' }).notNull(),
  readerLo: bigint('reader_lo', { mode: 'bigint' }).notNull(),
  prunerTimestamp: timestamp('pruner_timestamp', { mode: 'date' }).notNull(),
  prunerHi: bigint('pruner_hi', { mode: 'bigint' }).notNull(),
});

/** One row per package version. */
export const suiPackages = pgTable(
  'sui_packages',
  {
    packageId: text('package_id').primaryKey(),
    originalId: text('original_id').notNull(),
    version: bigint('version', { mode: 'bigint' }).notNull(),
    /** Null when the publish transaction was pruned on every endpoint asked. */
    publishCheckpoint: bigint('publish_checkpoint', { mode: 'bigint' }),
    /** Null when no endpoint has the object version that names it (an old version of a package upgraded in place). */
    publishTxDigest: text('publish_tx_digest'),
    publishedAt: timestamp('published_at', { mode: 'date', withTimezone: true }),
    typeOrigins: jsonb('type_origins').$type<TypeOriginRecord[]>().notNull().default(sql`'[]'::jsonb`),
    /** `indexer` when the live indexer saw the publish (it then records every later upgrade too). */
    recordedBy: text('recorded_by', { enum: ['indexer', 'rpc'] }).notNull().default('rpc'),
    recordedAt: timestamp('recorded_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('sui_packages_original_id_idx').on(table.originalId, table.version),
    check('sui_packages_recorded_by_check', sql`${table.recordedBy} in ('indexer', 'rpc')`),
  ],
);

export const OBJECT_CHANGE_KINDS = ['created', 'mutated', 'unwrapped', 'deleted', 'wrapped'] as const;

/** One row per object version, written by the live indexer and by backfills. */
export const suiObjects = pgTable(
  'sui_objects',
  {
    objectId: text('object_id').notNull(),
    version: bigint('version', { mode: 'bigint' }).notNull(),
    objectType: text('object_type').notNull(),
    typePackage: text('type_package').notNull(),
    typeModule: text('type_module').notNull(),
    typeName: text('type_name').notNull(),
    ownerKind: text('owner_kind'),
    ownerAddress: text('owner_address'),
    checkpoint: bigint('checkpoint', { mode: 'bigint' }).notNull(),
    txDigest: text('tx_digest').notNull(),
    objectDigest: text('object_digest'),
    change: text('change', { enum: OBJECT_CHANGE_KINDS }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.objectId, table.version] }),
    index('sui_objects_type_package_checkpoint_idx').on(table.typePackage, table.checkpoint),
    check('sui_objects_change_check', sql`${table.change} in ('created', 'mutated', 'unwrapped', 'deleted', 'wrapped')`),
  ],
);

/**
 * The live indexer's registry of tracked packages: which families it indexes into `sui_objects`,
 * and from which checkpoint on. A backfill of a tracked package ends just before
 * `first_checkpoint` (invariant 3, README "Data and invariants").
 */
export const indexerTrackedPackages = pgTable(
  'indexer_tracked_packages',
  {
    originalId: text('original_id').notNull(),
    match: text('match', { enum: ['outer', 'anywhere'] }).notNull(),
    /** Every address defining a struct of the family; the indexer adds upgrades as it sees them. */
    familyIds: text('family_ids').array().notNull(),
    /** First checkpoint the indexer covers the package from; null until it starts (pending). */
    firstCheckpoint: bigint('first_checkpoint', { mode: 'bigint' }),
    registeredAt: timestamp('registered_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
    activatedAt: timestamp('activated_at', { mode: 'date', withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.originalId, table.match] }),
    check('indexer_tracked_packages_match_check', sql`${table.match} in ('outer', 'anywhere')`),
  ],
);
