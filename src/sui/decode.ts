import type { GrpcTypes } from '@mysten/sui/grpc';
import { InvalidTypeError, MalformedResponseError } from './errors.ts';
import type {
  ChangedObjectRecord,
  CheckpointRecord,
  IdOperation,
  InputState,
  ObjectRecord,
  OutputState,
  OwnerKind,
  OwnerRecord,
  ServiceInfo,
  TransactionRecord,
} from './records.ts';
import { normalizeObjectId, normalizeObjectType } from './types.ts';

/*
 * Protobuf messages → plain records. Everything the project relies on is checked here: a response
 * missing a field we need, or carrying an unparseable ID or type, raises `MalformedResponseError`
 * (retryable) so a garbled answer never becomes data. Enum values are compared by number, as
 * `GrpcTypes` encodes them.
 */

const INPUT_STATES: Record<number, InputState> = { 1: 'does_not_exist', 2: 'exists' };
const OUTPUT_STATES: Record<number, OutputState> = { 1: 'does_not_exist', 2: 'object_write', 3: 'package_write', 4: 'accumulator_write' };
const ID_OPERATIONS: Record<number, IdOperation> = { 1: 'none', 2: 'created', 3: 'deleted' };
const OWNER_KINDS: Record<number, OwnerKind> = { 1: 'address', 2: 'object', 3: 'shared', 4: 'immutable', 5: 'consensus_address' };
const OWNERS_WITH_ADDRESS = new Set<OwnerKind>(['address', 'object', 'consensus_address']);

type Timestamp = NonNullable<GrpcTypes.CheckpointSummary['timestamp']>;

export function timestampToMs(timestamp: Timestamp | undefined): bigint | null {
  if (timestamp === undefined) return null;
  return timestamp.seconds * 1000n + BigInt(Math.floor(timestamp.nanos / 1_000_000));
}

function required<T>(value: T | undefined | null, what: string, where: string): T {
  if (value === undefined || value === null || value === '') throw new MalformedResponseError(`${where}: missing ${what}`);
  return value;
}

/** A normalized object ID or address; malformed ones are a malformed response. */
export function decodeId(value: string | undefined, what: string, where: string): string {
  const raw = required(value, what, where);
  const id = normalizeObjectId(raw);
  if (id === undefined) throw new MalformedResponseError(`${where}: ${what} ${JSON.stringify(raw)} is not a Sui address`);
  return id;
}

/** The normalized object type, `package`, or null when the node left it empty. */
export function decodeObjectType(value: string | undefined, where: string): string | null {
  if (value === undefined || value === '') return null;
  try {
    return normalizeObjectType(value);
  } catch (error) {
    if (error instanceof InvalidTypeError) throw new MalformedResponseError(`${where}: ${error.message}`, error);
    throw error;
  }
}

function decodeOwner(owner: GrpcTypes.Owner | undefined, where: string): OwnerRecord | null {
  if (owner === undefined) return null;
  const kind = OWNER_KINDS[owner.kind ?? 0] ?? 'unknown';
  const hasAddress = OWNERS_WITH_ADDRESS.has(kind);
  return {
    kind,
    address: hasAddress ? decodeId(owner.address, `${kind} owner address`, where) : null,
    version: owner.version ?? null,
  };
}

export function decodeServiceInfo(response: GrpcTypes.GetServiceInfoResponse, where: string): ServiceInfo {
  return {
    chainId: response.chainId ?? null,
    chain: response.chain ?? null,
    epoch: response.epoch ?? null,
    checkpointHeight: required(response.checkpointHeight, 'checkpoint_height', where),
    lowestAvailableCheckpoint: required(response.lowestAvailableCheckpoint, 'lowest_available_checkpoint', where),
    server: response.server ?? null,
  };
}

export function decodeObject(object: GrpcTypes.Object, where: string): ObjectRecord {
  const objectId = decodeId(object.objectId, 'object_id', where);
  const at = `${where} object ${objectId}`;
  return {
    objectId,
    version: required(object.version, 'version', at),
    digest: object.digest || null,
    owner: decodeOwner(object.owner, at),
    objectType: decodeObjectType(object.objectType, at),
  };
}

function decodeChangedObject(change: GrpcTypes.ChangedObject, where: string): ChangedObjectRecord {
  const objectId = decodeId(change.objectId, 'changed object_id', where);
  const at = `${where} changed object ${objectId}`;
  const inputState = INPUT_STATES[change.inputState ?? 0] ?? 'unknown';
  const outputState = OUTPUT_STATES[change.outputState ?? 0] ?? 'unknown';
  const written = outputState === 'object_write' || outputState === 'package_write';
  return {
    objectId,
    inputState,
    inputVersion: inputState === 'exists' ? required(change.inputVersion, 'input_version', at) : (change.inputVersion ?? null),
    outputState,
    // For DOES_NOT_EXIST outputs V2 effects leave the output ref empty while V1 effects carry the
    // deleted ref; both are kept as given.
    outputVersion: written ? required(change.outputVersion, 'output_version', at) : (change.outputVersion ?? null),
    outputDigest: written ? required(change.outputDigest, 'output_digest', at) : change.outputDigest || null,
    outputOwner: outputState === 'object_write' ? decodeOwner(required(change.outputOwner, 'output_owner', at), `${at} output`) : decodeOwner(change.outputOwner, `${at} output`),
    idOperation: ID_OPERATIONS[change.idOperation ?? 0] ?? 'unknown',
    objectType: decodeObjectType(change.objectType, at),
  };
}

export function decodeTransaction(transaction: GrpcTypes.ExecutedTransaction, where: string): TransactionRecord {
  const digest = required(transaction.digest, 'transaction digest', where);
  const at = `${where} transaction ${digest}`;
  const effects = required(transaction.effects, 'effects', at);
  return {
    digest,
    lamportVersion: effects.lamportVersion ?? null,
    changedObjects: effects.changedObjects.map((change) => decodeChangedObject(change, at)),
  };
}

/** `withObjects`: whether the read mask asked for the object set (else `objects` is null, not empty). */
export function decodeCheckpoint(checkpoint: GrpcTypes.Checkpoint, withObjects: boolean): CheckpointRecord {
  const sequenceNumber = required(checkpoint.sequenceNumber ?? checkpoint.summary?.sequenceNumber, 'sequence_number', 'checkpoint');
  const at = `checkpoint ${sequenceNumber}`;
  return {
    sequenceNumber,
    timestampMs: required(timestampToMs(checkpoint.summary?.timestamp), 'summary.timestamp', at),
    epoch: checkpoint.summary?.epoch ?? null,
    networkTotalTransactions: checkpoint.summary?.totalNetworkTransactions ?? null,
    transactions: checkpoint.transactions.map((transaction) => decodeTransaction(transaction, at)),
    objects: withObjects ? (checkpoint.objects?.objects ?? []).map((object) => decodeObject(object, `${at} objects set`)) : null,
  };
}
