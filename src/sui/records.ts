/**
 * Plain typed records the rest of the code works with, decoded from `sui.rpc.v2` messages.
 * Addresses and object IDs are normalized 0x + 64 hex; struct tags are normalized.
 */

export type OwnerKind = 'address' | 'object' | 'shared' | 'immutable' | 'consensus_address' | 'unknown';

export type OwnerRecord = {
  kind: OwnerKind;
  /** The owning address or object ID, for `address`, `object` and `consensus_address`. */
  address: string | null;
  /** Initial shared version (`shared`) or start version (`consensus_address`). */
  version: bigint | null;
};

export type InputState = 'does_not_exist' | 'exists' | 'unknown';
export type OutputState = 'does_not_exist' | 'object_write' | 'package_write' | 'accumulator_write' | 'unknown';
export type IdOperation = 'none' | 'created' | 'deleted' | 'unknown';

export type ChangedObjectRecord = {
  objectId: string;
  inputState: InputState;
  inputVersion: bigint | null;
  outputState: OutputState;
  /** Set for writes; for deletions and wraps the node leaves it empty (use the tx's lamport version). */
  outputVersion: bigint | null;
  outputDigest: string | null;
  outputOwner: OwnerRecord | null;
  idOperation: IdOperation;
  /** Normalized struct tag, `package` for packages, or null when the node did not fill it. */
  objectType: string | null;
};

export type TransactionRecord = {
  digest: string;
  /** The version every object written by this transaction receives. */
  lamportVersion: bigint | null;
  changedObjects: ChangedObjectRecord[];
};

export type ObjectRecord = {
  objectId: string;
  version: bigint;
  digest: string | null;
  owner: OwnerRecord | null;
  /** Normalized struct tag, or `package`. */
  objectType: string | null;
};

export type CheckpointRecord = {
  sequenceNumber: bigint;
  timestampMs: bigint;
  /** The epoch and the transactions since genesis up to this checkpoint: the framework watermark's fields. */
  epoch: bigint | null;
  networkTotalTransactions: bigint | null;
  transactions: TransactionRecord[];
  /**
   * The checkpoint's object set (its input and output objects), sorted by (objectId, version); null
   * when it was not fetched. It is asked for only when a changed object came back without its type
   * (or the caller wanted it); on the oversized-checkpoint route it then holds the sets of those
   * transactions alone, which is where the missing types are.
   */
  objects: ObjectRecord[] | null;
};

/** Orders object versions by (objectId, version), the primary key of `sui_objects`. */
export function compareObjectVersions(a: { objectId: string; version: bigint }, b: { objectId: string; version: bigint }): number {
  if (a.objectId !== b.objectId) return a.objectId < b.objectId ? -1 : 1;
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}

export type ServiceInfo = {
  chainId: string | null;
  chain: string | null;
  epoch: bigint | null;
  /** The tip: the highest checkpoint the node has. */
  checkpointHeight: bigint;
  lowestAvailableCheckpoint: bigint;
  server: string | null;
};

export type TypeOriginRecord = { module: string; datatype: string; packageId: string };

export type PackageVersionRecord = {
  packageId: string;
  version: bigint;
  /** Null when every endpoint asked has pruned the publish transaction. */
  publishCheckpoint: bigint | null;
  /** Null when no endpoint has the package version that names it (pruned): its publish is then undated too. */
  publishTxDigest: string | null;
  publishedAtMs: bigint | null;
};

/** Everything the project needs to know about a package and its upgrade family. */
export type ResolvedPackage = {
  /** The ID as asked, normalized. */
  requestedId: string;
  originalId: string;
  /** Every storage ID of the family, oldest version first. */
  versions: PackageVersionRecord[];
  /** Type origins of the newest version: where each struct of the family was first defined. */
  typeOrigins: TypeOriginRecord[];
  /** Every address that defines a struct of this family (original ID plus upgrades that added types). */
  familyIds: string[];
  /**
   * Checkpoint of the transaction that published the original package; null when every endpoint
   * asked has pruned that transaction (the publish then precedes their lowest available checkpoint).
   */
  publishCheckpoint: bigint | null;
};

export type MatchMode = 'outer' | 'anywhere';

/** What happened to an object version. */
export type ObjectChangeKind = 'created' | 'mutated' | 'unwrapped' | 'deleted' | 'wrapped';

/** One row of `sui_objects`: an object version written (or ended) by a transaction. */
export type ObjectVersionRow = {
  objectId: string;
  version: bigint;
  objectType: string;
  typePackage: string;
  typeModule: string;
  typeName: string;
  ownerKind: OwnerKind | null;
  ownerAddress: string | null;
  checkpoint: bigint;
  txDigest: string;
  objectDigest: string | null;
  change: ObjectChangeKind;
};

/** A package version published (or upgraded) by a transaction of a checkpoint. */
export type PackageWrite = {
  packageId: string;
  version: bigint;
  /** A system package upgraded under its own ID (its previous version was an input): not a publish. */
  inPlace: boolean;
  txDigest: string;
  checkpoint: bigint;
  timestampMs: bigint;
};
