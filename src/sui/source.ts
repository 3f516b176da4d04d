import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import type { RpcBudget } from './budget.ts';
import { decodeCheckpoint, decodeServiceInfo } from './decode.ts';
import { BelowLowestAvailableError, MalformedResponseError, NotFoundError, UnavailableError } from './errors.ts';
import { createGrpcClient } from './grpc.ts';
import { orderedStream } from './ordered-stream.ts';
import { createPackageResolver } from './packages.ts';
import { CHECKPOINT_MASK } from './read-masks.ts';
import type { CheckpointRecord, ResolvedPackage, ServiceInfo } from './records.ts';
import { createRpcCaller, type RpcCallOptions, type RpcStats } from './rpc.ts';

export type SuiSourceOptions = {
  url: string;
  /** An archival endpoint asked for checkpoints below `url`'s lowest available one. */
  archiveUrl?: string;
  timeoutMs: number;
  budget?: RpcBudget;
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  metrics?: Metrics;
  logger?: Logger;
};

export type SuiSource = {
  readonly url: string;
  getServiceInfo(options?: RpcCallOptions): Promise<ServiceInfo>;
  getCheckpoint(sequenceNumber: bigint, options?: RpcCallOptions): Promise<CheckpointRecord>;
  /** Checkpoints `from..to` inclusive, in order, fetched `concurrency` at a time. */
  getCheckpoints(from: bigint, to: bigint, options?: { concurrency?: number; window?: number; signal?: AbortSignal }): AsyncGenerator<CheckpointRecord>;
  resolvePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<ResolvedPackage>;
  /** RPC calls made so far (archive included), retries counted: callers diff it per unit of work. */
  stats(): RpcStats;
};

function addStats(a: RpcStats, b: RpcStats): RpcStats {
  const byMethod = { ...a.byMethod };
  for (const [method, count] of Object.entries(b.byMethod)) byMethod[method] = (byMethod[method] ?? 0) + count;
  return { calls: a.calls + b.calls, byMethod, retries: a.retries + b.retries, failures: a.failures + b.failures };
}

/** The Sui RPC as the rest of the project sees it: typed records and typed errors, within the budget. */
export function createSuiSource(options: SuiSourceOptions): SuiSource {
  const { url } = options;
  const client = createGrpcClient(url);
  const rpc = createRpcCaller(options);
  const { call } = rpc;
  const resolver = createPackageResolver({ client, call });
  const archive = options.archiveUrl ? createSuiSource({ ...options, url: options.archiveUrl, archiveUrl: undefined }) : undefined;

  const getServiceInfo = (callOptions: RpcCallOptions = {}) =>
    call('getServiceInfo', '', (o) => client.ledgerService.getServiceInfo({}, o).response.then((response) => decodeServiceInfo(response, `getServiceInfo at ${url}`)), callOptions);

  /** NOT_FOUND for a checkpoint means pruned, not yet produced, or a lagging replica: tell which. */
  const explainMissing = async (sequenceNumber: bigint, error: NotFoundError, callOptions: RpcCallOptions): Promise<CheckpointRecord> => {
    const info = await getServiceInfo(callOptions);
    if (sequenceNumber < info.lowestAvailableCheckpoint) {
      if (archive) return archive.getCheckpoint(sequenceNumber, callOptions);
      throw new BelowLowestAvailableError(sequenceNumber, info.lowestAvailableCheckpoint, url);
    }
    if (sequenceNumber > info.checkpointHeight) throw new NotFoundError(`checkpoint ${sequenceNumber} is not yet available (tip ${info.checkpointHeight})`, error);
    throw new UnavailableError(
      `${url} answered NOT_FOUND for checkpoint ${sequenceNumber} although it serves ${info.lowestAvailableCheckpoint}..${info.checkpointHeight}`,
      'unavailable',
      error,
    );
  };

  const getCheckpoint = (sequenceNumber: bigint, callOptions: RpcCallOptions = {}) =>
    call(
      'getCheckpoint',
      String(sequenceNumber),
      async (o) => {
        const response = await client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'sequenceNumber', sequenceNumber }, readMask: CHECKPOINT_MASK }, o).response;
        if (!response.checkpoint) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${url}: empty response`);
        const record = decodeCheckpoint(response.checkpoint);
        if (record.sequenceNumber !== sequenceNumber) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${url}: got checkpoint ${record.sequenceNumber}`);
        return record;
      },
      {
        ...callOptions,
        recover: (error) => {
          if (error instanceof NotFoundError) return explainMissing(sequenceNumber, error, callOptions);
          throw error;
        },
      },
    );

  return {
    url,
    getServiceInfo,
    getCheckpoint,
    async *getCheckpoints(from, to, streamOptions = {}) {
      const concurrency = streamOptions.concurrency ?? 1;
      for await (const { value } of orderedStream({
        from,
        to,
        concurrency,
        window: streamOptions.window ?? concurrency * 2,
        signal: streamOptions.signal,
        fetch: (sequenceNumber, signal) => getCheckpoint(sequenceNumber, { signal }),
      })) {
        yield value;
      }
    },
    resolvePackage: (id, callOptions) => resolver.resolvePackage(id, callOptions),
    stats: () => (archive ? addStats(rpc.stats(), archive.stats()) : rpc.stats()),
  };
}
