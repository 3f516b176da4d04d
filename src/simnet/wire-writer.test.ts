import { GrpcTypes } from '@mysten/sui/grpc';
import { describe, expect, it } from 'vitest';
import { fastWriteOptions } from './wire-writer.ts';

describe('wire writer', () => {
  it('writes exactly the bytes of the default protobuf-ts writer', () => {
    const options = fastWriteOptions(16);
    const same = <T extends object>(type: { toBinary(message: T, options?: object): Uint8Array }, message: T) =>
      expect(Buffer.from(type.toBinary(message, options)).toString('hex')).toBe(Buffer.from(type.toBinary(message)).toString('hex'));

    same(GrpcTypes.AccumulatorWrite, { address: '0xé✓', integerValue: 2n ** 64n - 1n, integerTuple: [0n, 1n, 2n ** 63n, 300n], eventDigestValue: [{ eventIndex: 7n, digest: 'x'.repeat(300) }], operation: 2 });
    same(GrpcTypes.TransactionEffects, {
      version: -3,
      epoch: 2n ** 40n,
      lamportVersion: 123_456_789_012n,
      dependencies: ['a', '𝄞 non-ascii'],
      changedObjects: Array.from({ length: 50 }, (_, i) => ({ objectId: `0x${i}`, inputVersion: BigInt(i * 1000), outputOwner: { kind: 1, address: 'q'.repeat(200) } })),
      unchangedConsensusObjects: [],
      unchangedLoadedRuntimeObjects: [],
    });
    same(GrpcTypes.Bcs, { name: 'n', value: new Uint8Array(70_000).fill(9) });
  });
});
