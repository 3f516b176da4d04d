import { GrpcStatusCode, GrpcTypes } from '@mysten/sui/grpc';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { SuiBackfillError } from '../common/errors.ts';
import type { SimChain } from './chain.ts';
import { applyFieldMask, parseFieldMask, type MaskTree, type MessageInfo } from './field-mask.ts';
import type { Ledger } from './ledger.ts';
import { createLru } from './lru.ts';
import { decodeBase58Digest } from './prng.ts';
import { omitCheckpointTypes, omitTransactionTypes } from './type-omission.ts';
import { fastWriteOptions } from './wire-writer.ts';

/**
 * The `sui.rpc.v2` methods the simulator answers, over a list of ledgers (the first that knows an
 * item answers) and the synthetic chain (tip, pruning, digests). Each takes the request bytes and
 * returns the response bytes, or throws an `RpcStatusError` carrying the gRPC status.
 */

/** A gRPC status to answer with instead of a message. */
export class RpcStatusError extends SuiBackfillError {
  readonly status: GrpcStatusCode;
  readonly metadata: Record<string, string>;
  constructor(status: GrpcStatusCode, message: string, metadata: Record<string, string> = {}) {
    super('simnet_rpc_status', message, { retryable: status === GrpcStatusCode.UNAVAILABLE || status === GrpcStatusCode.RESOURCE_EXHAUSTED });
    this.status = status;
    this.metadata = metadata;
  }
}

type RpcContext = {
  chain: SimChain;
  ledgers: readonly Ledger[];
  seed: number;
  omitChangedObjectTypes(): number;
  /** Bytes of encoded checkpoint responses to keep. */
  cacheBytes: number;
};

type RpcHandler = (request: Uint8Array) => Uint8Array;

const SERVER_NAME = 'sui-backfill-simnet';
const MAX_BATCH = 1000;
const DEFAULT_PAGE_SIZE = 1000;
const MAX_PAGE_SIZE = 10_000;

const DEFAULT_MASKS = {
  checkpoint: ['sequence_number', 'digest'],
  object: ['object_id', 'version', 'digest'],
  transaction: ['digest'],
};

type Decoder<T> = { fromBinary(bytes: Uint8Array): T };

function decode<T>(type: Decoder<T>, bytes: Uint8Array): T {
  try {
    return type.fromBinary(bytes);
  } catch (error) {
    throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `malformed request: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function mask(type: MessageInfo, readMask: GrpcTypes.GetObjectRequest['readMask'], defaults: string[]): MaskTree | true {
  const parsed = parseFieldMask(type, readMask ? readMask.paths : defaults);
  if (!parsed.ok) throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, parsed.error);
  return parsed.tree;
}

function maskKey(readMask: GrpcTypes.GetObjectRequest['readMask'], defaults: string[]): string {
  return (readMask ? readMask.paths : defaults).join(',');
}

function objectIdArgument(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `missing ${field}`);
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value)) throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `invalid ${field} "${value}": expected 0x and up to 64 hex digits`);
  return normalizeSuiAddress(value);
}

function digestArgument(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `missing ${field}`);
  if (!decodeBase58Digest(value)) throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `invalid ${field} "${value}": expected a base58 32-byte digest`);
  return value;
}

function statusOf(error: unknown): GrpcTypes.GetObjectResult['result'] & { oneofKind: 'error' } {
  if (error instanceof RpcStatusError) return { oneofKind: 'error', error: { code: error.status, message: error.message, details: [] } };
  throw error;
}

export function createRpcMethods(context: RpcContext): Map<string, RpcHandler> {
  const { chain, ledgers } = context;
  const write = fastWriteOptions();
  const checkpointCache = createLru<string, Uint8Array>({ maxEntries: 100_000, maxWeight: context.cacheBytes, weigh: (bytes) => bytes.length });

  const first = <T>(lookup: (ledger: Ledger) => T | undefined): T | undefined => {
    for (const ledger of ledgers) {
      const found = lookup(ledger);
      if (found !== undefined) return found;
    }
    return undefined;
  };

  function findObject(objectId: string, version: bigint | undefined): GrpcTypes.Object {
    const found = first((ledger) => ledger.getObject(objectId, version));
    if (!found) throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, version === undefined ? `object ${objectId} not found` : `object ${objectId} version ${version} not found`);
    return found;
  }

  function findTransaction(digest: string, tree: MaskTree | true): GrpcTypes.ExecutedTransaction {
    const found = first((ledger) => ledger.getTransaction(digest));
    if (!found) throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `transaction ${digest} not found`);
    return applyFieldMask(GrpcTypes.ExecutedTransaction, omitTransactionTypes(found, context.omitChangedObjectTypes(), context.seed), tree);
  }

  function resolveCheckpoint(request: GrpcTypes.GetCheckpointRequest): bigint {
    const id = request.checkpointId;
    if (id.oneofKind === 'sequenceNumber') return id.sequenceNumber;
    if (id.oneofKind === 'digest') {
      const digest = digestArgument(id.digest, 'digest');
      const sequence = first((l) => l.checkpointOfDigest(digest));
      if (sequence === undefined) throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `checkpoint ${digest} not found`);
      return sequence;
    }
    return chain.tip();
  }

  const ledger: Record<string, RpcHandler> = {
    GetServiceInfo(bytes) {
      decode(GrpcTypes.GetServiceInfoRequest, bytes);
      const tip = chain.tip();
      const lowest = chain.lowestAvailableCheckpoint();
      return GrpcTypes.GetServiceInfoResponse.toBinary(
        {
          chainId: chain.chainId,
          chain: 'simnet',
          epoch: chain.epoch(tip),
          checkpointHeight: tip,
          timestamp: { seconds: chain.timestampMs(tip) / 1000n, nanos: Number(chain.timestampMs(tip) % 1000n) * 1_000_000 },
          lowestAvailableCheckpoint: lowest,
          lowestAvailableCheckpointObjects: lowest,
          server: SERVER_NAME,
        },
        write,
      );
    },
    GetCheckpoint(bytes) {
      const request = decode(GrpcTypes.GetCheckpointRequest, bytes);
      const tree = mask(GrpcTypes.Checkpoint, request.readMask, DEFAULT_MASKS.checkpoint);
      const sequence = resolveCheckpoint(request);
      const lowest = chain.lowestAvailableCheckpoint();
      if (sequence < lowest) {
        throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `checkpoint ${sequence} has been pruned; lowest available checkpoint is ${lowest}`);
      }
      if (sequence > chain.tip() && sequence < BigInt(chain.checkpointCount)) {
        throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `checkpoint ${sequence} not found; the latest checkpoint is ${chain.tip()}`);
      }
      const omit = context.omitChangedObjectTypes();
      const key = `${sequence}|${maskKey(request.readMask, DEFAULT_MASKS.checkpoint)}|${omit}`;
      const cached = checkpointCache.get(key);
      if (cached) return cached;
      const checkpoint = first((l) => l.getCheckpoint(sequence));
      if (!checkpoint) {
        throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `checkpoint ${sequence} not found; the latest checkpoint is ${chain.tip()}`);
      }
      const masked = applyFieldMask(GrpcTypes.Checkpoint, omitCheckpointTypes(checkpoint, omit, context.seed), tree);
      const encoded = GrpcTypes.GetCheckpointResponse.toBinary({ checkpoint: masked }, write);
      checkpointCache.set(key, encoded);
      return encoded;
    },
    GetObject(bytes) {
      const request = decode(GrpcTypes.GetObjectRequest, bytes);
      const tree = mask(GrpcTypes.Object, request.readMask, DEFAULT_MASKS.object);
      const object = findObject(objectIdArgument(request.objectId, 'object_id'), request.version);
      return GrpcTypes.GetObjectResponse.toBinary({ object: applyFieldMask(GrpcTypes.Object, object, tree) }, write);
    },
    BatchGetObjects(bytes) {
      const request = decode(GrpcTypes.BatchGetObjectsRequest, bytes);
      if (request.requests.length > MAX_BATCH) {
        throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `too many requests: ${request.requests.length} exceeds the limit of ${MAX_BATCH}`);
      }
      const tree = mask(GrpcTypes.Object, request.readMask, DEFAULT_MASKS.object);
      const objects = request.requests.map((item): GrpcTypes.GetObjectResult => {
        try {
          const object = findObject(objectIdArgument(item.objectId, 'object_id'), item.version);
          return { result: { oneofKind: 'object', object: applyFieldMask(GrpcTypes.Object, object, tree) } };
        } catch (error) {
          return { result: statusOf(error) };
        }
      });
      return GrpcTypes.BatchGetObjectsResponse.toBinary({ objects }, write);
    },
    GetTransaction(bytes) {
      const request = decode(GrpcTypes.GetTransactionRequest, bytes);
      const tree = mask(GrpcTypes.ExecutedTransaction, request.readMask, DEFAULT_MASKS.transaction);
      const transaction = findTransaction(digestArgument(request.digest, 'digest'), tree);
      return GrpcTypes.GetTransactionResponse.toBinary({ transaction }, write);
    },
    BatchGetTransactions(bytes) {
      const request = decode(GrpcTypes.BatchGetTransactionsRequest, bytes);
      if (request.digests.length > MAX_BATCH) {
        throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, `too many digests: ${request.digests.length} exceeds the limit of ${MAX_BATCH}`);
      }
      const tree = mask(GrpcTypes.ExecutedTransaction, request.readMask, DEFAULT_MASKS.transaction);
      const transactions = request.digests.map((digest): GrpcTypes.GetTransactionResult => {
        try {
          return { result: { oneofKind: 'transaction', transaction: findTransaction(digestArgument(digest, 'digest'), tree) } };
        } catch (error) {
          return { result: statusOf(error) as GrpcTypes.GetTransactionResult['result'] };
        }
      });
      return GrpcTypes.BatchGetTransactionsResponse.toBinary({ transactions }, write);
    },
  };

  const movePackage: Record<string, RpcHandler> = {
    GetPackage(bytes) {
      const request = decode(GrpcTypes.GetPackageRequest, bytes);
      const packageId = objectIdArgument(request.packageId, 'package_id');
      const pkg = first((l) => l.getPackage(packageId));
      if (!pkg) throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `package ${packageId} not found`);
      return GrpcTypes.GetPackageResponse.toBinary({ package: pkg }, write);
    },
    ListPackageVersions(bytes) {
      const request = decode(GrpcTypes.ListPackageVersionsRequest, bytes);
      const packageId = objectIdArgument(request.packageId, 'package_id');
      const versions = first((l) => l.listPackageVersions(packageId));
      if (!versions) throw new RpcStatusError(GrpcStatusCode.NOT_FOUND, `package ${packageId} not found`);
      const pageSize = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
      let start = 0;
      if (request.pageToken !== undefined && request.pageToken.length > 0) {
        start = Number(Buffer.from(request.pageToken).toString('latin1'));
        if (!Number.isSafeInteger(start) || start < 0) throw new RpcStatusError(GrpcStatusCode.INVALID_ARGUMENT, 'invalid page_token');
      }
      const page = versions.slice(start, start + pageSize);
      const next = start + pageSize < versions.length ? new Uint8Array(Buffer.from(String(start + pageSize), 'latin1')) : undefined;
      return GrpcTypes.ListPackageVersionsResponse.toBinary({ versions: page, nextPageToken: next }, write);
    },
  };

  const handlers = new Map<string, RpcHandler>();
  for (const method of GrpcTypes.LedgerService.methods) {
    const handler = ledger[method.name];
    if (handler) handlers.set(`${GrpcTypes.LedgerService.typeName}/${method.name}`, handler);
  }
  for (const method of GrpcTypes.MovePackageService.methods) {
    const handler = movePackage[method.name];
    if (handler) handlers.set(`${GrpcTypes.MovePackageService.typeName}/${method.name}`, handler);
  }
  return handlers;
}
