import { isRetryable, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Database } from '../db/client.ts';
import { findRegistryFamily, indexerSawPublish, registryFamilyIds } from '../db/packages.ts';
import type { ResolvedPackage } from '../sui/records.ts';

export type FamilySource = { resolvePackage: (id: string, options?: { signal?: AbortSignal }) => Promise<ResolvedPackage> };

/**
 * The family IDs a tracking starts with. Intake resolved the family when the package was posted;
 * upgrades may have happened since that the indexer never processed (it was behind, stopped, or
 * started later). The registry has them all when the indexer saw the family's publish; otherwise
 * the RPC's version list is merged in. Either way the result holds every version published up to
 * the indexer's position, and the indexer adds the later ones as it processes them.
 */
export async function currentFamilyIds(
  deps: { db: Database; source: FamilySource; logger: Logger },
  originalId: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const family = await findRegistryFamily(deps.db, originalId);
  const ids = new Set(family ? registryFamilyIds(family) : [originalId]);
  if (family && indexerSawPublish(family)) return [...ids].sort();
  try {
    for (const id of (await deps.source.resolvePackage(originalId, { signal })).familyIds) ids.add(id);
  } catch (error) {
    // A transient failure is retried with the batch; a package the RPC cannot resolve at all keeps
    // the family intake saw rather than stopping the indexer.
    if (isRetryable(error) || signal?.aborted) throw error;
    deps.logger.warn({ packageId: originalId, err: errorMessage(error) }, 'could not re-read the family of a newly tracked package; tracking it with the family known');
  }
  return [...ids].sort();
}
