import type { GrpcTypes } from '@mysten/sui/grpc';
import { decodeId, decodeObjectType, timestampToMs } from './decode.ts';
import { InvalidRequestError, MalformedResponseError, NotAPackageError, NotFoundError, UnimplementedError } from './errors.ts';
import { OBJECT_PACKAGE_MASK, OBJECT_PREVIOUS_TRANSACTION_MASK, OBJECT_TYPE_MASK, TRANSACTION_CHECKPOINT_MASK } from './read-masks.ts';
import type { PackageVersionRecord, ResolvedPackage, TypeOriginRecord } from './records.ts';
import type { RpcCall, RpcCallOptions } from './rpc.ts';
import { PACKAGE_TYPE, normalizeObjectId } from './types.ts';

/** Items per batch call; well under what nodes accept. */
const BATCH_SIZE = 50;
const VERSIONS_PAGE_SIZE = 1000;

export type PackageFacts = { storageId: string; originalId: string; typeOrigins: TypeOriginRecord[] };
type VersionRef = { packageId: string; version: bigint };
type Dated = { checkpoint: bigint | null; timestampMs: bigint | null };
/** Calls to a set of endpoints; `url` names them in errors. */
type Rpc = { url: string; call: RpcCall };

type PackageResolverDeps = Rpc & {
  /** An archival endpoint, asked to date publish transactions the node has pruned. */
  archive?: Rpc;
  lowestAvailable: (options: RpcCallOptions) => Promise<bigint>;
};

type PackageResolver = {
  resolvePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<ResolvedPackage>;
  /** One package version's original ID and type origins, without the family walk. */
  describePackage(id: string, options?: Pick<RpcCallOptions, 'signal'>): Promise<PackageFacts>;
};

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function decodeTypeOrigins(origins: GrpcTypes.TypeOrigin[], where: string): TypeOriginRecord[] {
  return origins.map((origin) => {
    if (!origin.moduleName || !origin.datatypeName) throw new MalformedResponseError(`${where}: type origin without module or datatype name`);
    return { module: origin.moduleName, datatype: origin.datatypeName, packageId: decodeId(origin.packageId, 'type origin package_id', where) };
  });
}

/** Checkpoint and time of each transaction the endpoint has; those it does not know are left out. */
async function dateTransactions(at: Rpc, digests: string[], options: RpcCallOptions): Promise<Map<string, Dated>> {
  const dated = new Map<string, Dated>();
  for (const batch of chunks(digests, BATCH_SIZE)) {
    const response = await at.call('batchGetTransactions', `${batch.length} transactions`, (o, endpoint) =>
      endpoint.client.ledgerService.batchGetTransactions({ digests: batch, readMask: TRANSACTION_CHECKPOINT_MASK }, o).response, options);
    if (response.transactions.length !== batch.length) throw new MalformedResponseError(`batchGetTransactions: asked for ${batch.length} transactions, got ${response.transactions.length}`);
    response.transactions.forEach((result, index) => {
      const where = `batchGetTransactions(${batch[index]}) at ${at.url}`;
      if (result.result.oneofKind !== 'transaction') {
        const error = statusError(result.result, where);
        if (error instanceof NotFoundError) return;
        throw error;
      }
      const { checkpoint, timestamp } = result.result.transaction;
      if (checkpoint === undefined) throw new MalformedResponseError(`${where}: missing checkpoint`);
      dated.set(batch[index], { checkpoint, timestampMs: timestampToMs(timestamp) });
    });
  }
  return dated;
}

/**
 * Resolves any ID of a package family (original or upgraded) to the whole family: every version,
 * where each struct was first defined, and when each version was published. Each fact has a second
 * route for nodes that leave a field empty or lack a method.
 */
export function createPackageResolver(deps: PackageResolverDeps): PackageResolver {
  const { call } = deps;

  /** Objects by ID, at their latest version or at the one asked; one a node does not have is left out when `missingOk`. */
  const batchGetObjects = async (
    at: Rpc,
    requests: { objectId: string; version?: bigint }[],
    readMask: { paths: string[] },
    options: RpcCallOptions,
    missingOk = false,
  ) => {
    const objects = new Map<string, GrpcTypes.Object>();
    for (const batch of chunks(requests, BATCH_SIZE)) {
      const response = await at.call('batchGetObjects', `${batch.length} objects`, (o, endpoint) =>
        endpoint.client.ledgerService.batchGetObjects({ requests: batch, readMask }, o).response, options);
      if (response.objects.length !== batch.length) throw new MalformedResponseError(`batchGetObjects: asked for ${batch.length} objects, got ${response.objects.length}`);
      response.objects.forEach((result, index) => {
        const { objectId, version } = batch[index];
        if (result.result.oneofKind !== 'object') {
          const error = statusError(result.result, `batchGetObjects(${objectId}${version === undefined ? '' : ` at version ${version}`}) at ${at.url}`);
          if (missingOk && error instanceof NotFoundError) return;
          throw error;
        }
        objects.set(objectId, result.result.object);
      });
    }
    return objects;
  };

  /** Called when getPackage refused the ID: a missing object, a non-package, or a package after all. */
  const packageObject = async (id: string, options: RpcCallOptions): Promise<GrpcTypes.Package> => {
    let object: GrpcTypes.Object;
    try {
      const response = await call('getObject', id, (o, at) => at.client.ledgerService.getObject({ objectId: id, readMask: OBJECT_PACKAGE_MASK }, o).response, options);
      object = response.object ?? {};
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError(`no package or object with ID ${id} exists`, error);
      throw error;
    }
    const type = decodeObjectType(object.objectType, `object ${id}`);
    if (type !== PACKAGE_TYPE && !(type === null && object.package)) throw new NotAPackageError(id, type ?? 'unknown');
    if (!object.package) throw new MalformedResponseError(`getObject(${id}) returned a package without its contents`);
    return object.package;
  };

  const describePackage = async (id: string, options: RpcCallOptions): Promise<PackageFacts> => {
    let message: GrpcTypes.Package | undefined;
    try {
      message = (await call('getPackage', id, (o, at) => at.client.movePackageService.getPackage({ packageId: id }, o).response, options)).package;
    } catch (error) {
      if (!(error instanceof NotFoundError || error instanceof InvalidRequestError || error instanceof UnimplementedError)) throw error;
    }
    let fallback: GrpcTypes.Package | undefined;
    // The object route answers what getPackage refused or left empty.
    if (!message?.originalId || message.typeOrigins.length === 0) fallback = await packageObject(id, options);
    const where = `package ${id}`;
    const originalId = message?.originalId || fallback?.originalId;
    const origins = message?.typeOrigins.length ? message.typeOrigins : (fallback?.typeOrigins ?? []);
    return { storageId: id, originalId: decodeId(originalId, 'original_id', where), typeOrigins: decodeTypeOrigins(origins, where) };
  };

  const listVersions = async (facts: PackageFacts, options: RpcCallOptions): Promise<VersionRef[]> => {
    const versions: VersionRef[] = [];
    let pageToken: Uint8Array | undefined;
    const where = `listPackageVersions(${facts.originalId})`;
    try {
      do {
        const request = { packageId: facts.originalId, pageSize: VERSIONS_PAGE_SIZE, pageToken };
        const page = await call('listPackageVersions', facts.originalId, (o, at) => at.client.movePackageService.listPackageVersions(request, o).response, options);
        for (const entry of page.versions) {
          if (entry.version === undefined) throw new MalformedResponseError(`${where}: version entry without version`);
          versions.push({ packageId: decodeId(entry.packageId, 'package_id', where), version: entry.version });
        }
        pageToken = page.versions.length > 0 && page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (pageToken);
    } catch (error) {
      if (!(error instanceof UnimplementedError)) throw error;
    }
    if (versions.length > 0) return versions;
    // Without the listing, the versions we can name are the ones that defined types, plus the two we know.
    const ids = [...new Set([facts.originalId, facts.storageId, ...facts.typeOrigins.map((origin) => origin.packageId)])];
    const objects = await batchGetObjects(deps, ids.map((objectId) => ({ objectId })), OBJECT_TYPE_MASK, options);
    return ids.map((packageId) => {
      const version = objects.get(packageId)!.version;
      if (version === undefined) throw new MalformedResponseError(`batchGetObjects(${packageId}): missing version`);
      return { packageId, version };
    });
  };

  /**
   * When each package ID was first published: the transaction that wrote its lowest version. A
   * package upgraded in place (the system packages, 0x1, 0x2, 0x3, 0xdee9) keeps its ID, so its
   * current object names its latest upgrade, not its publish. An old version a node has pruned is
   * asked of the archive; found nowhere, its publish is undated.
   */
  const publishes = async (refs: VersionRef[], options: RpcCallOptions) => {
    const requests = refs.map((ref) => ({ objectId: ref.packageId, version: ref.version }));
    const found = await batchGetObjects(deps, requests, OBJECT_PREVIOUS_TRANSACTION_MASK, options, true);
    const absent = () => requests.filter((request) => !found.has(request.objectId));
    if (deps.archive && absent().length > 0) {
      for (const [id, object] of await batchGetObjects(deps.archive, absent(), OBJECT_PREVIOUS_TRANSACTION_MASK, options, true)) found.set(id, object);
    }
    if (absent().length > 0 && (await deps.lowestAvailable(options)) === 0n) {
      const [missing] = absent();
      throw new NotFoundError(`${deps.url} does not have version ${missing.version} of package ${missing.objectId}, though it lists it`);
    }
    const previous = new Map<string, string>();
    for (const [id, object] of found) {
      if (!object.previousTransaction) throw new MalformedResponseError(`batchGetObjects(${id}): missing previous_transaction`);
      previous.set(id, object.previousTransaction);
    }
    const digests = [...new Set(previous.values())];
    const dated = await dateTransactions(deps, digests, options);
    const undated = () => digests.filter((digest) => !dated.has(digest));
    if (deps.archive && undated().length > 0) {
      for (const [digest, date] of await dateTransactions(deps.archive, undated(), options)) dated.set(digest, date);
    }
    const missing = undated();
    if (missing.length > 0) {
      if ((await deps.lowestAvailable(options)) === 0n) throw new NotFoundError(`${deps.url} does not know transaction ${missing[0]}, which published a version of this package`);
      // Pruned wherever we can ask: the publish precedes the node's lowest available checkpoint,
      // and no endpoint can say which checkpoint it was.
      for (const digest of missing) dated.set(digest, { checkpoint: null, timestampMs: null });
    }
    return new Map(
      refs.map(({ packageId }) => {
        const digest = previous.get(packageId);
        return [packageId, digest === undefined ? { digest: null, checkpoint: null, timestampMs: null } : { digest, ...dated.get(digest)! }];
      }),
    );
  };

  return {
    describePackage: (id, options = {}) => describePackage(id, options),
    async resolvePackage(requested, options = {}) {
      const requestedId = normalizeObjectId(requested);
      if (requestedId === undefined) throw new InvalidRequestError(`${JSON.stringify(requested)} is not a valid Sui object ID`);
      const asked = await describePackage(requestedId, options);

      // One entry per ID: its newest version, and its lowest (a package upgraded in place lists several under one ID).
      const newestOf = new Map<string, bigint>();
      const lowestOf = new Map<string, bigint>();
      for (const { packageId, version } of await listVersions(asked, options)) {
        if (!(newestOf.get(packageId)! >= version)) newestOf.set(packageId, version);
        if (!(lowestOf.get(packageId)! <= version)) lowestOf.set(packageId, version);
      }
      for (const id of [asked.originalId, requestedId]) {
        if (!newestOf.has(id)) throw new MalformedResponseError(`the version list of package ${asked.originalId} lacks ${id}`);
      }
      const ordered = [...newestOf].map(([packageId, version]) => ({ packageId, version })).sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
      const newest = ordered[ordered.length - 1];
      const typeOrigins = newest.packageId === requestedId ? asked.typeOrigins : (await describePackage(newest.packageId, options)).typeOrigins;

      const published = await publishes([...lowestOf].map(([packageId, version]) => ({ packageId, version })), options);
      const versions: PackageVersionRecord[] = ordered.map(({ packageId, version }) => {
        const publish = published.get(packageId)!;
        return { packageId, version, publishCheckpoint: publish.checkpoint, publishTxDigest: publish.digest, publishedAtMs: publish.timestampMs };
      });
      const familyIds = [...new Set([asked.originalId, ...ordered.map((ref) => ref.packageId), ...typeOrigins.map((origin) => origin.packageId)])].sort();
      return {
        requestedId,
        originalId: asked.originalId,
        versions,
        typeOrigins,
        familyIds,
        publishCheckpoint: published.get(asked.originalId)!.checkpoint,
      };
    },
  };
}

type StatusResult = { oneofKind: 'error'; error: { code?: number; message?: string } } | { oneofKind: undefined };

function describeStatus(result: StatusResult): string {
  return result.oneofKind === 'error' ? `status ${result.error.code ?? '?'}: ${result.error.message ?? ''}` : 'empty result';
}

/** A per-item error inside a batch answer. */
function statusError(result: StatusResult, where: string): Error {
  const NOT_FOUND = 5;
  if (result.oneofKind === 'error' && result.error.code === NOT_FOUND) return new NotFoundError(`${where}: ${describeStatus(result)}`);
  return new MalformedResponseError(`${where}: ${describeStatus(result)}`);
}
