import { MalformedResponseError } from './errors.ts';
import type { ChangedObjectRecord, CheckpointRecord, ObjectChangeKind, ObjectRecord, ObjectVersionRow, PackageWrite, TransactionRecord } from './records.ts';
import { PACKAGE_TYPE, outerStruct } from './types.ts';

/*
 * What a checkpoint did to objects, as rows of `sui_objects`. The one implementation shared by the
 * backfill and the live indexer, so both write identical rows for the same checkpoint.
 */

type ObjectsIndex = Map<string, ObjectRecord>;

const key = (objectId: string, version: bigint) => `${objectId}@${version}`;

function indexObjects(objects: readonly ObjectRecord[]): ObjectsIndex {
  const index: ObjectsIndex = new Map();
  for (const object of objects) index.set(key(object.objectId, object.version), object);
  return index;
}

function changeKind(change: ChangedObjectRecord, where: string): ObjectChangeKind {
  const { inputState, outputState, idOperation } = change;
  if (outputState === 'object_write') {
    if (inputState === 'exists') return 'mutated';
    if (inputState === 'does_not_exist' && idOperation === 'created') return 'created';
    if (inputState === 'does_not_exist' && idOperation === 'none') return 'unwrapped';
  } else if (outputState === 'does_not_exist') {
    // An object unwrapped and deleted in one transaction has input DOES_NOT_EXIST: still a deletion.
    if (idOperation === 'deleted' && inputState !== 'unknown') return 'deleted';
    if (inputState === 'exists' && idOperation === 'none') return 'wrapped';
  }
  throw new MalformedResponseError(`${where}: impossible change (input ${inputState}, output ${outputState}, id operation ${idOperation})`);
}

/**
 * The type of the object a change is about. Nodes may leave `object_type` empty on changed objects;
 * the checkpoint's object set then has it: the output object for writes, the input for the rest.
 */
function changedObjectType(change: ChangedObjectRecord, written: boolean, objects: ObjectsIndex): string | null {
  if (change.objectType !== null) return change.objectType;
  const version = written ? change.outputVersion : change.inputVersion;
  if (version === null) return null;
  return objects.get(key(change.objectId, version))?.objectType ?? null;
}

function rowVersion(change: ChangedObjectRecord, transaction: TransactionRecord, written: boolean, where: string): bigint {
  // Deletions and wraps take the transaction's lamport version (V1 effects also put it in output_version).
  const version = written ? change.outputVersion : (transaction.lamportVersion ?? change.outputVersion);
  if (version === null) throw new MalformedResponseError(`${where}: no version (neither lamport_version nor output_version)`);
  return version;
}

/**
 * One row per object a checkpoint's transactions changed whose type `matches`, excluding package
 * and accumulator writes. Objects that were only inputs of the checkpoint never become rows.
 */
export function extractObjectVersions(checkpoint: CheckpointRecord, matches: (type: string) => boolean): ObjectVersionRow[] {
  const rows: ObjectVersionRow[] = [];
  let objects: ObjectsIndex | undefined;
  for (const transaction of checkpoint.transactions) {
    for (const change of transaction.changedObjects) {
      if (change.outputState === 'package_write' || change.outputState === 'accumulator_write') continue;
      const where = `checkpoint ${checkpoint.sequenceNumber} transaction ${transaction.digest} object ${change.objectId}`;
      const kind = changeKind(change, where);
      const written = change.outputState === 'object_write';
      if (change.objectType === null) objects ??= indexObjects(checkpoint.objects ?? []);
      const objectType = changedObjectType(change, written, objects ?? new Map());
      if (objectType === null) {
        // Unwrapped and deleted in one transaction: the object is in no object set, so a node
        // cannot name its type and nothing can attribute it to a package.
        if (kind === 'deleted' && change.inputState === 'does_not_exist') continue;
        const set = checkpoint.objects === null ? "the checkpoint's object set was not fetched" : "the checkpoint's object set does not name it either";
        throw new MalformedResponseError(`${where}: no object type on the change, and ${set}`);
      }
      if (objectType === PACKAGE_TYPE || !matches(objectType)) continue;

      const outer = outerStruct(objectType);
      const owner = written ? change.outputOwner : null;
      rows.push({
        objectId: change.objectId,
        version: rowVersion(change, transaction, written, where),
        objectType,
        typePackage: outer.address,
        typeModule: outer.module,
        typeName: outer.name,
        ownerKind: owner?.kind ?? null,
        ownerAddress: owner?.address ?? null,
        checkpoint: checkpoint.sequenceNumber,
        txDigest: transaction.digest,
        objectDigest: written ? change.outputDigest : null,
        change: kind,
      });
    }
  }
  return rows;
}

/** Every package published or upgraded in the checkpoint, in transaction order. */
export function extractPackageWrites(checkpoint: CheckpointRecord): PackageWrite[] {
  const writes: PackageWrite[] = [];
  for (const transaction of checkpoint.transactions) {
    for (const change of transaction.changedObjects) {
      if (change.outputState !== 'package_write') continue;
      if (change.outputVersion === null) {
        throw new MalformedResponseError(`checkpoint ${checkpoint.sequenceNumber} transaction ${transaction.digest} package ${change.objectId}: missing output_version`);
      }
      writes.push({
        packageId: change.objectId,
        version: change.outputVersion,
        inPlace: change.inputState === 'exists',
        txDigest: transaction.digest,
        checkpoint: checkpoint.sequenceNumber,
        timestampMs: checkpoint.timestampMs,
      });
    }
  }
  return writes;
}
