import type { Database } from '../db/client.ts';
import { findRegistryFamily, indexerSawPublish, registryFamilyIds } from '../db/packages.ts';
import type { ResolvedPackage } from '../sui/records.ts';

type FamilySource = { resolvePackage: (id: string, options?: { signal?: AbortSignal }) => Promise<ResolvedPackage> };

/**
 * The family IDs a tracking starts with. Intake resolved the family when the package was posted;
 * upgrades may have happened since that the indexer never processed (it was behind, stopped, or
 * started later). The registry has them all when the indexer saw the family's publish; otherwise
 * the RPC's version list is merged in. Either way the result holds every version published up to
 * the indexer's position, and the indexer adds the later ones as it processes them. When the RPC
 * cannot say (an outage, or a lagging node that does not know the package or its newest version
 * yet), this throws: the family known so far may be stale, and no tracking starts with it.
 */
export async function currentFamilyIds(
  deps: { db: Database; source: FamilySource },
  originalId: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const family = await findRegistryFamily(deps.db, originalId);
  const ids = new Set(family ? registryFamilyIds(family) : [originalId]);
  if (family && indexerSawPublish(family)) return [...ids].sort();
  for (const id of (await deps.source.resolvePackage(originalId, { signal })).familyIds) ids.add(id);
  return [...ids].sort();
}
