import type postgres from 'postgres';
import { asc, eq } from 'drizzle-orm';
import type { PackageVersionRecord, ResolvedPackage, TypeOriginRecord } from '../sui/records.ts';
import type { Database } from './client.ts';
import { suiPackages } from './schema/framework.ts';

export type RegistryFamily = {
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

/** Turns a registry family into the resolved form the rest of the code uses. */
export function registryFamilyToResolved(requestedId: string, family: RegistryFamily): ResolvedPackage {
  const newest = family.versions[family.versions.length - 1];
  const original = family.versions.find((version) => version.packageId === family.originalId) ?? family.versions[0];
  const familyIds = new Set<string>([family.originalId, ...family.versions.map((v) => v.packageId)]);
  for (const origin of newest.typeOrigins) familyIds.add(origin.packageId);
  return {
    requestedId,
    originalId: family.originalId,
    versions: family.versions.map(({ typeOrigins: _typeOrigins, recordedBy: _recordedBy, ...version }) => version),
    typeOrigins: newest.typeOrigins,
    familyIds: [...familyIds].sort(),
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
  await db.insert(suiPackages).values(values).onConflictDoNothing();
}

export type PublishedPackage = {
  packageId: string;
  originalId: string;
  version: bigint;
  publishCheckpoint: bigint;
  publishTxDigest: string;
  publishedAtMs: bigint;
  typeOrigins: TypeOriginRecord[];
};

/**
 * Records package versions the live indexer saw published, in the caller's transaction. Values go as
 * text with casts: drizzle's postgres client passes json and timestamps through unserialized.
 */
export async function recordPublishedPackages(tx: postgres.TransactionSql, packages: readonly PublishedPackage[]): Promise<void> {
  for (const pkg of packages) {
    await tx`
      insert into sui_packages (package_id, original_id, version, publish_checkpoint, publish_tx_digest, published_at, type_origins, recorded_by)
      values (${pkg.packageId}, ${pkg.originalId}, ${pkg.version.toString()}, ${pkg.publishCheckpoint.toString()}, ${pkg.publishTxDigest},
              ${new Date(Number(pkg.publishedAtMs)).toISOString()}::timestamptz, ${JSON.stringify(pkg.typeOrigins)}::jsonb, 'indexer')
      on conflict (package_id) do nothing`;
  }
}
