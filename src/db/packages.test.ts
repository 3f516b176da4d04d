import { normalizeSuiAddress } from '@mysten/sui/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedPackage } from '../sui/records.ts';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import {
  findRegistryFamily,
  indexerSawPublish,
  recordPackageFamily,
  recordPublishedPackages,
  registryFamilyIds,
  registryFamilyToResolved,
  type PublishedPackage,
} from './packages.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const id = (n: number) => normalizeSuiAddress(`0x${n.toString(16)}`);
const ORIGINAL = id(0xa1);
const UPGRADE = id(0xa2);
const origins = (packageId: string, datatypes: string[]) => datatypes.map((datatype) => ({ module: 'm', datatype, packageId }));

const published = (packageId: string, version: bigint, checkpoint: bigint, typeOrigins = origins(ORIGINAL, ['A']), upgradedInPlace = false): PublishedPackage => ({
  packageId,
  originalId: packageId === UPGRADE ? ORIGINAL : packageId,
  version,
  upgradedInPlace,
  publishCheckpoint: checkpoint,
  publishTxDigest: `tx-${packageId.slice(-2)}-${version}`,
  publishedAtMs: 1_700_000_000_000n + checkpoint,
  typeOrigins,
});

/** A family as the RPC resolves it, posted by its upgrade: the original at checkpoint 10, the upgrade at 20. */
const twoVersions = (original: string, upgrade: string, typeOrigins: ReturnType<typeof origins>): ResolvedPackage => ({
  requestedId: upgrade,
  originalId: original,
  versions: [
    { packageId: original, version: 1n, publishCheckpoint: 10n, publishTxDigest: `tx-${original.slice(-2)}-1`, publishedAtMs: null },
    { packageId: upgrade, version: 2n, publishCheckpoint: 20n, publishTxDigest: `tx-${upgrade.slice(-2)}-2`, publishedAtMs: null },
  ],
  typeOrigins,
  familyIds: [original, upgrade],
  publishCheckpoint: 10n,
});

async function rows() {
  return database.sql<{ package_id: string; version: string; publish_checkpoint: string; recorded_by: string; type_origins: unknown }[]>`
    select package_id, version, publish_checkpoint, recorded_by, type_origins from sui_packages order by package_id`;
}

describe('package registry', () => {
  it('what the indexer saw replaces a row first learnt from the RPC', async () => {
    await recordPackageFamily(database.db, twoVersions(ORIGINAL, UPGRADE, [...origins(ORIGINAL, ['A']), ...origins(UPGRADE, ['B'])]), 'rpc');
    const before = (await findRegistryFamily(database.db, UPGRADE))!;
    expect(indexerSawPublish(before)).toBe(false);
    // The older row came without type origins: only the newest version's are known from a resolution.
    expect(before.versions.map((version) => version.typeOrigins.length)).toEqual([0, 2]);

    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(ORIGINAL, 1n, 10n)]));
    const after = (await findRegistryFamily(database.db, ORIGINAL))!;
    expect(indexerSawPublish(after)).toBe(true);
    expect(after.versions.map((version) => [version.packageId, version.recordedBy, version.typeOrigins])).toEqual([
      [ORIGINAL, 'indexer', origins(ORIGINAL, ['A'])],
      [UPGRADE, 'rpc', [...origins(ORIGINAL, ['A']), ...origins(UPGRADE, ['B'])]],
    ]);
    expect(registryFamilyIds(after)).toEqual([ORIGINAL, UPGRADE].sort());
  });

  it('an indexer that started after the publish saw only an upgrade: the registry does not hold the family, even once the RPC adds the original', async () => {
    const original = id(0xb1);
    const upgrade = id(0xb2);
    await database.sql.begin((tx) => recordPublishedPackages(tx, [{ ...published(upgrade, 2n, 20n), originalId: original }]));
    const seen = (await findRegistryFamily(database.db, upgrade))!;
    expect(seen.versions.map((version) => [version.packageId, version.recordedBy])).toEqual([[upgrade, 'indexer']]);
    expect(indexerSawPublish(seen)).toBe(false);
    expect(() => registryFamilyToResolved(upgrade, seen)).toThrow(`the registry does not hold the publish of package ${original}; resolve it from the RPC`);

    await recordPackageFamily(database.db, twoVersions(original, upgrade, origins(original, ['A'])), 'rpc');
    const learnt = (await findRegistryFamily(database.db, upgrade))!;
    expect(learnt.versions.map((version) => [version.packageId, version.recordedBy])).toEqual([
      [original, 'rpc'],
      [upgrade, 'indexer'],
    ]);
    expect(indexerSawPublish(learnt)).toBe(false);
  });

  it('an indexer that saw only an in-place upgrade of a package does not know its publish', async () => {
    const system = id(0xdee9);
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(system, 4n, 700n, origins(system, ['Pool']), true)]));
    const family = (await findRegistryFamily(database.db, system))!;
    expect(family.versions.map((version) => [version.packageId, version.version, version.recordedBy])).toEqual([[system, 4n, 'indexer']]);
    expect(indexerSawPublish(family)).toBe(false);
  });

  it('a package upgraded in place keeps its publish and takes its newest version; an older one arriving late changes nothing', async () => {
    const framework = id(2);
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(framework, 1n, 0n, origins(framework, ['Coin']))]));
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(framework, 2n, 500n, origins(framework, ['Coin', 'Token']), true)]));
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(framework, 1n, 0n, origins(framework, ['Coin']))]));
    const [row] = (await rows()).filter((found) => found.package_id === framework);
    expect(row).toEqual({ package_id: framework, version: '2', publish_checkpoint: '0', recorded_by: 'indexer', type_origins: origins(framework, ['Coin', 'Token']) });
    const [{ publish_tx_digest }] = await database.sql`select publish_tx_digest from sui_packages where package_id = ${framework}`;
    expect(publish_tx_digest).toBe(`tx-02-1`);
  });

  it('an in-place upgrade met before its package leaves the publish unknown, for the RPC to fill; the indexer seeing it again keeps it', async () => {
    const deepbook = id(0xdeeb);
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(deepbook, 4n, 900n, origins(deepbook, ['Pool']), true)]));
    const row = async () => (await database.sql`select version, publish_checkpoint, publish_tx_digest, recorded_by from sui_packages where package_id = ${deepbook}`)[0];
    expect(await row()).toEqual({ version: '4', publish_checkpoint: null, publish_tx_digest: null, recorded_by: 'indexer' });
    expect(indexerSawPublish((await findRegistryFamily(database.db, deepbook))!)).toBe(false);
    await recordPackageFamily(
      database.db,
      {
        requestedId: deepbook,
        originalId: deepbook,
        versions: [{ packageId: deepbook, version: 4n, publishCheckpoint: 120n, publishTxDigest: 'tx-deeb-1', publishedAtMs: null }],
        typeOrigins: origins(deepbook, ['Pool']),
        familyIds: [deepbook],
        publishCheckpoint: 120n,
      },
      'rpc',
    );
    expect(await row()).toEqual({ version: '4', publish_checkpoint: '120', publish_tx_digest: 'tx-deeb-1', recorded_by: 'indexer' });
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(deepbook, 4n, 900n, origins(deepbook, ['Pool']), true)]));
    expect(await row()).toEqual({ version: '4', publish_checkpoint: '120', publish_tx_digest: 'tx-deeb-1', recorded_by: 'indexer' });
  });

  it('an RPC resolution of a package upgraded in place updates its version, never its publish or who recorded it', async () => {
    const system = id(3);
    const resolved = (version: bigint, typeOrigins: ReturnType<typeof origins>) => ({
      requestedId: system,
      originalId: system,
      versions: [{ packageId: system, version, publishCheckpoint: 0n, publishTxDigest: 'tx-genesis', publishedAtMs: null }],
      typeOrigins,
      familyIds: [system],
      publishCheckpoint: 0n,
    });
    await database.sql.begin((tx) => recordPublishedPackages(tx, [published(system, 1n, 0n, origins(system, ['Staked']))]));
    await recordPackageFamily(database.db, resolved(3n, origins(system, ['Staked', 'Pool'])), 'rpc');
    await recordPackageFamily(database.db, resolved(2n, origins(system, ['Staked'])), 'rpc');
    const [row] = (await rows()).filter((found) => found.package_id === system);
    expect(row).toEqual({ package_id: system, version: '3', publish_checkpoint: '0', recorded_by: 'indexer', type_origins: origins(system, ['Staked', 'Pool']) });
  });
});
