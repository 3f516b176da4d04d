import type postgres from 'postgres';
import { asc, eq, sql } from 'drizzle-orm';
import type { PackageVersionRecord, ResolvedPackage, TypeOriginRecord } from '../sui/records.ts';
import type { Database } from './client.ts';
import { suiPackages } from './schema/framework.ts';

type RegistryFamily = {
  originalId: string;
  /** Oldest first. */
  versions: (PackageVersionRecord & { typeOrigins: TypeOriginRecord[]; recordedBy: 'indexer' | 'rpc' })[];
};

/** The family `packageId` belongs to as the package registry (`sui_packages`) knows it, if at all. */
export async function findRegistryFamily(db: Database, packageId: string): Promise<RegistryFamily | undefined> {
  const [row] = await db.select({ originalId: suiPackages.originalId }).from(suiPackages).where(eq(suiPackages.packageId, packageId));
  if (!row) return undefined;
  const rows = await db.select().from(suiPackages).where(eq(suiPackages.originalId, row.originalId)).orderBy(asc(suiPackages.version));
  return {
    originalId: row.originalId,
    versions: rows.map((version) => ({
      packageId: version.packageId,
      version: version.version,
      publishCheckpoint: version.publishCheckpoint,
      publishTxDigest: version.publishTxDigest,
      publishedAtMs: version.publishedAt ? BigInt(version.publishedAt.getTime()) : null,
      typeOrigins: version.typeOrigins,
      recordedBy: version.recordedBy,
    })),
  };
}

/**
 * Whether the live indexer recorded the family's publish: its oldest recorded version is the
 * original package at version 1, written by the indexer. It has then seen every upgrade since, so
 * the registry holds the whole family up to the indexer's watermark. An indexer that started after
 * the publish records only later upgrades (for a package upgraded in place, a later version under
 * the original ID), and the registry alone knows neither the publish nor what came between.
 */
export function indexerSawPublish(family: RegistryFamily): boolean {
  const [oldest] = family.versions;
  return oldest?.packageId === family.originalId && oldest.version === 1n && oldest.recordedBy === 'indexer';
}

/** Every address defining a struct of the family, as far as the registry knows: versions and type origins. */
export function registryFamilyIds(family: RegistryFamily): string[] {
  const ids = new Set<string>([family.originalId]);
  for (const version of family.versions) {
    ids.add(version.packageId);
    for (const origin of version.typeOrigins) ids.add(origin.packageId);
  }
  return [...ids].sort();
}

/**
 * Turns a registry family into the resolved form the rest of the code uses: only a family whose
 * publish the indexer saw (`indexerSawPublish`), the only one whose publish checkpoint it knows.
 */
export function registryFamilyToResolved(requestedId: string, family: RegistryFamily): ResolvedPackage {
  if (!indexerSawPublish(family)) throw new Error(`the registry does not hold the publish of package ${family.originalId}; resolve it from the RPC`);
  const [original] = family.versions;
  const newest = family.versions[family.versions.length - 1];
  return {
    requestedId,
    originalId: family.originalId,
    versions: family.versions.map(({ typeOrigins: _typeOrigins, recordedBy: _recordedBy, ...version }) => version),
    typeOrigins: newest.typeOrigins,
    familyIds: registryFamilyIds(family),
    publishCheckpoint: original.publishCheckpoint,
  };
}

/**
 * Records every version of a resolved family. Type origins are only known for the newest version
 * from a resolution; older rows keep what they had.
 */
export async function recordPackageFamily(db: Database, resolved: ResolvedPackage, recordedBy: 'indexer' | 'rpc'): Promise<void> {
  const newestId = resolved.versions[resolved.versions.length - 1]?.packageId;
  const values = resolved.versions.map((version) => ({
    packageId: version.packageId,
    originalId: resolved.originalId,
    version: version.version,
    publishCheckpoint: version.publishCheckpoint,
    publishTxDigest: version.publishTxDigest,
    publishedAt: version.publishedAtMs === null ? null : new Date(Number(version.publishedAtMs)),
    typeOrigins: version.packageId === newestId ? resolved.typeOrigins : [],
    recordedBy,
  }));
  if (values.length === 0) return;
  // A package upgraded in place keeps its row: a newer version updates it; its publish, once
  // known, stays (the indexer may have met the package first at an upgrade, not knowing it).
  await db
    .insert(suiPackages)
    .values(values)
    .onConflictDoUpdate({
      target: suiPackages.packageId,
      set: {
        version: sql`greatest(${suiPackages.version}, excluded.version)`,
        typeOrigins: sql`case when ${suiPackages.version} < excluded.version then excluded.type_origins else ${suiPackages.typeOrigins} end`,
        publishCheckpoint: sql`coalesce(${suiPackages.publishCheckpoint}, excluded.publish_checkpoint)`,
        publishTxDigest: sql`coalesce(${suiPackages.publishTxDigest}, excluded.publish_tx_digest)`,
        publishedAt: sql`coalesce(${suiPackages.publishedAt}, excluded.published_at)`,
        recordedAt: sql`now()`,
      },
      setWhere: sql`${suiPackages.version} < excluded.version or (${suiPackages.publishTxDigest} is null and excluded.publish_tx_digest is not null)`,
    });
}

export type PublishedPackage = {
  packageId: string;
  originalId: string;
  version: bigint;
  /** The transaction upgraded a system package under its own ID: it tells nothing of the publish. */
  upgradedInPlace: boolean;
  publishCheckpoint: bigint;
  publishTxDigest: string;
  publishedAtMs: bigint;
  typeOrigins: TypeOriginRecord[];
};

/**
 * Records package versions the live indexer saw published, in the caller's transaction. What the
 * indexer saw of a version wins over a row first learnt from the RPC (which lacks older type
 * origins). A newer version under the same ID (a system package upgraded in place) updates the
 * version and type origins but keeps the row's publish: the package was published when its first
 * version was, and whoever recorded that still vouches for it. An in-place upgrade with no row yet
 * records the package with its publish unknown (null), for the RPC to fill.
 * Values go as text with casts: drizzle's postgres client passes json and timestamps through unserialized.
 */
export async function recordPublishedPackages(tx: postgres.TransactionSql, packages: readonly PublishedPackage[]): Promise<void> {
  for (const pkg of packages) {
    const publish = pkg.upgradedInPlace
      ? { checkpoint: null, digest: null, at: null }
      : { checkpoint: pkg.publishCheckpoint.toString(), digest: pkg.publishTxDigest, at: new Date(Number(pkg.publishedAtMs)).toISOString() };
    await tx`
      insert into sui_packages (package_id, original_id, version, publish_checkpoint, publish_tx_digest, published_at, type_origins, recorded_by)
      values (${pkg.packageId}, ${pkg.originalId}, ${pkg.version.toString()}, ${publish.checkpoint}, ${publish.digest},
              ${publish.at}::timestamptz, ${JSON.stringify(pkg.typeOrigins)}::jsonb, 'indexer')
      on conflict (package_id) do update set
        original_id = excluded.original_id, version = excluded.version, type_origins = excluded.type_origins, recorded_at = now(),
        publish_checkpoint = case when sui_packages.version = excluded.version and excluded.publish_tx_digest is not null then excluded.publish_checkpoint else sui_packages.publish_checkpoint end,
        publish_tx_digest = case when sui_packages.version = excluded.version and excluded.publish_tx_digest is not null then excluded.publish_tx_digest else sui_packages.publish_tx_digest end,
        published_at = case when sui_packages.version = excluded.version and excluded.publish_tx_digest is not null then excluded.published_at else sui_packages.published_at end,
        recorded_by = case when sui_packages.version = excluded.version and excluded.publish_tx_digest is not null then excluded.recorded_by else sui_packages.recorded_by end
      where sui_packages.version <= excluded.version`;
  }
}
