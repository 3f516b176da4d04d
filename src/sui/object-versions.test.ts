import { describe, expect, it } from 'vitest';
import { MalformedResponseError } from './errors.ts';
import { extractObjectVersions, extractPackageWrites } from './object-versions.ts';
import type { ChangedObjectRecord, CheckpointRecord, ObjectRecord, OwnerRecord, TransactionRecord } from './records.ts';
import { createFamilyMatcher, normalizeObjectType } from './types.ts';

const long = (hex: string) => `0x${hex.padStart(64, '0')}`;
const PKG = long('abc');
const ALICE = long('a11ce');
const ORDER = normalizeObjectType('0xabc::book::Order');
const BOOK = normalizeObjectType('0xabc::book::Book');
const FIELD = normalizeObjectType('0x2::dynamic_field::Field<u64, 0xabc::book::Order>');
const COIN = normalizeObjectType('0x2::coin::Coin<0x2::sui::SUI>');
const address = (who: string): OwnerRecord => ({ kind: 'address', address: who, version: null });
const shared = (initial: bigint): OwnerRecord => ({ kind: 'shared', address: null, version: initial });

function change(objectId: string, fields: Partial<ChangedObjectRecord>): ChangedObjectRecord {
  return {
    objectId,
    inputState: 'exists',
    inputVersion: null,
    outputState: 'object_write',
    outputVersion: null,
    outputDigest: null,
    outputOwner: null,
    idOperation: 'none',
    objectType: null,
    ...fields,
  };
}

function checkpoint(transactions: TransactionRecord[], objects: ObjectRecord[] | null = null): CheckpointRecord {
  return { sequenceNumber: 77n, timestampMs: 1_700_000_000_000n, epoch: 3n, networkTotalTransactions: 1_000n, transactions, objects };
}

const family = createFamilyMatcher([PKG], 'outer');
const everything = () => true;

describe('extractObjectVersions', () => {
  it('classifies the five kinds of change, with version, owner and digest as the rows need them', () => {
    const tx: TransactionRecord = {
      digest: 'TxA',
      lamportVersion: 50n,
      changedObjects: [
        change(long('1'), { inputState: 'does_not_exist', outputVersion: 50n, outputDigest: 'c1', outputOwner: address(ALICE), idOperation: 'created', objectType: ORDER }),
        change(long('2'), { inputVersion: 40n, outputVersion: 50n, outputDigest: 'c2', outputOwner: shared(3n), objectType: BOOK }),
        change(long('3'), { inputState: 'does_not_exist', outputVersion: 50n, outputDigest: 'c3', outputOwner: { kind: 'object', address: long('2'), version: null }, objectType: ORDER }),
        change(long('4'), { inputVersion: 41n, outputState: 'does_not_exist', idOperation: 'deleted', objectType: ORDER }),
        change(long('5'), { inputVersion: 42n, outputState: 'does_not_exist', objectType: ORDER }),
      ],
    };
    const base = { objectType: ORDER, typePackage: PKG, typeModule: 'book', typeName: 'Order', checkpoint: 77n, txDigest: 'TxA' };
    expect(extractObjectVersions(checkpoint([tx]), family)).toEqual([
      { ...base, objectId: long('1'), version: 50n, ownerKind: 'address', ownerAddress: ALICE, objectDigest: 'c1', change: 'created' },
      { ...base, objectId: long('2'), version: 50n, objectType: BOOK, typeName: 'Book', ownerKind: 'shared', ownerAddress: null, objectDigest: 'c2', change: 'mutated' },
      { ...base, objectId: long('3'), version: 50n, ownerKind: 'object', ownerAddress: long('2'), objectDigest: 'c3', change: 'unwrapped' },
      { ...base, objectId: long('4'), version: 50n, ownerKind: null, ownerAddress: null, objectDigest: null, change: 'deleted' },
      { ...base, objectId: long('5'), version: 50n, ownerKind: null, ownerAddress: null, objectDigest: null, change: 'wrapped' },
    ]);
  });

  it('takes the lamport version for V1-style deletions that carry the deleted ref in output_version', () => {
    const v1Delete = change(long('4'), { inputVersion: 41n, outputState: 'does_not_exist', outputVersion: 50n, outputDigest: 'OBJECT_DIGEST_DELETED', idOperation: 'deleted', objectType: ORDER });
    const [row] = extractObjectVersions(checkpoint([{ digest: 'TxA', lamportVersion: 50n, changedObjects: [v1Delete] }]), family);
    expect(row).toMatchObject({ version: 50n, objectDigest: null, change: 'deleted' });

    // Without a lamport version the output ref is the next best source; with neither, no row is invented.
    const [fallback] = extractObjectVersions(checkpoint([{ digest: 'TxA', lamportVersion: null, changedObjects: [v1Delete] }]), family);
    expect(fallback.version).toBe(50n);
    const v2Delete = { ...v1Delete, outputVersion: null, outputDigest: null };
    expect(() => extractObjectVersions(checkpoint([{ digest: 'TxA', lamportVersion: null, changedObjects: [v2Delete] }]), family)).toThrow(MalformedResponseError);
  });

  it("finds a missing object_type in the checkpoint's object set: output object for writes, input object otherwise", () => {
    const objects: ObjectRecord[] = [
      { objectId: long('2'), version: 40n, digest: 'old', owner: shared(3n), objectType: COIN },
      { objectId: long('2'), version: 50n, digest: 'c2', owner: shared(3n), objectType: BOOK },
      { objectId: long('4'), version: 41n, digest: 'd4', owner: address(ALICE), objectType: ORDER },
      { objectId: long('5'), version: 42n, digest: 'd5', owner: address(ALICE), objectType: FIELD },
    ];
    const tx: TransactionRecord = {
      digest: 'TxB',
      lamportVersion: 50n,
      changedObjects: [
        change(long('2'), { inputVersion: 40n, outputVersion: 50n, outputDigest: 'c2', outputOwner: shared(3n) }),
        change(long('4'), { inputVersion: 41n, outputState: 'does_not_exist', idOperation: 'deleted' }),
        change(long('5'), { inputVersion: 42n, outputState: 'does_not_exist' }),
      ],
    };
    const rows = extractObjectVersions(checkpoint([tx], objects), everything);
    expect(rows.map((row) => [row.objectId, row.objectType, row.change])).toEqual([
      [long('2'), BOOK, 'mutated'],
      [long('4'), ORDER, 'deleted'],
      [long('5'), FIELD, 'wrapped'],
    ]);
    expect(rows[2]).toMatchObject({ typePackage: long('2'), typeModule: 'dynamic_field', typeName: 'Field' });
  });

  it('refuses to guess when neither the change nor the object set names the type', () => {
    const write = change(long('2'), { inputVersion: 40n, outputVersion: 50n, outputDigest: 'c2', outputOwner: shared(3n) });
    const onlyInput: ObjectRecord[] = [{ objectId: long('2'), version: 40n, digest: 'old', owner: shared(3n), objectType: BOOK }];
    const tx = { digest: 'TxB', lamportVersion: 50n, changedObjects: [write] };
    expect(() => extractObjectVersions(checkpoint([tx], onlyInput), everything)).toThrow(
      /: no object type on the change, and the checkpoint's object set does not name it either$/,
    );
    // Not fetched is told apart from fetched without it.
    expect(() => extractObjectVersions(checkpoint([tx]), everything)).toThrow(/: no object type on the change, and the checkpoint's object set was not fetched$/);
  });

  it('records an object unwrapped and deleted in one transaction as deleted, and skips it when no one can name its type', () => {
    const typed = change(long('6'), { inputState: 'does_not_exist', outputState: 'does_not_exist', idOperation: 'deleted', objectType: ORDER });
    const untyped = change(long('7'), { inputState: 'does_not_exist', outputState: 'does_not_exist', idOperation: 'deleted' });
    const rows = extractObjectVersions(checkpoint([{ digest: 'TxC', lamportVersion: 60n, changedObjects: [typed, untyped] }]), everything);
    expect(rows).toEqual([
      { objectId: long('6'), version: 60n, objectType: ORDER, typePackage: PKG, typeModule: 'book', typeName: 'Order', ownerKind: null, ownerAddress: null, checkpoint: 77n, txDigest: 'TxC', objectDigest: null, change: 'deleted' },
    ]);
  });

  it('never turns input objects, packages or accumulator writes into rows', () => {
    const tx: TransactionRecord = {
      digest: 'TxD',
      lamportVersion: 70n,
      changedObjects: [
        change(PKG, { inputState: 'does_not_exist', outputState: 'package_write', outputVersion: 1n, outputDigest: 'p', outputOwner: { kind: 'immutable', address: null, version: null }, idOperation: 'created', objectType: 'package' }),
        change(long('8'), { inputState: 'exists', inputVersion: 3n, outputState: 'accumulator_write', objectType: normalizeObjectType('0x2::accumulator::Key<0xabc::book::Order>') }),
      ],
    };
    const inputs: ObjectRecord[] = [{ objectId: long('9'), version: 12n, digest: 'in', owner: shared(1n), objectType: BOOK }];
    expect(extractObjectVersions(checkpoint([tx], inputs), everything)).toEqual([]);
  });

  it('keeps only matching types: outer by default, anywhere on request', () => {
    const tx: TransactionRecord = {
      digest: 'TxE',
      lamportVersion: 80n,
      changedObjects: [
        change(long('10'), { inputVersion: 1n, outputVersion: 80n, outputDigest: 'a', outputOwner: shared(1n), objectType: BOOK }),
        change(long('11'), { inputVersion: 1n, outputVersion: 80n, outputDigest: 'b', outputOwner: { kind: 'object', address: long('10'), version: null }, objectType: FIELD }),
        change(long('12'), { inputVersion: 1n, outputVersion: 80n, outputDigest: 'c', outputOwner: address(ALICE), objectType: COIN }),
      ],
    };
    expect(extractObjectVersions(checkpoint([tx]), family).map((row) => row.objectId)).toEqual([long('10')]);
    expect(extractObjectVersions(checkpoint([tx]), createFamilyMatcher([PKG], 'anywhere')).map((row) => row.objectId)).toEqual([long('10'), long('11')]);
  });

  it('rejects combinations of states that cannot happen', () => {
    const impossible = [
      change(long('1'), { inputState: 'does_not_exist', outputVersion: 5n, outputDigest: 'x', idOperation: 'deleted', objectType: ORDER }),
      change(long('1'), { inputState: 'does_not_exist', outputState: 'does_not_exist', idOperation: 'none', objectType: ORDER }),
      change(long('1'), { inputState: 'unknown', outputVersion: 5n, outputDigest: 'x', objectType: ORDER }),
      change(long('1'), { inputVersion: 4n, outputState: 'unknown', objectType: ORDER }),
    ];
    for (const bad of impossible) {
      expect(() => extractObjectVersions(checkpoint([{ digest: 'TxF', lamportVersion: 5n, changedObjects: [bad] }]), everything)).toThrow(MalformedResponseError);
    }
  });
});

describe('extractPackageWrites', () => {
  it('lists published and upgraded packages with their version, transaction and time, telling an upgrade in place', () => {
    const upgraded = long('abd');
    const tx = (digest: string, changes: ChangedObjectRecord[]): TransactionRecord => ({ digest, lamportVersion: 9n, changedObjects: changes });
    const record = checkpoint([
      tx('TxPublish', [
        change(PKG, { inputState: 'does_not_exist', outputState: 'package_write', outputVersion: 1n, outputDigest: 'p1', idOperation: 'created', objectType: 'package' }),
        change(long('1'), { inputState: 'does_not_exist', outputVersion: 9n, outputDigest: 'cap', outputOwner: address(ALICE), idOperation: 'created', objectType: normalizeObjectType('0x2::package::UpgradeCap') }),
      ]),
      tx('TxUpgrade', [change(upgraded, { inputState: 'does_not_exist', outputState: 'package_write', outputVersion: 2n, outputDigest: 'p2', idOperation: 'created', objectType: 'package' })]),
      // A framework upgrade: 0x2 written at its next version under its own ID.
      tx('TxFramework', [change(long('2'), { inputState: 'exists', inputVersion: 5n, outputState: 'package_write', outputVersion: 6n, outputDigest: 'p6', objectType: 'package' })]),
    ]);
    expect(extractPackageWrites(record)).toEqual([
      { packageId: PKG, version: 1n, inPlace: false, txDigest: 'TxPublish', checkpoint: 77n, timestampMs: 1_700_000_000_000n },
      { packageId: upgraded, version: 2n, inPlace: false, txDigest: 'TxUpgrade', checkpoint: 77n, timestampMs: 1_700_000_000_000n },
      { packageId: long('2'), version: 6n, inPlace: true, txDigest: 'TxFramework', checkpoint: 77n, timestampMs: 1_700_000_000_000n },
    ]);
  });
});
