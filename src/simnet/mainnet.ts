import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bcs, TypeTagSerializer } from '@mysten/sui/bcs';
import { GrpcTypes } from '@mysten/sui/grpc';
import { fromBase64, normalizeStructTag, normalizeSuiAddress, toBase58 } from '@mysten/sui/utils';
import { blake2b } from '@noble/hashes/blake2.js';
import { SuiBackfillError } from '../common/errors.ts';
import type { Ledger } from './ledger.ts';

/** The checkpoints of `<fixturesDir>/mainnet/`, all served at their real sequence numbers. */
export const MAINNET_CHECKPOINTS: readonly bigint[] = [15918264n, 16005062n, 20958462n];

/** The fixture files are missing or contradict themselves; retrying cannot help. */
export class MainnetFixtureError extends SuiBackfillError {
  constructor(message: string, cause?: unknown) {
    super('mainnet_fixture_invalid', message, { retryable: false, cause });
  }
}

type BcsEffects = typeof bcs.TransactionEffects.$inferType;
type BcsEffectsV1 = NonNullable<BcsEffects['V1']>;
type BcsEffectsV2 = NonNullable<BcsEffects['V2']>;
type BcsOwner = typeof bcs.Owner.$inferType;
type BcsObjectRef = typeof bcs.SuiObjectRef.$inferType;
type BcsMoveObjectType = typeof bcs.MoveObjectType.$inferType;

interface PartsFile {
  transactions: {
    digest: string;
    rawEffects: string;
    objects: { set: 'input_objects' | 'output_objects'; objectId: string; version: string; bcsBase64: string }[];
  }[];
}

interface ViewFile {
  checkpoint: { digest: string; transactions: string[] };
}

/** A transaction's input and output objects, each keyed by object ID (an ID appears once per side). */
export interface TransactionObjects {
  inputs: Map<string, GrpcTypes.Object>;
  outputs: Map<string, GrpcTypes.Object>;
}

const { ChangedObject_InputObjectState: InputState, ChangedObject_OutputObjectState: OutputState } = GrpcTypes;
const { ChangedObject_IdOperation: IdOperation, Owner_OwnerKind: OwnerKind } = GrpcTypes;
const ID_OPERATIONS = { None: IdOperation.NONE, Created: IdOperation.CREATED, Deleted: IdOperation.DELETED } as const;

const CheckpointDigest = bcs.ObjectDigest;
const CheckpointCommitment = bcs.enum('CheckpointCommitment', {
  ECMHLiveObjectSetDigest: bcs.struct('ECMHLiveObjectSetDigest', { digest: CheckpointDigest }),
  CheckpointArtifactsDigest: CheckpointDigest,
});
// Sui's CheckpointSummary (crates/sui-types messages_checkpoint.rs), which @mysten/sui does not ship.
const CheckpointSummaryBcs = bcs.struct('CheckpointSummary', {
  epoch: bcs.u64(),
  sequenceNumber: bcs.u64(),
  networkTotalTransactions: bcs.u64(),
  contentDigest: CheckpointDigest,
  previousDigest: bcs.option(CheckpointDigest),
  epochRollingGasCostSummary: bcs.struct('GasCostSummary', {
    computationCost: bcs.u64(),
    storageCost: bcs.u64(),
    storageRebate: bcs.u64(),
    nonRefundableStorageFee: bcs.u64(),
  }),
  timestampMs: bcs.u64(),
  checkpointCommitments: bcs.vector(CheckpointCommitment),
  endOfEpochData: bcs.option(
    bcs.struct('EndOfEpochData', {
      nextEpochCommittee: bcs.vector(bcs.tuple([bcs.byteVector(), bcs.u64()])),
      nextEpochProtocolVersion: bcs.u64(),
      epochCommitments: bcs.vector(CheckpointCommitment),
    }),
  ),
  versionSpecificData: bcs.byteVector(),
});
const AuthorityQuorumSignInfo = bcs.struct('AuthorityQuorumSignInfo', {
  epoch: bcs.u64(),
  signature: bcs.fixedArray(48, bcs.u8()),
  signersMap: bcs.byteVector(),
});

/** Sui's digest of a BCS-signable value: Blake2b-256 over `<TypeName>::` followed by its BCS. */
function suiDigest(typeName: string, bytes: Uint8Array): string {
  const prefix = new TextEncoder().encode(`${typeName}::`);
  const input = new Uint8Array(prefix.length + bytes.length);
  input.set(prefix);
  input.set(bytes, prefix.length);
  return toBase58(blake2b(input, { dkLen: 32 }));
}

/**
 * The real mainnet checkpoints of `<fixturesDir>/mainnet/` as a full node renders them over
 * `sui.rpc.v2`. Everything is derived from the fixtures' raw BCS (effects, objects, and the
 * certified summary at the head of each `.chk` archive file); `view.json` supplies the
 * transaction order and is cross-checked against the summary. Loaded on first use.
 */
export function createMainnetLedger(fixturesDir: string): Ledger {
  let loaded: LoadedLedger | undefined;
  const ledger = (): LoadedLedger => (loaded ??= loadLedger(path.join(fixturesDir, 'mainnet')));

  // Callers (the server applying read masks) may mutate what they get: hand out copies.
  return {
    getCheckpoint(sequenceNumber) {
      const checkpoint = ledger().checkpoints.get(sequenceNumber);
      return checkpoint && GrpcTypes.Checkpoint.clone(checkpoint);
    },
    checkpointOfDigest: (digest) => ledger().digests.get(digest),
    getObject(objectId, version) {
      const versions = ledger().objects.get(objectId);
      if (!versions) return undefined;
      const object = versions.get(version ?? [...versions.keys()].reduce((a, b) => (a > b ? a : b)));
      return object && GrpcTypes.Object.clone(object);
    },
    getTransaction(digest) {
      const transaction = ledger().transactions.get(digest);
      return transaction && GrpcTypes.ExecutedTransaction.clone(transaction);
    },
    // The three checkpoints publish and upgrade no package.
    getPackage: () => undefined,
    listPackageVersions: () => undefined,
  };
}

interface LoadedLedger {
  checkpoints: Map<bigint, GrpcTypes.Checkpoint>;
  /** Sequence number by checkpoint digest. */
  digests: Map<string, bigint>;
  objects: Map<string, Map<bigint, GrpcTypes.Object>>;
  transactions: Map<string, GrpcTypes.ExecutedTransaction>;
}

function loadLedger(dir: string): LoadedLedger {
  const result: LoadedLedger = { checkpoints: new Map(), digests: new Map(), objects: new Map(), transactions: new Map() };
  for (const sequenceNumber of MAINNET_CHECKPOINTS) {
    const checkpoint = loadCheckpoint(dir, sequenceNumber);
    result.checkpoints.set(sequenceNumber, checkpoint.checkpoint);
    result.digests.set(checkpoint.checkpoint.digest!, sequenceNumber);
    for (const transaction of checkpoint.transactions) result.transactions.set(transaction.digest!, transaction);
    for (const object of checkpoint.checkpoint.objects!.objects) {
      let versions = result.objects.get(object.objectId!);
      if (!versions) result.objects.set(object.objectId!, (versions = new Map()));
      versions.set(object.version!, object);
    }
  }
  return result;
}

function readFixture(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new MainnetFixtureError(`cannot read mainnet fixture ${file}`, error);
  }
}

function loadCheckpoint(
  dir: string,
  sequenceNumber: bigint,
): { checkpoint: GrpcTypes.Checkpoint; transactions: GrpcTypes.ExecutedTransaction[] } {
  const parts = JSON.parse(
    gunzipSync(readFixture(path.join(dir, `checkpoint-${sequenceNumber}.bcs-parts.json.gz`))).toString('utf8'),
  ) as PartsFile;
  const view = JSON.parse(
    readFixture(path.join(dir, `checkpoint-${sequenceNumber}.view.json`)).toString('utf8'),
  ) as ViewFile;
  const header = readCheckpointHeader(path.join(dir, `${sequenceNumber}.chk`));
  const summary = header.summary;

  if (summary.sequenceNumber !== sequenceNumber || summary.digest !== view.checkpoint.digest) {
    throw new MainnetFixtureError(
      `checkpoint ${sequenceNumber}: archive summary ${summary.sequenceNumber}/${summary.digest} ` +
        `does not match view.json ${view.checkpoint.digest}`,
    );
  }
  const timestamp = summary.timestamp!;

  const byDigest = new Map(parts.transactions.map((tx) => [tx.digest, tx]));
  const allObjects = new Map<string, GrpcTypes.Object>();
  const transactions = view.checkpoint.transactions.map((digest) => {
    const tx = byDigest.get(digest);
    if (!tx) throw new MainnetFixtureError(`checkpoint ${sequenceNumber}: no BCS for transaction ${digest}`);
    const objects: TransactionObjects = { inputs: new Map(), outputs: new Map() };
    for (const part of tx.objects) {
      const object = objectToProto(fromBase64(part.bcsBase64), normalizeSuiAddress(part.objectId));
      if (object.version !== BigInt(part.version)) {
        throw new MainnetFixtureError(`object ${part.objectId}: BCS version ${object.version} is not ${part.version}`);
      }
      (part.set === 'input_objects' ? objects.inputs : objects.outputs).set(object.objectId!, object);
    }
    const effects = transactionEffectsToProto(fromBase64(tx.rawEffects), objects);
    if (effects.transactionDigest !== digest) {
      throw new MainnetFixtureError(`effects of ${digest} are for ${effects.transactionDigest}`);
    }
    adoptEffectsDigests(effects, objects);
    const txObjects = sortObjects([...objects.inputs.values(), ...objects.outputs.values()]);
    for (const object of txObjects) {
      const key = `${object.objectId}@${object.version}`;
      if (!allObjects.has(key)) allObjects.set(key, object);
    }
    const executed: GrpcTypes.ExecutedTransaction = {
      digest,
      effects,
      checkpoint: sequenceNumber,
      timestamp,
      signatures: [],
      balanceChanges: [],
    };
    return { executed, objects: txObjects };
  });

  const checkpoint: GrpcTypes.Checkpoint = {
    sequenceNumber,
    digest: summary.digest,
    summary,
    signature: header.signature,
    // A checkpoint's transactions carry no object set of their own: the checkpoint's holds them all.
    transactions: transactions.map(({ executed }) => executed),
    objects: { objects: sortObjects([...allObjects.values()]) },
  };
  return {
    checkpoint,
    transactions: transactions.map(({ executed, objects }) => ({ ...executed, objects: { objects } })),
  };
}

/** The certified summary at the head of a `.chk` file: one encoding byte, then `bcs(CheckpointData)`. */
function readCheckpointHeader(file: string): {
  summary: GrpcTypes.CheckpointSummary;
  signature: GrpcTypes.ValidatorAggregatedSignature;
} {
  const bytes = readFixture(file);
  if (bytes[0] !== 1) throw new MainnetFixtureError(`${file}: unknown encoding byte ${bytes[0]}`);
  const parsed = CheckpointSummaryBcs.parse(bytes.subarray(1));
  const summaryBytes = CheckpointSummaryBcs.serialize(parsed).toBytes();
  const sig = AuthorityQuorumSignInfo.parse(bytes.subarray(1 + summaryBytes.length));
  const timestampMs = BigInt(parsed.timestampMs);
  const gas = parsed.epochRollingGasCostSummary;
  const commitment = (c: (typeof parsed.checkpointCommitments)[number]): GrpcTypes.CheckpointCommitment =>
    c.$kind === 'ECMHLiveObjectSetDigest'
      ? {
          kind: GrpcTypes.CheckpointCommitment_CheckpointCommitmentKind.ECMH_LIVE_OBJECT_SET,
          digest: c.ECMHLiveObjectSetDigest.digest,
        }
      : {
          kind: GrpcTypes.CheckpointCommitment_CheckpointCommitmentKind.CHECKPOINT_ARTIFACTS,
          digest: c.CheckpointArtifactsDigest,
        };
  const endOfEpoch = parsed.endOfEpochData;
  return {
    summary: {
      bcs: { name: 'CheckpointSummary', value: summaryBytes },
      digest: suiDigest('CheckpointSummary', summaryBytes),
      epoch: BigInt(parsed.epoch),
      sequenceNumber: BigInt(parsed.sequenceNumber),
      totalNetworkTransactions: BigInt(parsed.networkTotalTransactions),
      contentDigest: parsed.contentDigest,
      previousDigest: parsed.previousDigest ?? undefined,
      epochRollingGasCostSummary: {
        computationCost: BigInt(gas.computationCost),
        storageCost: BigInt(gas.storageCost),
        storageRebate: BigInt(gas.storageRebate),
        nonRefundableStorageFee: BigInt(gas.nonRefundableStorageFee),
      },
      timestamp: { seconds: timestampMs / 1000n, nanos: Number(timestampMs % 1000n) * 1_000_000 },
      commitments: parsed.checkpointCommitments.map(commitment),
      endOfEpochData: endOfEpoch
        ? {
            nextEpochCommittee: endOfEpoch.nextEpochCommittee.map(([publicKey, weight]) => ({
              publicKey,
              weight: BigInt(weight),
            })),
            nextEpochProtocolVersion: BigInt(endOfEpoch.nextEpochProtocolVersion),
            epochCommitments: endOfEpoch.epochCommitments.map(commitment),
          }
        : undefined,
      versionSpecificData: parsed.versionSpecificData,
    },
    signature: { epoch: BigInt(sig.epoch), signature: Uint8Array.from(sig.signature), bitmap: sig.signersMap },
  };
}

function sortObjects(objects: GrpcTypes.Object[]): GrpcTypes.Object[] {
  return objects.sort((a, b) => {
    if (a.objectId !== b.objectId) return a.objectId! < b.objectId! ? -1 : 1;
    return a.version! < b.version! ? -1 : a.version! > b.version! ? 1 : 0;
  });
}

/** An object as `ledgerService.getObject` renders it with every field asked for. */
function objectToProto(bytes: Uint8Array, objectId: string): GrpcTypes.Object {
  const object = bcs.Object.parse(bytes);
  const base: GrpcTypes.Object = {
    bcs: { name: 'Object', value: bytes },
    objectId,
    digest: suiDigest('Object', bytes),
    owner: ownerToProto(object.owner),
    previousTransaction: object.previousTransaction,
    storageRebate: BigInt(object.storageRebate),
  };
  if (object.data.$kind === 'Package') {
    return { ...base, version: BigInt(object.data.Package.version), objectType: 'package' };
  }
  const move = object.data.Move;
  const objectType = moveObjectType(move.type);
  return {
    ...base,
    version: BigInt(move.version),
    objectType,
    hasPublicTransfer: move.hasPublicTransfer,
    contents: { name: objectType, value: move.contents },
  };
}

function moveObjectType(type: BcsMoveObjectType): string {
  switch (type.$kind) {
    case 'GasCoin':
      return normalizeStructTag('0x2::coin::Coin<0x2::sui::SUI>');
    case 'StakedSui':
      return normalizeStructTag('0x3::staking_pool::StakedSui');
    case 'Coin':
      return normalizeStructTag(`0x2::coin::Coin<${type.Coin}>`);
    case 'Other':
      return normalizeStructTag(TypeTagSerializer.tagToString({ struct: type.Other }));
    default:
      throw new MainnetFixtureError(`unsupported Move object type ${type.$kind} in the fixtures`);
  }
}

function ownerToProto(owner: BcsOwner): GrpcTypes.Owner {
  switch (owner.$kind) {
    case 'AddressOwner':
      return { kind: OwnerKind.ADDRESS, address: owner.AddressOwner };
    case 'ObjectOwner':
      return { kind: OwnerKind.OBJECT, address: owner.ObjectOwner };
    case 'Shared':
      return { kind: OwnerKind.SHARED, version: BigInt(owner.Shared.initialSharedVersion) };
    case 'Immutable':
      return { kind: OwnerKind.IMMUTABLE };
    case 'ConsensusAddressOwner':
      return {
        kind: OwnerKind.CONSENSUS_ADDRESS,
        address: owner.ConsensusAddressOwner.owner,
        version: BigInt(owner.ConsensusAddressOwner.startVersion),
      };
  }
}

/**
 * Output objects take the digest the effects certify, not the one recomputed from their BCS (they
 * agree for every object of the fixtures; the effects are what a node stores).
 */
function adoptEffectsDigests(effects: GrpcTypes.TransactionEffects, objects: TransactionObjects): void {
  for (const change of effects.changedObjects) {
    const output = objects.outputs.get(change.objectId!);
    if (output && change.outputDigest !== undefined && output.version === change.outputVersion) {
      output.digest = change.outputDigest;
    }
  }
}

/**
 * Effects as MystenLabs' `sui-rpc` conversion renders them, plus what a node's indexing layer adds
 * from the transaction's objects: `object_type` of every changed and unchanged consensus object,
 * and (V1 carries neither) the input owner and digest of objects that existed before.
 */
export function transactionEffectsToProto(
  rawEffects: Uint8Array,
  objects: TransactionObjects,
): GrpcTypes.TransactionEffects {
  const parsed = bcs.TransactionEffects.parse(rawEffects);
  const common = {
    bcs: { name: 'TransactionEffects', value: rawEffects },
    digest: suiDigest('TransactionEffects', rawEffects),
    unchangedLoadedRuntimeObjects: [],
  };
  const effects = {
    ...common,
    ...(parsed.$kind === 'V1' ? effectsV1ToProto(parsed.V1) : effectsV2ToProto(parsed.V2)),
  };

  for (const change of [...effects.changedObjects, ...(effects.gasObject ? [effects.gasObject] : [])]) {
    const input = objects.inputs.get(change.objectId!);
    const output = objects.outputs.get(change.objectId!);
    if (change.inputState === InputState.EXISTS && input && input.version === change.inputVersion) {
      change.inputDigest ??= input.digest;
      change.inputOwner ??= input.owner;
    }
    change.objectType =
      (change.outputState === OutputState.OBJECT_WRITE || change.outputState === OutputState.PACKAGE_WRITE
        ? output?.objectType
        : undefined) ?? input?.objectType;
  }
  for (const unchanged of effects.unchangedConsensusObjects) {
    unchanged.objectType = objects.inputs.get(unchanged.objectId!)?.objectType;
  }
  return effects;
}

function statusToProto(status: BcsEffectsV1['status']): GrpcTypes.ExecutionStatus {
  // Every transaction of the three checkpoints succeeded; rendering execution errors is not needed.
  if (status.$kind !== 'Success') {
    throw new MainnetFixtureError(`failed transaction in the fixtures (${status.Failure.error.$kind})`);
  }
  return { success: true };
}

function gasToProto(gas: BcsEffectsV1['gasUsed']): GrpcTypes.GasCostSummary {
  return {
    computationCost: BigInt(gas.computationCost),
    storageCost: BigInt(gas.storageCost),
    storageRebate: BigInt(gas.storageRebate),
    nonRefundableStorageFee: BigInt(gas.nonRefundableStorageFee),
  };
}

type EffectsProto = Omit<GrpcTypes.TransactionEffects, 'unchangedLoadedRuntimeObjects'>;

/** The fields both effects versions carry alike, around what each version derives its own way. */
function effectsToProto(
  effects: Pick<BcsEffectsV1, 'status' | 'executedEpoch' | 'gasUsed' | 'transactionDigest' | 'eventsDigest' | 'dependencies'>,
  derived: Pick<EffectsProto, 'version' | 'lamportVersion' | 'changedObjects' | 'unchangedConsensusObjects' | 'auxiliaryDataDigest'>,
  gasObject: GrpcTypes.ChangedObject | undefined,
): EffectsProto {
  return {
    status: statusToProto(effects.status),
    epoch: BigInt(effects.executedEpoch),
    gasUsed: gasToProto(effects.gasUsed),
    transactionDigest: effects.transactionDigest,
    gasObject: gasObject && GrpcTypes.ChangedObject.clone(gasObject),
    eventsDigest: effects.eventsDigest ?? undefined,
    dependencies: effects.dependencies,
    ...derived,
  };
}

function effectsV1ToProto(v1: BcsEffectsV1): EffectsProto {
  const write = (
    [ref, owner]: [BcsObjectRef, BcsOwner],
    inputState: GrpcTypes.ChangedObject_InputObjectState,
    idOperation: GrpcTypes.ChangedObject_IdOperation,
  ): GrpcTypes.ChangedObject => ({
    objectId: ref.objectId,
    inputState,
    outputState: OutputState.OBJECT_WRITE,
    outputVersion: BigInt(ref.version),
    outputDigest: ref.digest,
    outputOwner: ownerToProto(owner),
    idOperation,
  });
  // Removals keep the ref's (lamport version, tombstone digest) as output, as sui-rpc does; V1
  // cannot tell a wrap from a deletion there, so both are DELETED.
  const removal = (
    ref: BcsObjectRef,
    inputState: GrpcTypes.ChangedObject_InputObjectState,
  ): GrpcTypes.ChangedObject => ({
    objectId: ref.objectId,
    inputState,
    outputState: OutputState.DOES_NOT_EXIST,
    outputVersion: BigInt(ref.version),
    outputDigest: ref.digest,
    idOperation: IdOperation.DELETED,
  });
  const changedObjects = [
    ...v1.created.map((c) => write(c, InputState.DOES_NOT_EXIST, IdOperation.CREATED)),
    ...v1.mutated.map((c) => write(c, InputState.EXISTS, IdOperation.NONE)),
    ...v1.unwrapped.map((c) => write(c, InputState.DOES_NOT_EXIST, IdOperation.NONE)),
    ...v1.deleted.map((ref) => removal(ref, InputState.EXISTS)),
    ...v1.unwrappedThenDeleted.map((ref) => removal(ref, InputState.DOES_NOT_EXIST)),
    ...v1.wrapped.map((ref) => removal(ref, InputState.EXISTS)),
  ];
  const byId = new Map(changedObjects.map((change) => [change.objectId!, change]));
  for (const [objectId, version] of v1.modifiedAtVersions) {
    const change = byId.get(objectId);
    if (change) change.inputVersion = BigInt(version);
  }
  const unchangedConsensusObjects: GrpcTypes.UnchangedConsensusObject[] = [];
  for (const ref of v1.sharedObjects) {
    const change = byId.get(ref.objectId);
    if (change) {
      change.inputVersion = BigInt(ref.version);
      change.inputDigest = ref.digest;
    } else {
      unchangedConsensusObjects.push({
        kind: GrpcTypes.UnchangedConsensusObject_UnchangedConsensusObjectKind.READ_ONLY_ROOT,
        objectId: ref.objectId,
        version: BigInt(ref.version),
        digest: ref.digest,
      });
    }
  }
  // V1 has no explicit lamport version: every object a transaction writes gets it, so it is the
  // highest output version.
  const lamportVersion = changedObjects.reduce<bigint | undefined>(
    (max, change) => (max === undefined || change.outputVersion! > max ? change.outputVersion : max),
    undefined,
  );
  return effectsToProto(v1, { version: 1, lamportVersion, changedObjects, unchangedConsensusObjects }, byId.get(v1.gasObject[0].objectId));
}

function effectsV2ToProto(v2: BcsEffectsV2): EffectsProto {
  const lamportVersion = BigInt(v2.lamportVersion);
  const changedObjects = v2.changedObjects.map(([objectId, change]): GrpcTypes.ChangedObject => {
    const message: GrpcTypes.ChangedObject = { objectId, idOperation: ID_OPERATIONS[change.idOperation.$kind] };
    const input = change.inputState;
    if (input.$kind === 'Exist') {
      const [[version, digest], owner] = input.Exist;
      message.inputState = InputState.EXISTS;
      message.inputVersion = BigInt(version);
      message.inputDigest = digest;
      message.inputOwner = ownerToProto(owner);
    } else {
      message.inputState = InputState.DOES_NOT_EXIST;
    }
    const output = change.outputState;
    switch (output.$kind) {
      case 'NotExist':
        message.outputState = OutputState.DOES_NOT_EXIST;
        break;
      case 'ObjectWrite':
        message.outputState = OutputState.OBJECT_WRITE;
        message.outputVersion = lamportVersion;
        message.outputDigest = output.ObjectWrite[0];
        message.outputOwner = ownerToProto(output.ObjectWrite[1]);
        break;
      case 'PackageWrite':
        message.outputState = OutputState.PACKAGE_WRITE;
        message.outputVersion = BigInt(output.PackageWrite[0]);
        message.outputDigest = output.PackageWrite[1];
        break;
      case 'AccumulatorWriteV1':
        message.outputState = OutputState.ACCUMULATOR_WRITE;
        break;
    }
    return message;
  });
  const unchangedConsensusObjects = v2.unchangedConsensusObjects.map(
    ([objectId, kind]): GrpcTypes.UnchangedConsensusObject => {
      const Kind = GrpcTypes.UnchangedConsensusObject_UnchangedConsensusObjectKind;
      switch (kind.$kind) {
        case 'ReadOnlyRoot':
          return {
            kind: Kind.READ_ONLY_ROOT,
            objectId,
            version: BigInt(kind.ReadOnlyRoot[0]),
            digest: kind.ReadOnlyRoot[1],
          };
        case 'MutateConsensusStreamEnded':
          return {
            kind: Kind.MUTATE_CONSENSUS_STREAM_ENDED,
            objectId,
            version: BigInt(kind.MutateConsensusStreamEnded),
          };
        case 'ReadConsensusStreamEnded':
          return {
            kind: Kind.READ_CONSENSUS_STREAM_ENDED,
            objectId,
            version: BigInt(kind.ReadConsensusStreamEnded),
          };
        case 'Cancelled':
          return { kind: Kind.CANCELED, objectId, version: BigInt(kind.Cancelled) };
        case 'PerEpochConfig':
          return { kind: Kind.PER_EPOCH_CONFIG, objectId };
      }
    },
  );
  return effectsToProto(
    v2,
    { version: 2, lamportVersion, changedObjects, unchangedConsensusObjects, auxiliaryDataDigest: v2.auxDataDigest ?? undefined },
    v2.gasObjectIndex === null ? undefined : changedObjects[v2.gasObjectIndex],
  );
}
