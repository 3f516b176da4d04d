import { GrpcTypes } from '@mysten/sui/grpc';
import { PACKAGE_TYPE, inputExists, outputWritten, packageWritten, type ChangeSpec, type OwnerSpec } from './changes.ts';
import type { Ids } from './ids.ts';
import type { Layout } from './layout.ts';
import type { TypeTable } from './move-types.ts';
import type { SimPackageVersion } from './packages.ts';

type Timestamp = NonNullable<GrpcTypes.CheckpointSummary['timestamp']>;
import type { ObjectState } from './traffic.ts';

/**
 * Turns the generator's changes and object states into `sui.rpc.v2` messages, filled the way a
 * full node fills them: output version set only for object and package writes, input fields only
 * for existing inputs, `object_type` on every change, and the checkpoint's object set holding
 * every input and output version.
 */

const InputState = GrpcTypes.ChangedObject_InputObjectState;
const OutputState = GrpcTypes.ChangedObject_OutputObjectState;
const IdOperation = GrpcTypes.ChangedObject_IdOperation;

type MessageBuilder = {
  object(state: ObjectState): GrpcTypes.Object;
  packageMessage(pkg: SimPackageVersion, originalId: string): GrpcTypes.Package;
  /** A checkpoint's transaction; its input and output object versions are added to `objects`. */
  transaction(t: number, changes: ChangeSpec[], gasObjectId: string | null, objects: Map<string, GrpcTypes.Object> | null): GrpcTypes.ExecutedTransaction;
  standaloneTransaction(t: number, changes: ChangeSpec[], gasObjectId: string | null): GrpcTypes.ExecutedTransaction;
  checkpoint(s: number, transactions: GrpcTypes.ExecutedTransaction[], objects: Map<string, GrpcTypes.Object>): GrpcTypes.Checkpoint;
};

type MessageBuilderOptions = {
  ids: Ids;
  layout: Layout;
  types: TypeTable;
  /** The package version written by a package change (by package object ID). */
  /** The package version an object ID and version name (a system package keeps its ID through upgrades). */
  packageOf(objectId: string, version: bigint): { version: SimPackageVersion; originalId: string } | undefined;
};

function compareObjects(a: GrpcTypes.Object, b: GrpcTypes.Object): number {
  if (a.objectId! !== b.objectId!) return a.objectId! < b.objectId! ? -1 : 1;
  return a.version! < b.version! ? -1 : a.version! > b.version! ? 1 : 0;
}

export function createMessageBuilder(options: MessageBuilderOptions): MessageBuilder {
  const { ids, layout, types } = options;

  const typeTag = (type: number) => (type === PACKAGE_TYPE ? 'package' : types.get(type).tag);

  function owner(spec: OwnerSpec): GrpcTypes.Owner {
    const message: GrpcTypes.Owner = { kind: spec.kind };
    if (spec.address !== null) message.address = spec.address;
    if (spec.version !== null) message.version = BigInt(spec.version);
    return message;
  }

  function timestamp(ms: number): Timestamp {
    return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
  }

  function packageMessage(pkg: SimPackageVersion, originalId: string): GrpcTypes.Package {
    return {
      storageId: pkg.id,
      originalId,
      version: pkg.version,
      modules: pkg.modules.map((name) => ({ name, datatypes: [], functions: [] })),
      typeOrigins: pkg.typeOrigins.map((o) => ({ moduleName: o.module, datatypeName: o.datatype, packageId: o.packageId })),
      linkage: pkg.linkage.map((l) => ({ originalId: l.originalId, upgradedId: l.upgradedId, upgradedVersion: l.upgradedVersion })),
    };
  }

  function object(state: ObjectState): GrpcTypes.Object {
    const message: GrpcTypes.Object = {
      objectId: state.objectId,
      version: BigInt(state.version),
      digest: ids.objectDigest(state.keyA, state.keyB, state.version),
      owner: owner(state.owner),
      objectType: typeTag(state.type),
      previousTransaction: ids.transactionDigest(state.writer),
    };
    if (state.type === PACKAGE_TYPE) {
      const pkg = options.packageOf(state.objectId, BigInt(state.version))!;
      message.package = packageMessage(pkg.version, pkg.originalId);
    }
    return message;
  }

  function changedObject(change: ChangeSpec, lamport: number): GrpcTypes.ChangedObject {
    const message: GrpcTypes.ChangedObject = { objectId: change.objectId, objectType: typeTag(change.type) };
    if (inputExists(change.op)) {
      message.inputState = InputState.EXISTS;
      message.inputVersion = BigInt(change.inputVersion!);
      message.inputDigest = ids.objectDigest(change.keyA, change.keyB, change.inputVersion!);
      message.inputOwner = owner(change.inputOwner!);
    } else {
      message.inputState = InputState.DOES_NOT_EXIST;
    }
    if (outputWritten(change.op)) {
      message.outputState = OutputState.OBJECT_WRITE;
      message.outputVersion = BigInt(lamport);
      message.outputDigest = ids.objectDigest(change.keyA, change.keyB, lamport);
      message.outputOwner = owner(change.outputOwner!);
    } else if (packageWritten(change.op)) {
      message.outputState = OutputState.PACKAGE_WRITE;
      message.outputVersion = BigInt(change.packageVersion!);
      message.outputDigest = ids.objectDigest(change.keyA, change.keyB, change.packageVersion!);
    } else if (change.op === 'accumulator') {
      const write = change.accumulator!;
      message.outputState = OutputState.ACCUMULATOR_WRITE;
      message.accumulatorWrite = {
        address: write.address,
        accumulatorType: write.accumulatorType,
        operation: GrpcTypes.AccumulatorWrite_AccumulatorOperation.MERGE,
        valueKind: GrpcTypes.AccumulatorWrite_AccumulatorValue.INTEGER,
        integerValue: BigInt(write.amount),
        integerTuple: [],
        eventDigestValue: [],
      };
    } else {
      message.outputState = OutputState.DOES_NOT_EXIST;
    }
    message.idOperation =
      change.op === 'created' || change.op === 'package'
        ? IdOperation.CREATED
        : change.op === 'deleted' || change.op === 'unwrap_deleted'
          ? IdOperation.DELETED
          : IdOperation.NONE;
    return message;
  }

  /**
   * Adds the input and output object versions of a transaction's changes to `into`. An input's
   * writer follows from its lamport version, except where `inputWriters` (by `id@version`) says.
   */
  function collectObjects(t: number, changes: GrpcTypes.ChangedObject[], into: Map<string, GrpcTypes.Object>, inputWriters: Map<string, number>): void {
    const writer = ids.transactionDigest(t);
    for (const change of changes) {
      if (change.inputState === InputState.EXISTS) {
        const key = `${change.objectId}@${change.inputVersion}`;
        if (!into.has(key)) {
          into.set(key, {
            objectId: change.objectId,
            version: change.inputVersion,
            digest: change.inputDigest,
            owner: change.inputOwner,
            objectType: change.objectType,
            previousTransaction: ids.transactionDigest(inputWriters.get(key) ?? layout.transactionOfVersion(Number(change.inputVersion))),
          });
        }
      }
      if (change.outputState === OutputState.OBJECT_WRITE) {
        into.set(`${change.objectId}@${change.outputVersion}`, {
          objectId: change.objectId,
          version: change.outputVersion,
          digest: change.outputDigest,
          owner: change.outputOwner,
          objectType: change.objectType,
          previousTransaction: writer,
        });
      } else if (change.outputState === OutputState.PACKAGE_WRITE) {
        const pkg = options.packageOf(change.objectId!, change.outputVersion!)!;
        into.set(`${change.objectId}@${change.outputVersion}`, {
          objectId: change.objectId,
          version: change.outputVersion,
          digest: change.outputDigest,
          owner: { kind: GrpcTypes.Owner_OwnerKind.IMMUTABLE },
          objectType: 'package',
          previousTransaction: writer,
          package: packageMessage(pkg.version, pkg.originalId),
        });
      }
    }
  }

  function transaction(t: number, changes: ChangeSpec[], gasObjectId: string | null, objects: Map<string, GrpcTypes.Object> | null): GrpcTypes.ExecutedTransaction {
    const s = layout.checkpointOf(t);
    const lamport = layout.version(t);
    const digest = ids.transactionDigest(t);
    const changedObjects = changes.map((change) => changedObject(change, lamport));
    const effects: GrpcTypes.TransactionEffects = {
      digest: ids.effectsDigest(t),
      version: 2,
      status: { success: true },
      epoch: BigInt(layout.epoch(s)),
      transactionDigest: digest,
      lamportVersion: BigInt(lamport),
      changedObjects,
      dependencies: [],
      unchangedConsensusObjects: [],
      unchangedLoadedRuntimeObjects: [],
    };
    if (gasObjectId !== null) effects.gasObject = changedObjects.find((change) => change.objectId === gasObjectId);
    if (objects) {
      const inputWriters = new Map<string, number>();
      for (const change of changes) if (change.inputWriter !== undefined) inputWriters.set(`${change.objectId}@${change.inputVersion}`, change.inputWriter);
      collectObjects(t, changedObjects, objects, inputWriters);
    }
    return {
      digest,
      effects,
      checkpoint: BigInt(s),
      timestamp: timestamp(layout.timestampMs(s)),
      transactionIndex: BigInt(layout.indexInCheckpoint(t)),
      signatures: [],
      balanceChanges: [],
    };
  }

  /** A transaction as GetTransaction serves it: with its own object set. */
  function standaloneTransaction(t: number, changes: ChangeSpec[], gasObjectId: string | null): GrpcTypes.ExecutedTransaction {
    const objects = new Map<string, GrpcTypes.Object>();
    const message = transaction(t, changes, gasObjectId, objects);
    message.objects = { objects: [...objects.values()].sort(compareObjects) };
    return message;
  }

  function checkpoint(s: number, transactions: GrpcTypes.ExecutedTransaction[], objects: Map<string, GrpcTypes.Object>): GrpcTypes.Checkpoint {
    const digest = ids.checkpointDigest(s);
    const summary: GrpcTypes.CheckpointSummary = {
      digest,
      epoch: BigInt(layout.epoch(s)),
      sequenceNumber: BigInt(s),
      totalNetworkTransactions: BigInt(layout.start(s + 1)),
      timestamp: timestamp(layout.timestampMs(s)),
      commitments: [],
    };
    if (s > 0) summary.previousDigest = ids.checkpointDigest(s - 1);
    return {
      sequenceNumber: BigInt(s),
      digest,
      summary,
      transactions,
      objects: { objects: [...objects.values()].sort(compareObjects) },
    };
  }

  return { object, packageMessage, transaction, standaloneTransaction, checkpoint };
}
