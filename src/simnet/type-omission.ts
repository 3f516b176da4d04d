import { GrpcTypes } from '@mysten/sui/grpc';
import { hash, unit } from './prng.ts';

/**
 * Leaves `object_type` empty on a fraction of changed objects, as some nodes do, but only where
 * the type can be recovered from the object set (the output version for writes, the input version
 * for deletions and wraps), so a client that falls back to the object set still gets every type.
 * The choice is a hash of (seed, checkpoint, transaction index, change index): the checkpoint and
 * its transactions served alone agree.
 */

const SALT = 0x7e0d;
const OutputState = GrpcTypes.ChangedObject_OutputObjectState;
const InputState = GrpcTypes.ChangedObject_InputObjectState;

function recoverableVersion(change: GrpcTypes.ChangedObject): bigint | undefined {
  if (change.outputState === OutputState.OBJECT_WRITE || change.outputState === OutputState.PACKAGE_WRITE) return change.outputVersion;
  if (change.outputState === OutputState.DOES_NOT_EXIST && change.inputState === InputState.EXISTS) return change.inputVersion;
  return undefined;
}

function omitIn(
  seed: number,
  rate: number,
  checkpoint: bigint,
  transaction: GrpcTypes.ExecutedTransaction,
  index: number,
  known: Set<string>,
): GrpcTypes.ExecutedTransaction {
  const effects = transaction.effects;
  if (!effects) return transaction;
  let changed = false;
  const changedObjects = effects.changedObjects.map((change, position) => {
    const version = recoverableVersion(change);
    if (version === undefined || change.objectType === undefined || !known.has(`${change.objectId}@${version}`)) return change;
    if (unit(hash(seed, SALT, Number(checkpoint), index, position)) >= rate) return change;
    changed = true;
    const { objectType: _omitted, ...rest } = change;
    return rest;
  });
  return changed ? { ...transaction, effects: { ...effects, changedObjects } } : transaction;
}

function objectKeys(objects: GrpcTypes.ObjectSet | undefined): Set<string> {
  return new Set((objects?.objects ?? []).map((object) => `${object.objectId}@${object.version}`));
}

export function omitCheckpointTypes(checkpoint: GrpcTypes.Checkpoint, rate: number, seed: number): GrpcTypes.Checkpoint {
  if (rate <= 0 || checkpoint.sequenceNumber === undefined) return checkpoint;
  const known = objectKeys(checkpoint.objects);
  const sequence = checkpoint.sequenceNumber;
  return { ...checkpoint, transactions: checkpoint.transactions.map((transaction, index) => omitIn(seed, rate, sequence, transaction, index, known)) };
}

export function omitTransactionTypes(transaction: GrpcTypes.ExecutedTransaction, rate: number, seed: number): GrpcTypes.ExecutedTransaction {
  if (rate <= 0 || transaction.checkpoint === undefined || transaction.transactionIndex === undefined) return transaction;
  return omitIn(seed, rate, transaction.checkpoint, transaction, Number(transaction.transactionIndex), objectKeys(transaction.objects));
}
