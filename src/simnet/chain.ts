import type { GrpcTypes } from '@mysten/sui/grpc';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import type { MatchMode, ObjectChangeKind, ObjectVersionRow, OwnerKind } from '../sui/records.ts';
import { OWNER_ADDRESS, OWNER_CONSENSUS_ADDRESS, OWNER_IMMUTABLE, OWNER_OBJECT, OWNER_SHARED, PACKAGE_TYPE, outputWritten, type ChangeSpec } from './changes.ts';
import { DOMAIN_GAS, createIds } from './ids.ts';
import { createLayout, type Layout } from './layout.ts';
import type { Ledger } from './ledger.ts';
import { createLru } from './lru.ts';
import { createMessageBuilder } from './messages.ts';
import { createTypeTable } from './move-types.ts';
import { createPackageTraffic, type SimPackage, type SimPackageName, type SimUserPackageName } from './packages.ts';
import { CLOCK_ID, USERS, createTraffic } from './traffic.ts';

export type { SimPackage, SimPackageName, SimPackageVersion, SimTypeOrigin, SimUserPackageName } from './packages.ts';

export type SimChainOptions = {
  /** Default 1. */
  seed?: number;
  /** Checkpoints generated, 0 .. checkpoints - 1. Default 20,000. */
  checkpoints?: number;
  /** Highest checkpoint that exists at start. Default: the last generated one. */
  initialTip?: bigint | number;
  /** Default 2025-01-01T00:00:00Z. */
  genesisTimestampMs?: number;
  /** Default 250. */
  checkpointIntervalMs?: number;
  /** Default 10,000. */
  checkpointsPerEpoch?: number;
  /** Mean transactions per checkpoint. Default 12. */
  txPerCheckpoint?: number;
  /** Fraction of user transactions acting on the simulator's packages once they exist. Default 0.1. */
  packageTrafficFraction?: number;
  /** Mean objects an unrelated user transaction creates (each is written again later). Default 1. */
  objectsPerTransaction?: number;
  /**
   * Checkpoint of each publish and upgrade, per package, oldest version first (dex and late have 3
   * versions, the others 1). Default: fixed fractions of the chain (token, dex, book, nft in the first
   * 12%, late from 80%).
   */
  publishAt?: Partial<Record<SimUserPackageName, readonly number[]>>;
  /** Checkpoints below it are pruned. Default 0. */
  lowestAvailableCheckpoint?: bigint | number;
  /** Built checkpoints kept in memory (the server also caches encoded responses). Default 64. */
  cacheCheckpoints?: number;
};

type GroundTruthQuery = {
  /** Any ID of the package's upgrade family. */
  packageId: string;
  match?: MatchMode;
  fromCheckpoint: bigint | number;
  toCheckpoint: bigint | number;
};

export type SimChain = Ledger & {
  readonly seed: number;
  /** Checkpoints generated (the tip can advance up to `checkpointCount - 1`). */
  readonly checkpointCount: number;
  readonly totalTransactions: number;
  /** Digest of checkpoint 0. */
  readonly chainId: string;
  /** Every package: the system packages 0x1, 0x2, 0x3 and the simulator's own, each with every version. */
  readonly packages: readonly SimPackage[];
  package(name: SimPackageName): SimPackage;
  tip(): bigint;
  setTip(checkpoint: bigint | number): void;
  /** Moves the tip forward by `by` (default 1), never beyond the last generated checkpoint. */
  advanceTip(by?: number): bigint;
  lowestAvailableCheckpoint(): bigint;
  setLowestAvailableCheckpoint(checkpoint: bigint | number): void;
  timestampMs(checkpoint: bigint | number): bigint;
  epoch(checkpoint: bigint | number): bigint;
  transactionCount(checkpoint: bigint | number): number;
  /** Sequence number of a checkpoint digest of this chain, whether or not it exists yet. */
  checkpointOfDigest(digest: string): bigint | undefined;
  /** Every storage ID of the package's upgrade family, oldest first (from any ID of the family). */
  family(packageId: string): string[];
  /** Checkpoint in which the family's original package was published (from any ID of the family). */
  publishCheckpoint(packageId: string): bigint;
  /**
   * The object versions a correct backfill writes for the package's family over the inclusive
   * range, in chain order, computed from what the generator knows about each type.
   */
  groundTruth(query: GroundTruthQuery): ObjectVersionRow[];
  stats(): { checkpoints: number; transactions: number; packageRecords: number; packageObjects: number; cachedCheckpoints: number };
};

const OWNER_KINDS: Record<number, OwnerKind> = {
  [OWNER_ADDRESS]: 'address',
  [OWNER_OBJECT]: 'object',
  [OWNER_SHARED]: 'shared',
  [OWNER_IMMUTABLE]: 'immutable',
  [OWNER_CONSENSUS_ADDRESS]: 'consensus_address',
};

const CHANGE_KINDS: Partial<Record<ChangeSpec['op'], ObjectChangeKind>> = {
  created: 'created',
  mutated: 'mutated',
  unwrapped: 'unwrapped',
  deleted: 'deleted',
  unwrap_deleted: 'deleted',
  wrapped: 'wrapped',
};

function checkpointNumber(value: bigint | number, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return n;
}

export function createSimChain(options: SimChainOptions = {}): SimChain {
  const seed = options.seed ?? 1;
  const checkpoints = options.checkpoints ?? 20_000;
  const layout: Layout = createLayout({
    seed,
    checkpoints,
    txPerCheckpoint: options.txPerCheckpoint ?? 12,
    genesisTimestampMs: options.genesisTimestampMs ?? Date.UTC(2025, 0, 1),
    checkpointIntervalMs: options.checkpointIntervalMs ?? 250,
    checkpointsPerEpoch: options.checkpointsPerEpoch ?? 10_000,
  });
  const ids = createIds(seed);
  const types = createTypeTable();
  const traffic = createTraffic({ seed, layout, ids, types, objectsPerTransaction: options.objectsPerTransaction ?? 1 });
  const packageTraffic = createPackageTraffic({ seed, layout, ids, types, fraction: options.packageTrafficFraction ?? 0.1, publishAt: options.publishAt });
  const messages = createMessageBuilder({
    ids,
    layout,
    types,
    packageOf(objectId, version) {
      const found = packageTraffic.lookup(objectId);
      const match = found?.pkg.versions.find((entry) => entry.id === objectId && entry.version === version);
      return match && { version: match, originalId: found!.pkg.originalId };
    },
  });
  const cache = createLru<number, GrpcTypes.Checkpoint>({ maxEntries: options.cacheCheckpoints ?? 64 });

  let tip = options.initialTip === undefined ? checkpoints - 1 : Math.min(checkpointNumber(options.initialTip, 'initialTip'), checkpoints - 1);
  let lowest = checkpointNumber(options.lowestAvailableCheckpoint ?? 0, 'lowestAvailableCheckpoint');
  const visibleUpTo = () => layout.start(tip + 1) - 1;

  /** Every change of transaction `t`, in effects order (sorted by object ID). */
  function transactionChanges(t: number): ChangeSpec[] {
    const changes = traffic.changes(t);
    for (const change of packageTraffic.changes(t)) changes.push(change);
    return changes.sort((a, b) => (a.objectId < b.objectId ? -1 : a.objectId > b.objectId ? 1 : 0));
  }

  const gasObjectOf = (t: number) => (layout.isUser(t) ? ids.object(DOMAIN_GAS, t % USERS) : null);

  function buildCheckpoint(s: number): GrpcTypes.Checkpoint {
    const cached = cache.get(s);
    if (cached) return cached;
    const transactions: GrpcTypes.ExecutedTransaction[] = [];
    const objects = new Map<string, GrpcTypes.Object>();
    const end = layout.start(s + 1);
    for (let t = layout.start(s); t < end; t++) {
      transactions.push(messages.transaction(t, transactionChanges(t), gasObjectOf(t), objects));
    }
    const checkpoint = messages.checkpoint(s, transactions, objects);
    cache.set(s, checkpoint);
    return checkpoint;
  }

  function familyOf(packageId: string): SimPackage {
    const found = packageTraffic.lookup(normalizeSuiAddress(packageId));
    if (!found) throw new Error(`${packageId} is not a package of this chain`);
    return found.pkg;
  }

  function groundTruth(query: GroundTruthQuery): ObjectVersionRow[] {
    const pkg = familyOf(query.packageId);
    const familyIds = new Set(pkg.versions.map((version) => version.id));
    const match = query.match ?? 'outer';
    const from = checkpointNumber(query.fromCheckpoint, 'fromCheckpoint');
    const to = Math.min(checkpointNumber(query.toCheckpoint, 'toCheckpoint'), checkpoints - 1);
    if (to < from) return [];
    const fromT = layout.start(from);
    const toT = layout.start(to + 1) - 1;
    const isSystem = pkg.name === 'std' || pkg.name === 'sui' || pkg.name === 'sui_system';
    // Only package records can mention the simulator's packages; system types appear everywhere.
    const candidates = isSystem ? Array.from({ length: toT - fromT + 1 }, (_, i) => fromT + i) : packageTraffic.transactionsBetween(fromT, toT);

    const matches = (type: number) => {
      const info = types.get(type);
      if (match === 'outer') return familyIds.has(info.address);
      for (const address of info.addresses) if (familyIds.has(address)) return true;
      return false;
    };

    const rows: ObjectVersionRow[] = [];
    for (const t of candidates) {
      const s = layout.checkpointOf(t);
      const lamport = layout.version(t);
      let txDigest: string | undefined;
      for (const change of transactionChanges(t)) {
        const kind = CHANGE_KINDS[change.op];
        if (kind === undefined || change.type === PACKAGE_TYPE || !matches(change.type)) continue;
        const info = types.get(change.type);
        const written = outputWritten(change.op);
        const owner = written ? change.outputOwner! : null;
        txDigest ??= ids.transactionDigest(t);
        rows.push({
          objectId: change.objectId,
          version: BigInt(lamport),
          objectType: info.tag,
          typePackage: info.address,
          typeModule: info.module,
          typeName: info.name,
          ownerKind: owner ? OWNER_KINDS[owner.kind] : null,
          ownerAddress: owner ? owner.address : null,
          checkpoint: BigInt(s),
          txDigest,
          objectDigest: written ? ids.objectDigest(change.keyA, change.keyB, lamport) : null,
          change: kind,
        });
      }
    }
    return rows;
  }

  function objectState(objectId: string, version: number | null) {
    const upTo = visibleUpTo();
    if (objectId === CLOCK_ID) return traffic.object('clock', version, upTo);
    const fromPackages = packageTraffic.object(objectId, version, upTo);
    if (fromPackages) return fromPackages;
    const key = ids.decodeObject(objectId);
    return key ? traffic.object(key, version, upTo) : undefined;
  }

  const chain: SimChain = {
    seed,
    checkpointCount: checkpoints,
    totalTransactions: layout.totalTransactions,
    chainId: ids.checkpointDigest(0),
    packages: packageTraffic.packages,
    package(name) {
      const found = packageTraffic.packages.find((pkg) => pkg.name === name);
      if (!found) throw new Error(`no package named ${name}`);
      return found;
    },
    tip: () => BigInt(tip),
    setTip(checkpoint) {
      tip = Math.min(checkpointNumber(checkpoint, 'tip'), checkpoints - 1);
    },
    advanceTip(by = 1) {
      tip = Math.min(tip + by, checkpoints - 1);
      return BigInt(tip);
    },
    lowestAvailableCheckpoint: () => BigInt(lowest),
    setLowestAvailableCheckpoint(checkpoint) {
      lowest = checkpointNumber(checkpoint, 'lowestAvailableCheckpoint');
    },
    timestampMs: (checkpoint) => BigInt(layout.timestampMs(Number(checkpoint))),
    epoch: (checkpoint) => BigInt(layout.epoch(Number(checkpoint))),
    transactionCount: (checkpoint) => layout.count(Number(checkpoint)),
    checkpointOfDigest(digest) {
      const s = ids.decodeCheckpoint(digest);
      return s >= 0 && s < checkpoints ? BigInt(s) : undefined;
    },
    family: (packageId) => [...new Set(familyOf(packageId).versions.map((version) => version.id))],
    publishCheckpoint: (packageId) => familyOf(packageId).versions[0].publishCheckpoint,
    groundTruth,
    stats: () => ({
      checkpoints,
      transactions: layout.totalTransactions,
      packageRecords: packageTraffic.recordCount,
      packageObjects: packageTraffic.objectCount,
      cachedCheckpoints: cache.size,
    }),

    getCheckpoint(sequenceNumber) {
      if (sequenceNumber < BigInt(lowest) || sequenceNumber > BigInt(tip)) return undefined;
      return buildCheckpoint(Number(sequenceNumber));
    },
    getObject(objectId, version) {
      const state = objectState(objectId, version === undefined ? null : Number(version));
      if (!state) return undefined;
      // Old versions go with the history they were written in.
      if (version !== undefined && state.type !== PACKAGE_TYPE && layout.checkpointOf(state.writer) < lowest) return undefined;
      return messages.object(state);
    },
    getTransaction(digest) {
      const t = ids.decodeTransaction(digest);
      if (t < 0 || t >= layout.totalTransactions || t > visibleUpTo() || layout.checkpointOf(t) < lowest) return undefined;
      return messages.standaloneTransaction(t, transactionChanges(t), gasObjectOf(t));
    },
    getPackage(packageId) {
      const found = packageTraffic.lookup(packageId);
      if (!found || found.publishTx > visibleUpTo()) return undefined;
      // The newest version under this ID that exists yet (a system package upgrades in place).
      const newest = found.pkg.versions.filter((version) => version.id === packageId && version.publishCheckpoint <= BigInt(tip)).at(-1)!;
      return messages.packageMessage(newest, found.pkg.originalId);
    },
    listPackageVersions(packageId) {
      const found = packageTraffic.lookup(packageId);
      if (!found || found.publishTx > visibleUpTo()) return undefined;
      return found.pkg.versions
        .filter((version) => version.publishCheckpoint <= BigInt(tip))
        .map((version) => ({ packageId: version.id, version: version.version }));
    },
  };
  return chain;
}
