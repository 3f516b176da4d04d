import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric of a process, in one registry. Modules record through these typed
 * handles; `/metrics` renders the registry.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sui_backfill_' });
  const registers = [registry];

  return {
    registry,
    rpcRequests: new Counter({
      name: 'sui_backfill_rpc_requests_total',
      help: 'Sui RPC calls by method and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers,
    }),
    rpcDuration: new Histogram({
      name: 'sui_backfill_rpc_duration_seconds',
      help: 'Sui RPC call duration',
      labelNames: ['method'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    rpcInFlight: new Gauge({ name: 'sui_backfill_rpc_in_flight', help: 'Sui RPC calls in flight', registers }),
    rpcThrottled: new Counter({
      name: 'sui_backfill_rpc_throttled_total',
      help: 'Sui RPC calls answered with RESOURCE_EXHAUSTED / 429',
      registers,
    }),
    rpcRateLimit: new Gauge({ name: 'sui_backfill_rpc_rate_limit', help: 'Current RPC requests per second allowed', registers }),
    checkpointsProcessed: new Counter({
      name: 'sui_backfill_checkpoints_processed_total',
      help: 'Checkpoints processed by pipeline (backfill or indexer)',
      labelNames: ['pipeline'] as const,
      registers,
    }),
    objectsMatched: new Counter({
      name: 'sui_backfill_objects_matched_total',
      help: 'Object versions that matched a package family',
      labelNames: ['pipeline'] as const,
      registers,
    }),
    rowsInserted: new Counter({
      name: 'sui_backfill_rows_inserted_total',
      help: 'Rows inserted into sui_objects (after ON CONFLICT DO NOTHING)',
      labelNames: ['pipeline'] as const,
      registers,
    }),
    chunkDuration: new Histogram({
      name: 'sui_backfill_chunk_duration_seconds',
      help: 'Duration of a backfill chunk from first fetch to commit',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    backfillRequests: new Gauge({
      name: 'sui_backfill_requests',
      help: 'Backfill requests by status (as last seen by this process)',
      labelNames: ['status'] as const,
      registers,
    }),
    indexerCheckpoint: new Gauge({
      name: 'sui_backfill_indexer_checkpoint_hi',
      help: 'Highest checkpoint committed by the live indexer',
      registers,
    }),
    httpRequests: new Counter({
      name: 'sui_backfill_http_requests_total',
      help: 'API requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
