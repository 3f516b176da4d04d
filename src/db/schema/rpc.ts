import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * RPC limits operators change at runtime (PUT /v1/config/rpc), owned by src/sui: every process
 * reads them and applies changes within seconds. One row per scope; `global` applies to all.
 */
export const rpcSettings = pgTable('rpc_settings', {
  scope: text('scope').primaryKey(),
  requestsPerSecond: integer('requests_per_second').notNull(),
  maxInFlight: integer('max_in_flight').notNull(),
  updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  updatedBy: text('updated_by'),
});
