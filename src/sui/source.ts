import type { GrpcTypes } from '@mysten/sui/grpc';
import { decodeCheckpoint, decodeObject, decodeServiceInfo, decodeTransaction } from './decode.ts';
import { createEndpointPool, type Endpoint, type EndpointHealth } from './endpoints.ts';
import { BelowLowestAvailableError, MalformedResponseError, NotFoundError, ResponseTooLargeError, UnavailableError } from './errors.ts';
import { orderedStream } from './ordered-stream.ts';
import { createPackageResolver, type PackageFacts } from './packages.ts';
import {
  CHECKPOINT_DIGESTS_MASK,
  CHECKPOINT_MASK,
  CHECKPOINT_WITH_OBJECTS_MASK,
  TRANSACTION_EFFECTS_MASK,
  TRANSACTION_EFFECTS_WITH_OBJECTS_MASK,
  type ReadMask,
} from './read-masks.ts';
import { compareObjectVersions, type CheckpointRecord, type ObjectRecord, type ResolvedPackage, type ServiceInfo, type TransactionRecord } from './records.ts';
import { createRpcCaller, type RouteOptions, type RpcCall, type RpcCallerOptions, type RpcCallOptions, type RpcStats } from './rpc.ts';

type SuiSourceOptions = Omit<RpcCallerOptions, 'pool'> & {
  /** Full nodes, in order of preference: calls go to the first healthy one. */
  url: string | readonly string[];
  /** An archival endpoint asked for history below the full nodes' lowest available checkpoint. */
  archiveUrl?: string;
  /** How long an endpoint that keeps failing is put aside before it is tried again (default 30 s). */
  cooldownMs?: number;
};

/** How a caller asks for a checkpoint. */
type CheckpointOptions = RpcCallOptions & {
  /**
   * The caller knows the checkpoint exists (it is at or below a tip already observed, as a walk's
   * range is): a node that answers NOT_FOUND above its own tip is behind, so another endpoint is
   * asked and, failing that, the call is retried as unavailable, never failed as not found.
   */
  exists?: boolean;
};

export type SuiSource = {
  getServiceInfo(options?: RpcCallOptions): Promise<ServiceInfo>;
  /**
   * A checkpoint's transactions and changed objects. Its object set is fetched (a second call) only
   * when `withObjects` asks for it or a changed object came back without its type; otherwise
   * `objects` is null. A checkpoint too large for the node to answer is read as its digests, then
   * its transactions in batches. A checkpoint above every endpoint's tip is NotFound, unless
   * `exists` says it exists or an endpoint was seen with it.
   */
  getCheckpoint(sequenceNumber: bigint, options?: CheckpointOptions & { withObjects?: boolean }): Promise<CheckpointRecord>;
  /** Checkpoints `from..to` inclusive, in order, fetched `concurrency` at a time. */
  getCheckpoints(from: bigint, to: bigint, options?: { concurrency?: number; window?: number; signal?: AbortSignal }): AsyncGenerator<CheckpointRecord>;
  resolvePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<ResolvedPackage>;
  /** A package version's original ID and type origins (what the live indexer records per publish). */
  describePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<PackageFacts>;
  /** The endpoints history is read from, for error messages. */
  describeEndpoint(): string;
  /** The archival endpoint's lowest available checkpoint; undefined without one. */
  archiveLowestAvailable(options?: RpcCallOptions): Promise<bigint | undefined>;
  /** The lowest checkpoint any full node serves: each one not put aside is asked; those that fail are left out. */
  fullNodesLowestAvailable(options?: RpcCallOptions): Promise<bigint>;
  /**
   * The endpoints that said `lowest` is their lowest available checkpoint, for a refusal naming it:
   * one that never answered said nothing. All of them when none did.
   */
  describeLowest(lowest: bigint): string;
  /** RPC calls made so far (archive included), retries counted: callers diff it per unit of work. */
  stats(): RpcStats;
  /** Each endpoint's health: up or put aside (until when), and the lowest checkpoint it serves. */
  endpoints(): EndpointHealth[];
  /** Runs `fn` with its calls queued in the budget ahead of the others (RpcBudget.interactive): someone waits on its answer. */
  interactive<T>(fn: () => Promise<T>): Promise<T>;
};

/** Transactions per batchGetTransactions on the oversized-checkpoint route, at most. */
const MAX_TRANSACTION_BATCH = 16;
/** Successful batches after which the batch size doubles again. */
const GROW_BATCH_AFTER = 8;

type FetchedTransaction = { transaction: TransactionRecord; objects: ObjectRecord[] };

/** Whether a changed object that can have a type came back without one (the object set names it). */
function lacksObjectTypes(transaction: TransactionRecord): boolean {
  return transaction.changedObjects.some(
    (change) =>
      change.objectType === null &&
      change.outputState !== 'accumulator_write' &&
      // Unwrapped and deleted at once: in no object set, so asking again cannot help.
      !(change.inputState === 'does_not_exist' && change.outputState === 'does_not_exist'),
  );
}

/** The Sui RPC as the rest of the project sees it: typed records and typed errors, within the budget. */
export function createSuiSource(options: SuiSourceOptions): SuiSource {
  const { logger, metrics } = options;
  const pool = createEndpointPool({
    urls: typeof options.url === 'string' ? [options.url] : options.url,
    archiveUrl: options.archiveUrl,
    cooldownMs: options.cooldownMs,
    logger,
    metrics,
  });
  const rpc = createRpcCaller({ ...options, pool });
  const { archive } = pool;
  let transactionBatch = MAX_TRANSACTION_BATCH;
  let cleanBatches = 0;

  const serviceInfo = (callOptions: RpcCallOptions & RouteOptions = {}) =>
    rpc.call(
      'getServiceInfo',
      '',
      async (o, at) => {
        const info = decodeServiceInfo(await at.client.ledgerService.getServiceInfo({}, o).response, `getServiceInfo at ${at.url}`);
        pool.learnLowest(at, info.lowestAvailableCheckpoint);
        pool.learnTip(at, info.checkpointHeight, 'said');
        return info;
      },
      callOptions,
    );

  /**
   * NOT_FOUND for a checkpoint means pruned, not yet produced, or a node behind the others (or a
   * replica behind its load balancer): tell which. A node behind is no reason to fail: another
   * endpoint is asked, or this one again later (a retryable Unavailable).
   */
  const explainMissing = async (at: Endpoint, sequenceNumber: bigint, error: NotFoundError, readMask: ReadMask, callOptions: CheckpointOptions): Promise<CheckpointRecord> => {
    const info = await serviceInfo({ ...callOptions, endpoint: at });
    if (sequenceNumber < info.lowestAvailableCheckpoint) {
      // Now that this endpoint's lowest is known, the call goes to one that serves the checkpoint.
      if (pool.servingOthers(sequenceNumber, at).length > 0) return checkpointWithMask(sequenceNumber, readMask, callOptions);
      throw new BelowLowestAvailableError(sequenceNumber, info.lowestAvailableCheckpoint, at.url);
    }
    if (sequenceNumber > info.checkpointHeight) {
      const others = pool.aheadOthers(sequenceNumber, at).length > 0;
      const highest = pool.highestTip() ?? info.checkpointHeight;
      if (!others && !callOptions.exists && sequenceNumber > highest) throw new NotFoundError(`checkpoint ${sequenceNumber} is not yet available (tip ${highest})`, error);
      throw new UnavailableError(
        `${at.url} has not reached checkpoint ${sequenceNumber} yet (its tip is ${info.checkpointHeight}); ${others ? 'another endpoint is asked' : 'it is asked again'}`,
        'unavailable',
        error,
      );
    }
    throw new UnavailableError(
      `${at.url} answered NOT_FOUND for checkpoint ${sequenceNumber} although it serves ${info.lowestAvailableCheckpoint}..${info.checkpointHeight}`,
      'unavailable',
      error,
    );
  };

  const checkpointWithMask = (sequenceNumber: bigint, readMask: ReadMask, callOptions: CheckpointOptions): Promise<CheckpointRecord> =>
    rpc.call(
      'getCheckpoint',
      String(sequenceNumber),
      async (o, at) => {
        const request = { checkpointId: { oneofKind: 'sequenceNumber' as const, sequenceNumber }, readMask };
        const response = await at.client.ledgerService.getCheckpoint(request, o).response;
        if (!response.checkpoint) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${at.url}: empty response`);
        const record = decodeCheckpoint(response.checkpoint, readMask === CHECKPOINT_WITH_OBJECTS_MASK);
        if (record.sequenceNumber !== sequenceNumber) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber}) at ${at.url}: got checkpoint ${record.sequenceNumber}`);
        pool.learnTip(at, sequenceNumber, 'served');
        return record;
      },
      {
        ...callOptions,
        checkpoint: sequenceNumber,
        recover: (error, at) => {
          if (error instanceof NotFoundError) return explainMissing(at, sequenceNumber, error, readMask, callOptions);
          throw error;
        },
      },
    );

  /** The checkpoint's summary and transaction digests, without the transactions themselves. */
  const checkpointDigests = (sequenceNumber: bigint, callOptions: RpcCallOptions) =>
    rpc.call(
      'getCheckpoint',
      `${sequenceNumber} digests`,
      async (o, at) => {
        const request = { checkpointId: { oneofKind: 'sequenceNumber' as const, sequenceNumber }, readMask: CHECKPOINT_DIGESTS_MASK };
        const { checkpoint } = await at.client.ledgerService.getCheckpoint(request, o).response;
        if (!checkpoint) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber} digests) at ${at.url}: empty response`);
        const header = decodeCheckpoint({ ...checkpoint, transactions: [] }, false);
        if (header.sequenceNumber !== sequenceNumber) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber} digests) at ${at.url}: got checkpoint ${header.sequenceNumber}`);
        const digests = checkpoint.transactions.map((transaction, index) => {
          if (!transaction.digest) throw new MalformedResponseError(`getCheckpoint(${sequenceNumber} digests) at ${at.url}: transaction ${index} without digest`);
          return transaction.digest;
        });
        return { header, digests };
      },
      { ...callOptions, checkpoint: sequenceNumber },
    );

  const decodeBatch = (sequenceNumber: bigint, batch: string[], response: GrpcTypes.BatchGetTransactionsResponse, url: string): FetchedTransaction[] => {
    const where = `batchGetTransactions(checkpoint ${sequenceNumber}) at ${url}`;
    if (response.transactions.length !== batch.length) throw new MalformedResponseError(`${where}: asked for ${batch.length} transactions, got ${response.transactions.length}`);
    return response.transactions.map(({ result }, index) => {
      if (result.oneofKind !== 'transaction') {
        const status = result.oneofKind === 'error' ? `status ${result.error.code ?? '?'}: ${result.error.message ?? ''}` : 'empty result';
        throw new MalformedResponseError(`${where}: transaction ${batch[index]} of the checkpoint: ${status}`);
      }
      const { transaction } = result;
      if (transaction.digest !== batch[index]) throw new MalformedResponseError(`${where}: asked for ${batch[index]}, got ${transaction.digest}`);
      const at = `checkpoint ${sequenceNumber}`;
      return {
        transaction: decodeTransaction(transaction, at),
        objects: (transaction.objects?.objects ?? []).map((object) => decodeObject(object, `${at} transaction ${transaction.digest} objects set`)),
      };
    });
  };

  const resizeBatch = (size: number, reason: string, sequenceNumber: bigint) => {
    if (size === transactionBatch) return;
    logger?.info({ checkpoint: sequenceNumber, from: transactionBatch, to: size, reason }, 'transaction batch size changed');
    transactionBatch = size;
    cleanBatches = 0;
  };

  /**
   * Transactions of a checkpoint in batches that shrink while the node finds their answer too
   * large and grow back after a run of successes. A transaction too large on its own is an error:
   * nothing smaller can be asked.
   */
  const checkpointTransactions = async (sequenceNumber: bigint, digests: string[], withObjects: boolean, callOptions: RpcCallOptions) => {
    const readMask = withObjects ? TRANSACTION_EFFECTS_WITH_OBJECTS_MASK : TRANSACTION_EFFECTS_MASK;
    const fetched = new Map<string, FetchedTransaction>();
    let offset = 0;
    while (offset < digests.length) {
      const batch = digests.slice(offset, offset + transactionBatch);
      let results: FetchedTransaction[];
      try {
        results = await rpc.call(
          'batchGetTransactions',
          `${batch.length} transactions of checkpoint ${sequenceNumber}`,
          async (o, at) => decodeBatch(sequenceNumber, batch, await at.client.ledgerService.batchGetTransactions({ digests: batch, readMask }, o).response, at.url),
          { ...callOptions, checkpoint: sequenceNumber },
        );
      } catch (error) {
        if (!(error instanceof ResponseTooLargeError)) throw error;
        if (batch.length === 1) {
          throw new ResponseTooLargeError(`checkpoint ${sequenceNumber}: transaction ${batch[0]} alone is larger than the node answers, and nothing smaller can be asked (${error.message})`, error);
        }
        resizeBatch(Math.floor(batch.length / 2), 'response_too_large', sequenceNumber);
        continue;
      }
      batch.forEach((digest, index) => fetched.set(digest, results[index]));
      offset += batch.length;
      if (++cleanBatches >= GROW_BATCH_AFTER && transactionBatch < MAX_TRANSACTION_BATCH) {
        resizeBatch(Math.min(MAX_TRANSACTION_BATCH, transactionBatch * 2), 'successes', sequenceNumber);
      }
    }
    return fetched;
  };

  /** The route for a checkpoint whose response is over the node's size limit. `known` is its lean read, when that one fit. */
  const checkpointByTransactions = async (sequenceNumber: bigint, withObjects: boolean, callOptions: RpcCallOptions, known?: CheckpointRecord): Promise<CheckpointRecord> => {
    metrics?.rpcCheckpointFallbacks.inc();
    logger?.debug({ checkpoint: sequenceNumber, withObjects }, 'checkpoint too large for one response; reading its transactions in batches');
    let header: Omit<CheckpointRecord, 'transactions' | 'objects'>;
    let digests: string[];
    let fetched: Map<string, FetchedTransaction>;
    if (known) {
      // Its transactions and object set are replaced below.
      header = known;
      digests = known.transactions.map((transaction) => transaction.digest);
      fetched = new Map(known.transactions.map((transaction) => [transaction.digest, { transaction, objects: [] }]));
    } else {
      try {
        ({ header, digests } = await checkpointDigests(sequenceNumber, callOptions));
      } catch (error) {
        if (!(error instanceof ResponseTooLargeError)) throw error;
        throw new ResponseTooLargeError(`checkpoint ${sequenceNumber}: even its list of transaction digests is larger than the node answers (${error.message})`, error);
      }
      fetched = await checkpointTransactions(sequenceNumber, digests, withObjects, callOptions);
    }
    const lacking = withObjects && !known ? [] : digests.filter((digest) => lacksObjectTypes(fetched.get(digest)!.transaction));
    for (const [digest, transaction] of await checkpointTransactions(sequenceNumber, lacking, true, callOptions)) fetched.set(digest, transaction);
    const transactions = digests.map((digest) => fetched.get(digest)!.transaction);
    if (!withObjects && lacking.length === 0) return { ...header, transactions, objects: null };
    const objects = new Map<string, ObjectRecord>();
    for (const { objects: set } of fetched.values()) for (const object of set) objects.set(`${object.objectId}@${object.version}`, object);
    return { ...header, transactions, objects: [...objects.values()].sort(compareObjectVersions) };
  };

  const checkpoint = async (sequenceNumber: bigint, callOptions: CheckpointOptions & { withObjects?: boolean }): Promise<CheckpointRecord> => {
    const { withObjects = false, ...rest } = callOptions;
    let lean: CheckpointRecord | undefined;
    try {
      lean = await checkpointWithMask(sequenceNumber, withObjects ? CHECKPOINT_WITH_OBJECTS_MASK : CHECKPOINT_MASK, rest);
      if (withObjects || !lean.transactions.some(lacksObjectTypes)) return lean;
      return await checkpointWithMask(sequenceNumber, CHECKPOINT_WITH_OBJECTS_MASK, rest);
    } catch (error) {
      if (!(error instanceof ResponseTooLargeError)) throw error;
      return checkpointByTransactions(sequenceNumber, withObjects, rest, withObjects ? undefined : lean);
    }
  };

  const archiveCall: RpcCall = (method, target, fn, callOptions) => rpc.call(method, target, fn, { ...callOptions, endpoint: archive });
  const resolver = createPackageResolver({
    url: pool.describe(),
    call: rpc.call,
    archive: archive ? { url: archive.url, call: archiveCall } : undefined,
    lowestAvailable: async (callOptions) => (await serviceInfo(callOptions)).lowestAvailableCheckpoint,
  });

  return {
    getServiceInfo: (callOptions) => serviceInfo(callOptions),
    getCheckpoint: (sequenceNumber, callOptions = {}) => checkpoint(sequenceNumber, callOptions),
    async *getCheckpoints(from, to, streamOptions = {}) {
      const concurrency = streamOptions.concurrency ?? 1;
      for await (const { value } of orderedStream({
        from,
        to,
        concurrency,
        window: streamOptions.window ?? concurrency * 2,
        signal: streamOptions.signal,
        fetch: (sequenceNumber, signal) => checkpoint(sequenceNumber, { signal }),
      })) {
        yield value;
      }
    },
    resolvePackage: (id, callOptions) => resolver.resolvePackage(id, callOptions),
    describePackage: (id, callOptions) => resolver.describePackage(id, callOptions),
    describeEndpoint: () => pool.describe(),
    interactive: (fn) => (options.budget ? options.budget.interactive(fn) : fn()),
    archiveLowestAvailable: async (callOptions) => (archive ? (await serviceInfo({ ...callOptions, endpoint: archive })).lowestAvailableCheckpoint : undefined),
    fullNodesLowestAvailable: async (callOptions) => {
      const health = pool.health();
      const asked = pool.primaries.filter((_, index) => health[index].state !== 'down');
      if (asked.length === 0) return (await serviceInfo(callOptions)).lowestAvailableCheckpoint;
      const answers = await Promise.allSettled(asked.map((endpoint) => serviceInfo({ ...callOptions, endpoint })));
      const lowest = answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value.lowestAvailableCheckpoint] : []));
      if (lowest.length === 0) throw (answers[0] as PromiseRejectedResult).reason;
      return lowest.reduce((min, value) => (value < min ? value : min));
    },
    describeLowest: (lowest) => {
      const said = pool.health().filter((endpoint) => endpoint.lowestAvailableCheckpoint === lowest.toString());
      return said.length === 0 ? pool.describe() : said.map((endpoint) => endpoint.url).join(', ');
    },
    stats: () => rpc.stats(),
    endpoints: () => pool.health(),
  };
}
