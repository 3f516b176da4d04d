import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * RPC limits operators change at runtime (PUT /v1/config/rpc), owned by src/sui: every process
 * reads them and applies changes within seconds. One row per scope; `global` applies to all. A
 * null limit was never set: each process applies its own environment's (RPC_REQUESTS_PER_SECOND,
 * RPC_CONCURRENCY).
 */
export const rpcSettings = pgTable('rpc_settings', {
  scope: text('scope').primaryKey(),
  requestsPerSecond: integer('requests_per_second'),
  maxInFlight: integer('max_in_flight'),
  updatedAt: timestamp('updated_at', { mode: 'date', withTimezone: true }).notNull().defaultNow(),
  updatedBy: text('updated_by'),
});
