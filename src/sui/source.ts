import type { SuiGrpcClient } from '@mysten/sui/grpc';
import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import type { RpcBudget } from './budget.ts';
import { decodeCheckpoint, decodeServiceInfo } from './decode.ts';
import { BelowLowestAvailableError, MalformedResponseError, NotFoundError, UnavailableError } from './errors.ts';
import { createGrpcClient } from './grpc.ts';
import { orderedStream } from './ordered-stream.ts';
import { createPackageResolver, type PackageFacts } from './packages.ts';
import { CHECKPOINT_MASK, CHECKPOINT_WITH_OBJECTS_MASK, type ReadMask } from './read-masks.ts';
import type { CheckpointRecord, ResolvedPackage, ServiceInfo } from './records.ts';
import { createRpcCaller, type RpcCall, type RpcCallOptions, type RpcStats } from './rpc.ts';

export type SuiSourceOptions = {
  url: string;
  /** An archival endpoint asked for history below `url`'s lowest available checkpoint. */
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
  /**
   * A checkpoint's transactions and changed objects. Its object set is fetched (a second call) only
   * when `withObjects` asks for it or a changed object came back without its type.
   */
  getCheckpoint(sequenceNumber: bigint, options?: RpcCallOptions & { withObjects?: boolean }): Promise<CheckpointRecord>;
  /** Checkpoints `from..to` inclusive, in order, fetched `concurrency` at a time. */
  getCheckpoints(from: bigint, to: bigint, options?: { concurrency?: number; window?: number; signal?: AbortSignal }): AsyncGenerator<CheckpointRecord>;
  resolvePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<ResolvedPackage>;
  /** A package version's original ID and type origins (what the live indexer records per publish). */
  describePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<PackageFacts>;
  /** The endpoints history is read from, for error messages. */
  describeEndpoint(): string;
  /** The archival endpoint's lowest available checkpoint; undefined without one. */
  archiveLowestAvailable(options?: RpcCallOptions): Promise<bigint | undefined>;
  /** RPC calls made so far (archive included), retries counted: callers diff it per unit of work. */
  stats(): RpcStats;
};

type Endpoint = { url: string; client: SuiGrpcClient; call: RpcCall; stats: () => RpcStats };

function addStats(a: RpcStats, b: RpcStats): RpcStats {
  const byMethod = { ...a.byMethod };
  for (const [method, count] of Object.entries(b.byMethod)) byMethod[method] = (byMethod[method] ?? 0) + count;
  return { calls: a.calls + b.calls, byMethod, retries: a.retries + b.retries, failures: a.failures + b.failures };
}

/** The Sui RPC as the rest of the project sees it: typed records and typed errors, within the budget. */
export function createSuiSource(options: SuiSourceOptions): SuiSource {
  const endpoint = (url: string): Endpoint => {
    const rpc = createRpcCaller({ ...options, url });
    return { url, client: createGrpcClient(url), call: rpc.call, stats: rpc.stats };
  };
  const primary = endpoint(options.url);
  const archive = options.archiveUrl ? endpoint(options.archiveUrl) : undefined;

  const serviceInfo = (at: Endpoint, callOptions: RpcCallOptions = {}) =>
    at.call('getServiceInfo', '', (o) => at.client.ledgerService.getServiceInfo({}, o).response.then((response) => decodeServiceInfo(response, `getServiceInfo at ${at.url}`)), callOptions);

  /** NOT_FOUND for a checkpoint means pruned, not yet produced, or a lagging replica: tell which. */
  const explainMissing = async (at: Endpoint, sequenceNumber: bigint, error: NotFoundError, callOptions: RpcCallOptions): Promise<CheckpointRecord> => {
    const info = await serviceInfo(at, callOptions);
    if (sequenceNumber < info.lowestAvailableCheckpoint) {
      if (at === primary && archive) return checkpoint(archive, sequenceNumber, callOptions);
      throw new BelowLowestAvailableError(sequenceNumber, info.lowestAvailableCheckpoint, at.url);
    }
    if (sequenceNumber > info.checkpointHeight) throw new NotFoundError(`checkpoint ${sequenceNumber} is not yet available (tip ${info.checkpointHeight})`, error);
    throw new UnavailableError(
      `${at.url} answered NOT_FOUND for checkpoint ${sequenceNumber} although it serves ${info.lowestAvailableCheckpoint}..${info.checkpointHeight}`,
      'unavailable',
      error,
    );
  };

  const checkpoint = async (at: Endpoint, sequenceNumber: bigint, callOptions: RpcCallOptions & { withObjects?: boolean }): Promise<CheckpointRecord> => {
    const record = await checkpointWithMask(at, sequenceNumber, callOptions.withObjects ? CHECKPOINT_WITH_OBJECTS_MASK : CHECKPOINT_MASK, callOptions);
    if (callOptions.withObjects || !lacksObjectTypes(record)) return record;
    return checkpointWithMask(at, sequenceNumber, CHECKPOINT_WITH_OBJECTS_MASK, callOptions);
  };

  const checkpointWithMask = (at: Endpoint, sequenceNumber: bigint, readMask: ReadMask, callOptions: RpcCallOptions): Promise<CheckpointRecord> =>
    at.call(
      'getCheckpoint',
      String(sequenceNumber),
      async (o) => {
        const request = { checkpointId: { oneofKind: 'sequenceNumber' as const, sequenceNumber }, readMask };
        const response = await at.client.ledgerService.getCheckpoint(request, o).response;
        if (!response.checkpoint) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${at.url}: empty response`);
        const record = decodeCheckpoint(response.checkpoint);
        if (record.sequenceNumber !== sequenceNumber) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${at.url}: got checkpoint ${record.sequenceNumber}`);
        return record;
      },
      {
        ...callOptions,
        recover: (error) => {
          if (error instanceof NotFoundError) return explainMissing(at, sequenceNumber, error, callOptions);
          throw error;
        },
      },
    );

  /** Whether a changed object that can have a type came back without one (the object set names it). */
  const lacksObjectTypes = (record: CheckpointRecord) =>
    record.transactions.some((transaction) =>
      transaction.changedObjects.some(
        (change) =>
          change.objectType === null &&
          change.outputState !== 'accumulator_write' &&
          // Unwrapped and deleted at once: in no object set, so asking again cannot help.
          !(change.inputState === 'does_not_exist' && change.outputState === 'does_not_exist'),
      ),
    );

  const resolver = createPackageResolver({
    ...primary,
    archive,
    lowestAvailable: async (callOptions) => (await serviceInfo(primary, callOptions)).lowestAvailableCheckpoint,
  });

  return {
    url: primary.url,
    getServiceInfo: (callOptions) => serviceInfo(primary, callOptions),
    getCheckpoint: (sequenceNumber, callOptions = {}) => checkpoint(primary, sequenceNumber, callOptions),
    async *getCheckpoints(from, to, streamOptions = {}) {
      const concurrency = streamOptions.concurrency ?? 1;
      for await (const { value } of orderedStream({
        from,
        to,
        concurrency,
        window: streamOptions.window ?? concurrency * 2,
        signal: streamOptions.signal,
        fetch: (sequenceNumber, signal) => checkpoint(primary, sequenceNumber, { signal }),
      })) {
        yield value;
      }
    },
    resolvePackage: (id, callOptions) => resolver.resolvePackage(id, callOptions),
    describePackage: (id, callOptions) => resolver.describePackage(id, callOptions),
    describeEndpoint: () => (archive ? `${primary.url} (archive ${archive.url})` : primary.url),
    archiveLowestAvailable: async (callOptions) => (archive ? (await serviceInfo(archive, callOptions)).lowestAvailableCheckpoint : undefined),
    stats: () => (archive ? addStats(primary.stats(), archive.stats()) : primary.stats()),
  };
}
