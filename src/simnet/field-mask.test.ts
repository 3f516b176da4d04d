import { GrpcTypes } from '@mysten/sui/grpc';
import { describe, expect, it } from 'vitest';
import { applyFieldMask, parseFieldMask } from './field-mask.ts';

const checkpoint: GrpcTypes.Checkpoint = {
  sequenceNumber: 5n,
  digest: 'D',
  summary: { epoch: 1n, sequenceNumber: 5n, commitments: [] },
  transactions: [
    {
      digest: 'T1',
      checkpoint: 5n,
      signatures: [],
      balanceChanges: [],
      effects: {
        lamportVersion: 5001n,
        changedObjects: [{ objectId: '0x1', objectType: 'A', inputVersion: 3n }],
        dependencies: [],
        unchangedConsensusObjects: [],
        unchangedLoadedRuntimeObjects: [],
      },
    },
  ],
};

function select(paths: string[]) {
  const parsed = parseFieldMask(GrpcTypes.Checkpoint, paths);
  if (!parsed.ok) throw new Error(parsed.error);
  return applyFieldMask(GrpcTypes.Checkpoint, checkpoint, parsed.tree);
}

describe('read masks', () => {
  it('keeps whole fields, nested fields through repeated messages, and nothing else', () => {
    expect(select(['sequence_number'])).toEqual({ sequenceNumber: 5n, transactions: [] });
    expect(select(['transactions.effects.changed_objects.object_id', 'summary.epoch'])).toEqual({
      summary: { epoch: 1n, commitments: [] },
      transactions: [
        {
          signatures: [],
          balanceChanges: [],
          effects: { changedObjects: [{ objectId: '0x1' }], dependencies: [], unchangedConsensusObjects: [], unchangedLoadedRuntimeObjects: [] },
        },
      ],
    });
    // A whole field wins over its parts, in either order.
    expect(select(['transactions.digest', 'transactions'])).toEqual(select(['transactions']));
    expect(select(['transactions', 'transactions.digest']).transactions).toBe(checkpoint.transactions);
    expect(select(['*'])).toBe(checkpoint);
    expect(select(['transactions.*']).transactions[0]).toEqual(checkpoint.transactions[0]);
    expect(select(['sequence_number,digest'])).toEqual({ sequenceNumber: 5n, digest: 'D', transactions: [] });
  });

  it('rejects paths that name no field or go through a scalar', () => {
    expect(parseFieldMask(GrpcTypes.Checkpoint, ['transaction'])).toEqual({ ok: false, error: 'invalid read_mask path "transaction": sui.rpc.v2.Checkpoint has no field "transaction"' });
    expect(parseFieldMask(GrpcTypes.Checkpoint, ['digest.x'])).toMatchObject({ ok: false });
    expect(parseFieldMask(GrpcTypes.Checkpoint, ['transactions.effects.changedObjects'])).toMatchObject({ ok: false });
    expect(parseFieldMask(GrpcTypes.Checkpoint, ['*.digest'])).toMatchObject({ ok: false });
  });

  it('encodes a masked message with protobuf-ts', () => {
    const masked = select(['transactions.effects.lamport_version']);
    const decoded = GrpcTypes.Checkpoint.fromBinary(GrpcTypes.Checkpoint.toBinary(masked));
    expect(decoded.transactions[0].effects!.lamportVersion).toBe(5001n);
    expect(decoded.transactions[0].digest).toBeUndefined();
  });
});
