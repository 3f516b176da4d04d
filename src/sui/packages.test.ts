import { GrpcTypes, RpcError, type SuiGrpcClient } from '@mysten/sui/grpc';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NotAPackageError, NotFoundError } from './errors.ts';
import { toSuiError } from './grpc.ts';
import { createPackageResolver } from './packages.ts';
import type { RpcCall } from './rpc.ts';

const long = (hex: string) => `0x${hex.padStart(64, '0')}`;
const V1 = long('a1');
const V2 = long('a2');
const V3 = long('a3');
const COIN = long('c0');

type Behaviour = {
  getPackage?: 'ok' | 'unimplemented' | 'empty-origins' | 'not-found';
  listPackageVersions?: 'ok' | 'unimplemented' | 'empty';
  /** Transactions the node no longer has, and the lowest checkpoint it serves. */
  pruned?: { transactions: string[]; lowestAvailable: bigint };
};

/**
 * A node holding a three-version family: v1 defines `pool::Pool`, v2 adds nothing, v3 adds
 * `pool::Fee`. It can refuse or half-answer the package service, as some nodes do.
 */
function fakeNode(behaviour: Behaviour = {}) {
  const calls: string[] = [];
  const versions = [
    { id: V1, version: 1n, origins: [{ moduleName: 'pool', datatypeName: 'Pool', packageId: V1 }], tx: 'TxV1', checkpoint: 10n },
    { id: V2, version: 2n, origins: [{ moduleName: 'pool', datatypeName: 'Pool', packageId: V1 }], tx: 'TxV2', checkpoint: 20n },
    {
      id: V3,
      version: 3n,
      origins: [
        { moduleName: 'pool', datatypeName: 'Fee', packageId: V3 },
        { moduleName: 'pool', datatypeName: 'Pool', packageId: V1 },
      ],
      tx: 'TxV3',
      checkpoint: 30n,
    },
  ];
  const find = (id: string | undefined) => versions.find((version) => version.id === id);
  const packageOf = (version: (typeof versions)[number]): GrpcTypes.Package => ({ storageId: version.id, originalId: V1, version: version.version, modules: [], typeOrigins: version.origins, linkage: [] });
  const objectOf = (id: string | undefined): GrpcTypes.Object | undefined => {
    const version = find(id);
    if (version) return { objectId: version.id, version: version.version, objectType: 'package', package: packageOf(version), previousTransaction: version.tx };
    if (id === COIN) return { objectId: COIN, version: 7n, objectType: '0x2::coin::Coin<0x2::sui::SUI>' };
    return undefined;
  };
  const answer = <T>(method: string, produce: () => T) => {
    calls.push(method);
    return { response: Promise.resolve().then(produce) };
  };
  const client = {
    movePackageService: {
      getPackage: ({ packageId }: GrpcTypes.GetPackageRequest) =>
        answer('getPackage', () => {
          if (behaviour.getPackage === 'unimplemented') throw new RpcError('unknown service', 'UNIMPLEMENTED');
          const version = find(packageId);
          if (!version || behaviour.getPackage === 'not-found') throw new RpcError(`package ${packageId} not found`, 'NOT_FOUND');
          const pkg = packageOf(version);
          return { package: behaviour.getPackage === 'empty-origins' ? { ...pkg, typeOrigins: [] } : pkg };
        }),
      listPackageVersions: (request: GrpcTypes.ListPackageVersionsRequest) =>
        answer('listPackageVersions', () => {
          if (behaviour.listPackageVersions === 'unimplemented') throw new RpcError('unknown method', 'UNIMPLEMENTED');
          if (behaviour.listPackageVersions === 'empty') return { versions: [] };
          // One version per page, to exercise pagination.
          const index = request.pageToken ? request.pageToken[0] : 0;
          const version = versions[index];
          return { versions: [{ packageId: version.id, version: version.version }], nextPageToken: index + 1 < versions.length ? new Uint8Array([index + 1]) : undefined };
        }),
    },
    ledgerService: {
      getObject: ({ objectId }: GrpcTypes.GetObjectRequest) =>
        answer('getObject', () => {
          const object = objectOf(objectId);
          if (!object) throw new RpcError(`object ${objectId} not found`, 'NOT_FOUND');
          return { object };
        }),
      batchGetObjects: ({ requests }: GrpcTypes.BatchGetObjectsRequest) =>
        answer('batchGetObjects', () => ({
          objects: requests.map(({ objectId }) => {
            const object = objectOf(objectId);
            return { result: object ? { oneofKind: 'object' as const, object } : { oneofKind: 'error' as const, error: { code: 5, message: 'not found', details: [] } } };
          }),
        })),
      batchGetTransactions: ({ digests }: GrpcTypes.BatchGetTransactionsRequest) =>
        answer('batchGetTransactions', () => ({
          transactions: digests.map((digest): GrpcTypes.GetTransactionResult => {
            if (behaviour.pruned?.transactions.includes(digest)) return { result: { oneofKind: 'error', error: { code: 5, message: `transaction ${digest} not found`, details: [] } } };
            const version = versions.find((candidate) => candidate.tx === digest)!;
            return {
              result: {
                oneofKind: 'transaction' as const,
                transaction: { digest, checkpoint: version.checkpoint, timestamp: { seconds: version.checkpoint, nanos: 0 }, signatures: [], balanceChanges: [] },
              },
            };
          }),
        })),
    },
  };
  const endpoint = { url: 'http://node', role: 'primary' as const, client: client as unknown as SuiGrpcClient };
  const call: RpcCall = (method, target, fn) => fn({ timeout: 1_000, abort: new AbortController().signal }, endpoint).catch((error: unknown) => Promise.reject(toSuiError(error, `${method}(${target})`)));
  const rpc = { url: endpoint.url, call };
  const lowestAvailable = async () => behaviour.pruned?.lowestAvailable ?? 0n;
  return { rpc, calls, resolver: createPackageResolver({ ...rpc, lowestAvailable }), withArchive: (archive: typeof rpc) => createPackageResolver({ ...rpc, archive, lowestAvailable }) };
}

const FULL_FAMILY = {
  originalId: V1,
  versions: [
    { packageId: V1, version: 1n, publishCheckpoint: 10n, publishTxDigest: 'TxV1', publishedAtMs: 10_000n },
    { packageId: V2, version: 2n, publishCheckpoint: 20n, publishTxDigest: 'TxV2', publishedAtMs: 20_000n },
    { packageId: V3, version: 3n, publishCheckpoint: 30n, publishTxDigest: 'TxV3', publishedAtMs: 30_000n },
  ],
  typeOrigins: [
    { module: 'pool', datatype: 'Fee', packageId: V3 },
    { module: 'pool', datatype: 'Pool', packageId: V1 },
  ],
  familyIds: [V1, V2, V3],
  publishCheckpoint: 10n,
};

describe('resolvePackage', () => {
  it('resolves from any version ID to the whole family, taking type origins from the newest version', async () => {
    const { resolver, calls } = fakeNode();
    expect(await resolver.resolvePackage('0xa2')).toEqual({ requestedId: V2, ...FULL_FAMILY });
    expect(calls).toEqual(['getPackage', 'listPackageVersions', 'listPackageVersions', 'listPackageVersions', 'getPackage', 'batchGetObjects', 'batchGetTransactions']);
    expect(await fakeNode().resolver.resolvePackage(V3)).toEqual({ requestedId: V3, ...FULL_FAMILY });
  });

  it('falls back to getObject(package) when the package service is not implemented', async () => {
    const { resolver, calls } = fakeNode({ getPackage: 'unimplemented' });
    expect(await resolver.resolvePackage(V1)).toEqual({ requestedId: V1, ...FULL_FAMILY });
    expect(calls.filter((method) => method === 'getObject')).toHaveLength(2);
  });

  it('falls back to getObject(package) when getPackage leaves the type origins empty', async () => {
    expect(await fakeNode({ getPackage: 'empty-origins' }).resolver.resolvePackage(V3)).toEqual({ requestedId: V3, ...FULL_FAMILY });
  });

  it('without a version listing, names the versions that defined types', async () => {
    const { resolver } = fakeNode({ listPackageVersions: 'unimplemented' });
    const resolved = await resolver.resolvePackage(V3);
    expect(resolved.versions.map((version) => version.packageId)).toEqual([V1, V3]);
    expect(resolved.familyIds).toEqual([V1, V3]);
    expect(resolved.typeOrigins).toEqual(FULL_FAMILY.typeOrigins);
    expect(resolved.publishCheckpoint).toBe(10n);
    expect((await fakeNode({ listPackageVersions: 'empty' }).resolver.resolvePackage(V3)).familyIds).toEqual([V1, V3]);
  });

  it('tells a missing ID from an object that is not a package', async () => {
    await expect(fakeNode().resolver.resolvePackage(long('ff'))).rejects.toThrow(NotFoundError);
    const error = await fakeNode().resolver.resolvePackage('0xc0').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotAPackageError);
    expect(error).toMatchObject({ objectId: COIN, objectType: `${long('2')}::coin::Coin<${long('2')}::sui::SUI>` });
  });

  it('dates a publish the node pruned from the archive, or leaves it unknown when no endpoint has it', async () => {
    const pruned = { transactions: ['TxV1', 'TxV2'], lowestAvailable: 25n };
    const node = fakeNode({ pruned });
    const withoutArchive = await node.resolver.resolvePackage(V3);
    expect(withoutArchive.publishCheckpoint).toBeNull();
    expect(withoutArchive.versions.map((version) => [version.publishCheckpoint, version.publishTxDigest, version.publishedAtMs])).toEqual([
      [null, 'TxV1', null],
      [null, 'TxV2', null],
      [30n, 'TxV3', 30_000n],
    ]);

    const archive = fakeNode();
    expect(await node.withArchive(archive.rpc).resolvePackage(V3)).toEqual({ requestedId: V3, ...FULL_FAMILY });
    expect(archive.calls).toEqual(['batchGetTransactions']);

    // A node that prunes nothing yet lacks the transaction is not telling the truth about the package.
    await expect(fakeNode({ pruned: { transactions: ['TxV1'], lowestAvailable: 0n } }).resolver.resolvePackage(V1)).rejects.toThrow(NotFoundError);
  });

  it('dates a package upgraded in place by its first version, not by its latest upgrade', async () => {
    const SYSTEM = long('dee9');
    const origins = [{ moduleName: 'clob_v2', datatypeName: 'Pool', packageId: SYSTEM }];
    const versions = [1n, 2n, 3n].map((version) => ({ version, tx: `TxUpgrade${version}`, checkpoint: version * 1_000n }));
    /** What the node keeps: every version's object, or the newest only (older ones pruned, lowest available 2,500). */
    const systemNode = (keepsOldVersions: boolean) => {
      const packageMessage = (version: bigint): GrpcTypes.Package => ({ storageId: SYSTEM, originalId: SYSTEM, version, modules: [], typeOrigins: origins, linkage: [] });
      const objectAt = (version: bigint | undefined) => {
        const found = version === undefined ? versions.at(-1)! : versions.find((entry) => entry.version === version);
        if (!found || (!keepsOldVersions && found !== versions.at(-1))) return undefined;
        return { objectId: SYSTEM, version: found.version, objectType: 'package', package: packageMessage(found.version), previousTransaction: found.tx };
      };
      const answer = <T>(produce: () => T) => ({ response: Promise.resolve().then(produce) });
      const client = {
        movePackageService: {
          getPackage: () => answer(() => ({ package: packageMessage(3n) })),
          listPackageVersions: () => answer(() => ({ versions: versions.map(({ version }) => ({ packageId: SYSTEM, version })) })),
        },
        ledgerService: {
          batchGetObjects: ({ requests }: GrpcTypes.BatchGetObjectsRequest) =>
            answer(() => ({
              objects: requests.map(({ version }) => {
                const object = objectAt(version);
                return { result: object ? { oneofKind: 'object' as const, object } : { oneofKind: 'error' as const, error: { code: 5, message: 'not found', details: [] } } };
              }),
            })),
          batchGetTransactions: ({ digests }: GrpcTypes.BatchGetTransactionsRequest) =>
            answer(() => ({
              transactions: digests.map((digest): GrpcTypes.GetTransactionResult => {
                const { checkpoint } = versions.find((entry) => entry.tx === digest)!;
                return { result: { oneofKind: 'transaction', transaction: { digest, checkpoint, timestamp: { seconds: checkpoint, nanos: 0 }, signatures: [], balanceChanges: [] } } };
              }),
            })),
        },
      };
      const endpoint = { url: 'http://node', role: 'primary' as const, client: client as unknown as SuiGrpcClient };
      const call: RpcCall = (method, target, fn) => fn({ timeout: 1_000, abort: new AbortController().signal }, endpoint).catch((error: unknown) => Promise.reject(toSuiError(error, `${method}(${target})`)));
      return { url: endpoint.url, call };
    };

    const full = createPackageResolver({ ...systemNode(true), lowestAvailable: async () => 0n });
    expect(await full.resolvePackage('0xdee9')).toEqual({
      requestedId: SYSTEM,
      originalId: SYSTEM,
      versions: [{ packageId: SYSTEM, version: 3n, publishCheckpoint: 1_000n, publishTxDigest: 'TxUpgrade1', publishedAtMs: 1_000_000n }],
      typeOrigins: [{ module: 'clob_v2', datatype: 'Pool', packageId: SYSTEM }],
      familyIds: [SYSTEM],
      publishCheckpoint: 1_000n,
    });

    // Its first version pruned: the archive has it; without one the publish is unknown, never the latest upgrade.
    const pruned = createPackageResolver({ ...systemNode(false), lowestAvailable: async () => 2_500n });
    expect((await pruned.resolvePackage(SYSTEM)).versions).toEqual([{ packageId: SYSTEM, version: 3n, publishCheckpoint: null, publishTxDigest: null, publishedAtMs: null }]);
    expect((await pruned.resolvePackage(SYSTEM)).publishCheckpoint).toBeNull();
    const archived = createPackageResolver({ ...systemNode(false), archive: systemNode(true), lowestAvailable: async () => 2_500n });
    expect((await archived.resolvePackage(SYSTEM)).publishCheckpoint).toBe(1_000n);
    // A node that prunes nothing yet lacks a version it lists is not telling the truth.
    await expect(createPackageResolver({ ...systemNode(false), lowestAvailable: async () => 0n }).resolvePackage(SYSTEM)).rejects.toThrow(
      'http://node does not have version 1 of package 0x000000000000000000000000000000000000000000000000000000000000dee9, though it lists it',
    );
  });

  it('rejects a malformed ID before any call', async () => {
    const { resolver, calls } = fakeNode();
    await expect(resolver.resolvePackage('not-an-id')).rejects.toThrow(InvalidRequestError);
    expect(calls).toEqual([]);
  });
});
