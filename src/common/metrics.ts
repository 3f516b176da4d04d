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
    rpcRateLimit: new Gauge({ name: 'sui_backfill_rpc_rate_limit', help: 'Configured RPC requests per second (env default or PUT /v1/config/rpc)', registers }),
    rpcEffectiveRateLimit: new Gauge({
      name: 'sui_backfill_rpc_rate_limit_effective',
      help: 'RPC requests per second the budget allows now: the configured rate, lowered after rate-limit replies',
      registers,
    }),
    rpcAchievedRate: new Gauge({ name: 'sui_backfill_rpc_achieved_rate', help: 'RPC calls started per second over the last 5 s', registers }),
    rpcMaxInFlight: new Gauge({ name: 'sui_backfill_rpc_max_in_flight', help: 'Configured cap on RPC calls in flight', registers }),
    rpcQueued: new Gauge({ name: 'sui_backfill_rpc_queued', help: 'RPC calls waiting for the budget', registers }),
    rpcBackoffSeconds: new Gauge({ name: 'sui_backfill_rpc_backoff_seconds', help: 'Pause in force after a rate-limit reply (0 when none)', registers }),
    rpcRetries: new Counter({
      name: 'sui_backfill_rpc_retries_total',
      help: 'Sui RPC attempts retried, by method and error code',
      labelNames: ['method', 'code'] as const,
      registers,
    }),
    rpcEndpointUp: new Gauge({
      name: 'sui_backfill_rpc_endpoint_up',
      help: 'Whether a Sui endpoint is in use (1) or put aside after failures (0)',
      labelNames: ['url', 'role'] as const,
      registers,
    }),
    rpcCheckpointFallbacks: new Counter({
      name: 'sui_backfill_rpc_checkpoint_fallbacks_total',
      help: 'Checkpoints too large for one response, read as digests then batches of transactions',
      registers,
    }),
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
    walkCheckpointHi: new Gauge({
      name: 'sui_backfill_walk_checkpoint_hi',
      help: 'Watermark of each walk this process runs, set at each chunk commit; gone when the walk ends',
      labelNames: ['request_id', 'package_id'] as const,
      registers,
    }),
    walkCheckpointsRemaining: new Gauge({
      name: 'sui_backfill_walk_checkpoints_remaining',
      help: "Checkpoints between each walk's watermark and the end of its range; gone when the walk ends",
      labelNames: ['request_id', 'package_id'] as const,
      registers,
    }),
    walkChunkSize: new Gauge({
      name: 'sui_backfill_walk_chunk_size',
      help: "Each walk's adaptive chunk size now (checkpoints); gone when the walk ends",
      labelNames: ['request_id', 'package_id'] as const,
      registers,
    }),
    chunkResizes: new Counter({
      name: 'sui_backfill_chunk_resizes_total',
      help: 'Adaptive chunk size changes by pipeline, direction (shrink or grow) and reason (response_too_large, deadline, successes)',
      labelNames: ['pipeline', 'direction', 'reason'] as const,
      registers,
    }),
    backfillRequests: new Gauge({
      name: 'sui_backfill_requests',
      help: 'Backfill requests by status, counted in Postgres when the API is scraped',
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

/** The labels of a walk's own series (sui_backfill_walk_*): one set per walk running in the process. */
export type WalkLabels = { request_id: string; package_id: string };
