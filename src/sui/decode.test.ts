import { GrpcTypes } from '@mysten/sui/grpc';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, decodeServiceInfo } from './decode.ts';
import { MalformedResponseError } from './errors.ts';

const { ChangedObject_IdOperation: IdOp, ChangedObject_InputObjectState: In, ChangedObject_OutputObjectState: Out, Owner_OwnerKind: Owner } = GrpcTypes;

const long = (hex: string) => `0x${hex.padStart(64, '0')}`;
const SENDER = '0xa1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const COIN = '0x000000000000000000000000000000000000000000000000000000000000c0c0';
const POOL_ID = '0x00000000000000000000000000000000000000000000000000000000000000aa';

/** A checkpoint as a node would send it, passed through the wire encoding. */
function wire(checkpoint: GrpcTypes.Checkpoint): GrpcTypes.Checkpoint {
  return GrpcTypes.Checkpoint.fromBinary(GrpcTypes.Checkpoint.toBinary(checkpoint));
}

function checkpoint(overrides: Partial<GrpcTypes.Checkpoint> = {}): GrpcTypes.Checkpoint {
  return GrpcTypes.Checkpoint.create({
    sequenceNumber: 20958462n,
    summary: { timestamp: { seconds: 1702658952n, nanos: 900_000_000 }, commitments: [] },
    transactions: [
      {
        digest: '9paVWgkP3wPsXnM9HcUETRcfzzzeERJoA6ss9Wzkq9tp',
        effects: {
          lamportVersion: 900n,
          changedObjects: [
            {
              objectId: '0xc0c0',
              inputState: In.EXISTS,
              inputVersion: 10n,
              inputDigest: 'inDigest',
              inputOwner: { kind: Owner.ADDRESS, address: SENDER },
              outputState: Out.OBJECT_WRITE,
              outputVersion: 900n,
              outputDigest: 'outDigest',
              outputOwner: { kind: Owner.ADDRESS, address: SENDER },
              idOperation: IdOp.NONE,
              objectType: '0x2::coin::Coin<0x2::sui::SUI>',
            },
            {
              objectId: '0xaa',
              inputState: In.EXISTS,
              inputVersion: 500n,
              outputState: Out.OBJECT_WRITE,
              outputVersion: 900n,
              outputDigest: 'poolDigest',
              outputOwner: { kind: Owner.SHARED, version: 32079148n },
              idOperation: IdOp.NONE,
              objectType: '0xdee9::clob_v2::Pool<0x2::sui::SUI, 0x5d4b302506645c37ff133b98c4b50a5ae14841659738d6d733d59d0d217a93bf::coin::COIN>',
            },
          ],
          dependencies: [],
          unchangedConsensusObjects: [],
          unchangedLoadedRuntimeObjects: [],
        },
        signatures: [],
        balanceChanges: [],
      },
    ],
    objects: {
      objects: [
        { objectId: POOL_ID, version: 500n, digest: 'd1', owner: { kind: Owner.SHARED, version: 32079148n }, objectType: '0xdee9::clob_v2::Pool<0x2::sui::SUI, 0x2::sui::SUI>' },
        { objectId: '0xc0c0', version: 10n, digest: 'd2', owner: { kind: Owner.IMMUTABLE }, objectType: 'package' },
      ],
    },
    ...overrides,
  });
}

function withChange(change: Partial<GrpcTypes.ChangedObject>): GrpcTypes.Checkpoint {
  const base = checkpoint();
  base.transactions[0].effects!.changedObjects = [{ ...base.transactions[0].effects!.changedObjects[0], ...change }];
  return base;
}

describe('decodeCheckpoint', () => {
  it('turns a checkpoint into plain records with normalized IDs, types and owners', () => {
    const record = decodeCheckpoint(wire(checkpoint()), true);
    expect(record.sequenceNumber).toBe(20958462n);
    expect(record.timestampMs).toBe(1702658952900n);
    expect(record.transactions).toHaveLength(1);
    const [tx] = record.transactions;
    expect(tx.digest).toBe('9paVWgkP3wPsXnM9HcUETRcfzzzeERJoA6ss9Wzkq9tp');
    expect(tx.lamportVersion).toBe(900n);
    expect(tx.changedObjects).toEqual([
      {
        objectId: COIN,
        inputState: 'exists',
        inputVersion: 10n,
        outputState: 'object_write',
        outputVersion: 900n,
        outputDigest: 'outDigest',
        outputOwner: { kind: 'address', address: SENDER, version: null },
        idOperation: 'none',
        objectType: `${long('2')}::coin::Coin<${long('2')}::sui::SUI>`,
      },
      {
        objectId: POOL_ID,
        inputState: 'exists',
        inputVersion: 500n,
        outputState: 'object_write',
        outputVersion: 900n,
        outputDigest: 'poolDigest',
        outputOwner: { kind: 'shared', address: null, version: 32079148n },
        idOperation: 'none',
        objectType: `${long('dee9')}::clob_v2::Pool<${long('2')}::sui::SUI,0x5d4b302506645c37ff133b98c4b50a5ae14841659738d6d733d59d0d217a93bf::coin::COIN>`,
      },
    ]);
    expect(record.objects).toEqual([
      { objectId: POOL_ID, version: 500n, digest: 'd1', owner: { kind: 'shared', address: null, version: 32079148n }, objectType: `${long('dee9')}::clob_v2::Pool<${long('2')}::sui::SUI,${long('2')}::sui::SUI>` },
      { objectId: COIN, version: 10n, digest: 'd2', owner: { kind: 'immutable', address: null, version: null }, objectType: 'package' },
    ]);
  });

  it('leaves the object set null when the read mask did not ask for it, empty when it was asked for and empty', () => {
    expect(decodeCheckpoint(wire(checkpoint()), false).objects).toBeNull();
    expect(decodeCheckpoint(wire(checkpoint({ objects: undefined })), true).objects).toEqual([]);
  });

  it('keeps a deletion as the node sent it: empty output (V2) or the deleted ref (V1)', () => {
    const v2 = decodeCheckpoint(wire(withChange({ outputState: Out.DOES_NOT_EXIST, outputVersion: undefined, outputDigest: undefined, outputOwner: undefined, idOperation: IdOp.DELETED })), false);
    expect(v2.transactions[0].changedObjects[0]).toMatchObject({ outputState: 'does_not_exist', outputVersion: null, outputDigest: null, outputOwner: null, idOperation: 'deleted' });
    const v1 = decodeCheckpoint(wire(withChange({ outputState: Out.DOES_NOT_EXIST, outputVersion: 900n, outputDigest: 'deleted', idOperation: IdOp.DELETED })), false);
    expect(v1.transactions[0].changedObjects[0]).toMatchObject({ outputState: 'does_not_exist', outputVersion: 900n, outputDigest: 'deleted', idOperation: 'deleted' });
  });

  it('leaves an empty object_type as null (the object set can tell it later)', () => {
    const record = decodeCheckpoint(wire(withChange({ objectType: '' })), false);
    expect(record.transactions[0].changedObjects[0].objectType).toBeNull();
  });

  it('maps enum values it does not know to unknown rather than guessing', () => {
    const record = decodeCheckpoint(withChange({ inputState: 7 as GrpcTypes.ChangedObject_InputObjectState, idOperation: IdOp.ID_OPERATION_UNKNOWN, outputOwner: { kind: 9 as GrpcTypes.Owner_OwnerKind } }), false);
    expect(record.transactions[0].changedObjects[0]).toMatchObject({ inputState: 'unknown', idOperation: 'unknown', outputOwner: { kind: 'unknown', address: null, version: null } });
  });

  const malformed: [string, () => GrpcTypes.Checkpoint, RegExp][] = [
    ['no sequence number', () => checkpoint({ sequenceNumber: undefined }), /missing sequence_number/],
    ['no timestamp', () => checkpoint({ summary: undefined }), /missing summary\.timestamp/],
    ['a transaction without digest', () => {
      const c = checkpoint();
      c.transactions[0].digest = undefined;
      return c;
    }, /missing transaction digest/],
    ['a transaction without effects', () => {
      const c = checkpoint();
      c.transactions[0].effects = undefined;
      return c;
    }, /missing effects/],
    ['a changed object without ID', () => withChange({ objectId: undefined }), /missing changed object_id/],
    ['a changed object ID that is not an address', () => withChange({ objectId: '0xnothex' }), /not a Sui address/],
    ['a write without output_version', () => withChange({ outputVersion: undefined }), /missing output_version/],
    ['a write without output digest', () => withChange({ outputDigest: undefined }), /missing output_digest/],
    ['a write without output owner', () => withChange({ outputOwner: undefined }), /missing output_owner/],
    ['an existing input without input_version', () => withChange({ inputVersion: undefined }), /missing input_version/],
    ['an address owner without address', () => withChange({ outputOwner: { kind: Owner.ADDRESS } }), /missing address owner address/],
    ['an unparseable type', () => withChange({ objectType: '0x2::coin::Coin<' }), /invalid Move type/],
    ['a primitive as an object type', () => withChange({ objectType: 'u64' }), /object type must be a struct/],
    ['an object set entry without version', () => {
      const c = checkpoint();
      c.objects!.objects[0].version = undefined;
      return c;
    }, /missing version/],
  ];
  it.each(malformed)('rejects %s as a malformed (retryable) response', (_, build, message) => {
    let caught: unknown;
    try {
      decodeCheckpoint(wire(build()), true);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MalformedResponseError);
    expect((caught as MalformedResponseError).retryable).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('decodeServiceInfo', () => {
  it('reads the tip and the lowest available checkpoint', () => {
    const response = GrpcTypes.GetServiceInfoResponse.create({ chainId: '4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S', chain: 'mainnet', epoch: 246n, checkpointHeight: 20958500n, lowestAvailableCheckpoint: 1000n, server: 'sui-node/1.0' });
    expect(decodeServiceInfo(response, 'getServiceInfo')).toEqual({
      chainId: '4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S',
      chain: 'mainnet',
      epoch: 246n,
      checkpointHeight: 20958500n,
      lowestAvailableCheckpoint: 1000n,
      server: 'sui-node/1.0',
    });
  });

  it('rejects an answer without tip or lowest available checkpoint', () => {
    expect(() => decodeServiceInfo(GrpcTypes.GetServiceInfoResponse.create({ lowestAvailableCheckpoint: 0n }), 'getServiceInfo')).toThrow(MalformedResponseError);
    expect(() => decodeServiceInfo(GrpcTypes.GetServiceInfoResponse.create({ checkpointHeight: 5n }), 'getServiceInfo')).toThrow(/lowest_available_checkpoint/);
  });
});
