/**
 * One object change of a transaction, as the generator knows it (before it becomes a
 * `ChangedObject` message). Versions are plain numbers: a lamport version is at most
 * checkpoints * 1000, far inside the safe integer range.
 */

/** Values of `sui.rpc.v2.Owner.OwnerKind`. */
export const OWNER_ADDRESS = 1;
export const OWNER_OBJECT = 2;
export const OWNER_SHARED = 3;
export const OWNER_IMMUTABLE = 4;
export const OWNER_CONSENSUS_ADDRESS = 5;

export type OwnerSpec = {
  kind: number;
  /** Owning address or parent object ID (address, object and consensus address owners). */
  address: string | null;
  /** Initial shared version or consensus start version. */
  version: number | null;
};

/** `package`: a package published (a new ID); `package_upgrade`: a system package upgraded in place (same ID, next version). */
export type ChangeOp = 'created' | 'mutated' | 'deleted' | 'wrapped' | 'unwrapped' | 'unwrap_deleted' | 'package' | 'package_upgrade' | 'accumulator';

/** Marks the type of a package object (object_type `package`). */
export const PACKAGE_TYPE = -1;

/** An address-balance update: `accumulatorType` is the balance type, e.g. `0x2::balance::Balance<T>`. */
type AccumulatorSpec = { address: string; accumulatorType: string; amount: number };

export type ChangeSpec = {
  objectId: string;
  /** Identity words for object digests: with the version they determine the digest. */
  keyA: number;
  keyB: number;
  op: ChangeOp;
  /** Index in the chain's type table, or PACKAGE_TYPE. */
  type: number;
  /** Set when the input state is EXISTS. */
  inputVersion: number | null;
  /** The transaction that wrote the input version, where the version does not tell (a package's). */
  inputWriter?: number;
  inputOwner: OwnerSpec | null;
  /** Set for object writes (created, mutated, unwrapped). */
  outputOwner: OwnerSpec | null;
  /** Package writes: the package version, which is the output version. */
  packageVersion: number | null;
  accumulator: AccumulatorSpec | null;
};

export function addressOwner(address: string): OwnerSpec {
  return { kind: OWNER_ADDRESS, address, version: null };
}

export function objectOwner(parent: string): OwnerSpec {
  return { kind: OWNER_OBJECT, address: parent, version: null };
}

export function sharedOwner(initialSharedVersion: number): OwnerSpec {
  return { kind: OWNER_SHARED, address: null, version: initialSharedVersion };
}

export const IMMUTABLE_OWNER: OwnerSpec = { kind: OWNER_IMMUTABLE, address: null, version: null };

export function consensusOwner(address: string, startVersion: number): OwnerSpec {
  return { kind: OWNER_CONSENSUS_ADDRESS, address, version: startVersion };
}

export function inputExists(op: ChangeOp): boolean {
  return op === 'mutated' || op === 'deleted' || op === 'wrapped' || op === 'package_upgrade';
}

export function packageWritten(op: ChangeOp): boolean {
  return op === 'package' || op === 'package_upgrade';
}

export function outputWritten(op: ChangeOp): boolean {
  return op === 'created' || op === 'mutated' || op === 'unwrapped';
}
