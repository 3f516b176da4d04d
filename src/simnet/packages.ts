import { normalizeSuiAddress } from '@mysten/sui/utils';
import {
  IMMUTABLE_OWNER,
  OWNER_ADDRESS,
  OWNER_CONSENSUS_ADDRESS,
  OWNER_IMMUTABLE,
  OWNER_OBJECT,
  OWNER_SHARED,
  PACKAGE_TYPE,
  addressOwner,
  consensusOwner,
  inputExists,
  objectOwner,
  outputWritten,
  packageWritten,
  sharedOwner,
  type ChangeOp,
  type ChangeSpec,
  type OwnerSpec,
} from './changes.ts';
import { DOMAIN_PACKAGE, DOMAIN_PACKAGE_OBJECT, keyA, type Ids } from './ids.ts';
import type { Layout } from './layout.ts';
import {
  SUI,
  accumulatorField,
  coinOf,
  dynamicField,
  struct,
  structString,
  vector,
  type TypeTable,
} from './move-types.ts';
import { createRandom, hash, unit, type Random } from './prng.ts';
import { USERS, type ObjectState } from './traffic.ts';

/**
 * The simulator's own Move packages and everything their objects do, generated once, in order, at
 * chain creation, into typed-array columns: one record per object change. Publish and upgrade
 * transactions land at fixed fractions of the chain unless chosen checkpoints are given.
 */

export type SimPackageName = 'std' | 'sui' | 'sui_system' | 'token' | 'dex' | 'book' | 'nft' | 'late';

/** The simulator's own packages, the ones whose publishes and upgrades can be placed. */
export type SimUserPackageName = Exclude<SimPackageName, 'std' | 'sui' | 'sui_system'>;

/** Versions each package has: `dex` is upgraded twice (v3 adds `pool::Position`), `late` twice (v3 adds `late::Extra`). */
const PACKAGE_VERSIONS: Record<SimUserPackageName, number> = { token: 1, dex: 3, book: 1, nft: 1, late: 3 };

export type SimTypeOrigin = { module: string; datatype: string; packageId: string };

export type SimPackageVersion = {
  id: string;
  version: bigint;
  publishCheckpoint: bigint;
  publishTxDigest: string;
  typeOrigins: SimTypeOrigin[];
  modules: string[];
  /** Dependencies: original ID to the storage ID and version this version links against. */
  linkage: { originalId: string; upgradedId: string; upgradedVersion: bigint }[];
};

export type SimPackage = {
  name: SimPackageName;
  originalId: string;
  /** Oldest first. */
  versions: SimPackageVersion[];
};

type PackageTraffic = {
  readonly packages: readonly SimPackage[];
  /** Changes to the packages' objects (and the packages themselves) made by transaction `t`. */
  changes(t: number): ChangeSpec[];
  /** Transactions in [fromT, toT] with at least one package record, ascending. */
  transactionsBetween(fromT: number, toT: number): number[];
  /** Object state of a package object or package, at `version` or latest, as of `visibleUpTo`. */
  object(objectId: string, version: number | null, visibleUpTo: number): ObjectState | undefined;
  /** The package and version an ID names (any version's storage ID). */
  lookup(packageId: string): { pkg: SimPackage; index: number; publishTx: number } | undefined;
  readonly recordCount: number;
  readonly objectCount: number;
};

type PackageTrafficOptions = {
  seed: number;
  layout: Layout;
  ids: Ids;
  types: TypeTable;
  /** Fraction of user transactions (once packages exist) that act on the packages. */
  fraction: number;
  /** Checkpoint of each version's publish (oldest first), instead of the default fractions of the chain. */
  publishAt?: Partial<Record<SimUserPackageName, readonly number[]>>;
};

const OPS: ChangeOp[] = ['created', 'mutated', 'deleted', 'wrapped', 'unwrapped', 'unwrap_deleted', 'package', 'accumulator', 'package_upgrade'];
const OP_CODE = new Map(OPS.map((op, code) => [op, code]));
const SALT_PACKAGE_TX = 0x9a7c;
const SALT_AMOUNT = 0x9a7d;

type Owner = { kind: number; ref: number };
const IMMUTABLE: Owner = { kind: OWNER_IMMUTABLE, ref: 0 };
const SHARED: Owner = { kind: OWNER_SHARED, ref: 0 };
const NONE: Owner = { kind: 0, ref: 0 };
const user = (index: number): Owner => ({ kind: OWNER_ADDRESS, ref: index });

/** Growable numeric columns, frozen into typed arrays once generation ends. */
function createColumn() {
  let data = new Int32Array(1024);
  let length = 0;
  return {
    push(value: number) {
      if (length === data.length) {
        const grown = new Int32Array(data.length * 2);
        grown.set(data);
        data = grown;
      }
      data[length++] = value;
    },
    set(index: number, value: number) {
      data[index] = value;
    },
    get(index: number) {
      return data[index];
    },
    get length() {
      return length;
    },
    freeze(): Int32Array {
      data = data.slice(0, length);
      return data;
    },
  };
}

type PublishEvent = { pkg: number; version: number; checkpoint: number };

export function createPackageTraffic(options: PackageTrafficOptions): PackageTraffic {
  const { seed, layout, ids, types } = options;
  const random: Random = createRandom(hash(seed, 0x9ac4a6e));

  // --- packages and their types -------------------------------------------------------------
  const std = normalizeSuiAddress('0x1');
  const sui = normalizeSuiAddress('0x2');
  const suiSystem = normalizeSuiAddress('0x3');
  const names: SimPackageName[] = ['std', 'sui', 'sui_system', 'token', 'dex', 'book', 'nft', 'late'];
  const storageId = (pkg: number, version: number) => (pkg === 0 ? std : pkg === 1 ? sui : pkg === 2 ? suiSystem : ids.object(DOMAIN_PACKAGE, pkg, version));
  const SUI_PKG = 1;
  const TOKEN_PKG = 3;
  const DEX_PKG = 4;
  const BOOK_PKG = 5;
  const NFT_PKG = 6;
  const LATE_PKG = 7;
  const token = storageId(TOKEN_PKG, 1);
  const dex = storageId(DEX_PKG, 1);
  const dexV3 = storageId(DEX_PKG, 3);
  const book = storageId(BOOK_PKG, 1);
  const nft = storageId(NFT_PKG, 1);
  const late = storageId(LATE_PKG, 1);
  const lateV3 = storageId(LATE_PKG, 3);

  const TOKEN = struct(token, 'token', 'TOKEN');
  const T = {
    upgradeCap: types.add(struct('0x2', 'package', 'UpgradeCap')),
    tokenCoin: types.add(coinOf(TOKEN)),
    treasury: types.add(struct('0x2', 'coin', 'TreasuryCap', TOKEN)),
    metadata: types.add(struct('0x2', 'coin', 'CoinMetadata', TOKEN)),
    vault: types.add(struct(token, 'token', 'Vault')),
    tokenAccumulator: types.add(accumulatorField(TOKEN)),
    pool: types.add(struct(dex, 'pool', 'Pool', SUI, TOKEN)),
    lpCoin: types.add(coinOf(struct(dex, 'pool', 'LP', SUI, TOKEN))),
    adminCap: types.add(struct(dex, 'pool', 'AdminCap')),
    position: types.add(struct(dexV3, 'pool', 'Position')),
    book: types.add(struct(book, 'book', 'Book')),
    order: types.add(dynamicField('u64', struct(book, 'book', 'Order'))),
    card: types.add(struct(nft, 'nft', 'Card')),
    binder: types.add(struct(nft, 'nft', 'Binder')),
    page: types.add(dynamicField('u64', vector(struct(nft, 'nft', 'Card')))),
    thing: types.add(struct(late, 'late', 'Thing')),
    lateCoin: types.add(coinOf(struct(late, 'late', 'LATE'))),
    extra: types.add(struct(lateV3, 'late', 'Extra')),
  };
  const tokenBalance = structString(struct('0x2', 'balance', 'Balance', TOKEN));

  const origin = (address: string, module: string, datatype: string): SimTypeOrigin => ({ module, datatype, packageId: address });
  const originsOf = (address: string, module: string, datatypes: string[]) => datatypes.map((d) => origin(address, module, d));
  const definitions: { modules: string[]; origins: (version: number) => SimTypeOrigin[]; deps: number[] }[] = [
    {
      modules: ['ascii', 'option', 'string', 'type_name', 'vector'],
      origins: () => [...originsOf(std, 'ascii', ['String']), ...originsOf(std, 'option', ['Option']), ...originsOf(std, 'string', ['String']), ...originsOf(std, 'type_name', ['TypeName'])],
      deps: [],
    },
    {
      modules: ['accumulator', 'balance', 'clock', 'coin', 'dynamic_field', 'linked_table', 'object', 'package', 'sui', 'transfer'],
      origins: () => [
        ...originsOf(sui, 'accumulator', ['Key', 'U128']),
        ...originsOf(sui, 'balance', ['Balance', 'Supply']),
        ...originsOf(sui, 'clock', ['Clock']),
        ...originsOf(sui, 'coin', ['Coin', 'CoinMetadata', 'TreasuryCap']),
        ...originsOf(sui, 'dynamic_field', ['Field']),
        ...originsOf(sui, 'linked_table', ['LinkedTable', 'Node']),
        ...originsOf(sui, 'object', ['ID', 'UID']),
        ...originsOf(sui, 'package', ['Publisher', 'UpgradeCap', 'UpgradeReceipt', 'UpgradeTicket']),
        ...originsOf(sui, 'sui', ['SUI']),
      ],
      deps: [0],
    },
    { modules: ['staking_pool', 'sui_system'], origins: () => [...originsOf(suiSystem, 'staking_pool', ['StakedSui']), ...originsOf(suiSystem, 'sui_system', ['SuiSystemState'])], deps: [0, 1] },
    { modules: ['token'], origins: () => originsOf(token, 'token', ['TOKEN', 'Vault']), deps: [0, 1] },
    {
      modules: ['pool'],
      origins: (version) => [...originsOf(dex, 'pool', ['AdminCap', 'LP', 'Pool']), ...(version >= 3 ? [origin(dexV3, 'pool', 'Position')] : [])],
      deps: [0, 1, TOKEN_PKG],
    },
    { modules: ['book'], origins: () => originsOf(book, 'book', ['Book', 'Order']), deps: [0, 1] },
    { modules: ['nft'], origins: () => originsOf(nft, 'nft', ['Binder', 'Card']), deps: [0, 1] },
    {
      modules: ['late'],
      origins: (version) => [...originsOf(late, 'late', ['LATE', 'Thing']), ...(version >= 3 ? [origin(lateV3, 'late', 'Extra')] : [])],
      deps: [0, 1],
    },
  ];

  /**
   * Every publish and upgrade after genesis with its default place, in the order ties are broken.
   * `0x2` is upgraded in place halfway, as a framework upgrade does: same ID, version 2.
   */
  const defaults: { pkg: number; name?: SimUserPackageName; version: number; fraction: number }[] = [
    { pkg: TOKEN_PKG, name: 'token', version: 1, fraction: 0.01 },
    { pkg: DEX_PKG, name: 'dex', version: 1, fraction: 0.02 },
    { pkg: BOOK_PKG, name: 'book', version: 1, fraction: 0.03 },
    { pkg: NFT_PKG, name: 'nft', version: 1, fraction: 0.04 },
    { pkg: DEX_PKG, name: 'dex', version: 2, fraction: 0.06 },
    { pkg: DEX_PKG, name: 'dex', version: 3, fraction: 0.12 },
    { pkg: SUI_PKG, version: 2, fraction: 0.5 },
    { pkg: LATE_PKG, name: 'late', version: 1, fraction: 0.8 },
    { pkg: LATE_PKG, name: 'late', version: 2, fraction: 0.805 },
    { pkg: LATE_PKG, name: 'late', version: 3, fraction: 0.85 },
  ];
  for (const [name, chosen] of Object.entries(options.publishAt ?? {}) as [SimUserPackageName, readonly number[]][]) {
    if (chosen.length !== PACKAGE_VERSIONS[name]) throw new RangeError(`publishAt.${name} needs ${PACKAGE_VERSIONS[name]} checkpoints (one per version), got ${chosen.length}`);
    chosen.forEach((checkpoint, index) => {
      if (!Number.isSafeInteger(checkpoint) || checkpoint < 1) throw new RangeError(`publishAt.${name} must hold checkpoints >= 1, got ${checkpoint}`);
      if (index > 0 && checkpoint < chosen[index - 1]) throw new RangeError(`publishAt.${name} must be in version order, got ${chosen.join(', ')}`);
    });
  }
  const events: PublishEvent[] = defaults
    .map(({ pkg, name, version, fraction }) => ({
      pkg,
      version,
      checkpoint: (name && options.publishAt?.[name]?.[version - 1]) ?? Math.max(1, Math.floor(fraction * layout.checkpoints)),
    }))
    // Chain order; the sort is stable, so ties keep the order above.
    .sort((a, b) => a.checkpoint - b.checkpoint);
  const firstPublish = (pkg: number) => events.findIndex((event) => event.pkg === pkg);
  if (firstPublish(DEX_PKG) < firstPublish(TOKEN_PKG)) throw new RangeError('publishAt: dex links against token, so token must be published first');

  /** Transaction of each event: the first user transaction at or after its checkpoint, in order. */
  const eventTx = new Map<number, PublishEvent>();
  {
    let t = 1;
    for (const event of events) {
      t = Math.max(t, layout.start(Math.min(event.checkpoint, layout.checkpoints)));
      while (t < layout.totalTransactions && !layout.isUser(t)) t++;
      if (t >= layout.totalTransactions) throw new RangeError(`the chain is too short to publish every package (${layout.checkpoints} checkpoints)`);
      eventTx.set(t, event);
      t++;
    }
  }

  const packages: SimPackage[] = names.map((name, pkg) => ({ name, originalId: storageId(pkg, 1), versions: [] }));
  const packageVersionByObject = new Map<number, { pkg: number; index: number }>();
  /** Version index (into its package's versions) written by each package record. */
  const packageVersionByRecord = new Map<number, number>();
  const objectByPackageId = new Map<string, number>();

  // --- records -------------------------------------------------------------------------------
  const recTx = createColumn();
  const recObj = createColumn();
  const recOp = createColumn();
  const recOwnerKind = createColumn();
  const recOwnerRef = createColumn();
  const recPrev = createColumn();
  const objType = createColumn();
  const objLast = createColumn();

  function newObject(type: number): number {
    objType.push(type);
    objLast.push(-1);
    return objType.length - 1;
  }

  function record(t: number, obj: number, op: ChangeOp, owner: Owner): void {
    recTx.push(t);
    recObj.push(obj);
    recOp.push(OP_CODE.get(op)!);
    recOwnerKind.push(owner.kind);
    recOwnerRef.push(owner.ref);
    recPrev.push(objLast.get(obj));
    objLast.set(obj, recTx.length - 1);
  }

  /** The current owner of an object (its last record's output owner). */
  function ownerNow(obj: number): Owner {
    const last = objLast.get(obj);
    return { kind: recOwnerKind.get(last), ref: recOwnerRef.get(last) };
  }

  const create = (t: number, type: number, owner: Owner) => {
    const obj = newObject(type);
    record(t, obj, 'created', owner);
    return obj;
  };
  const mutate = (t: number, obj: number, owner: Owner = ownerNow(obj)) => record(t, obj, 'mutated', owner);
  const remove = (t: number, obj: number) => record(t, obj, 'deleted', NONE);

  function take<T>(list: T[]): T {
    const index = random.int(list.length);
    const value = list[index];
    list[index] = list[list.length - 1];
    list.pop();
    return value;
  }

  // --- package state -------------------------------------------------------------------------
  const upgradeCaps = new Map<number, number>();
  const state = {
    treasury: -1,
    tokenCoins: [] as number[],
    vaults: [] as number[],
    accumulators: new Map<number, number>(),
    adminCap: -1,
    pools: [] as number[],
    lpCoins: [] as number[],
    positions: [] as number[],
    books: [] as number[],
    orders: [] as { order: number; book: number }[],
    cards: [] as number[],
    binders: [] as number[],
    wrapped: [] as { card: number; binder: number }[],
    pages: [] as { page: number; binder: number }[],
    things: [] as number[],
    extras: [] as number[],
  };
  const published = new Set<number>();
  let dexVersion = 0;
  let lateVersion = 0;

  function publish(t: number, pkg: number, version: number): void {
    const sender = t % USERS;
    const id = storageId(pkg, version);
    // A system package keeps its ID (and object) through upgrades; any other upgrade is a new object.
    const inPlace = objectByPackageId.get(id);
    const obj = inPlace ?? newObject(PACKAGE_TYPE);
    objectByPackageId.set(id, obj);
    const definition = definitions[pkg];
    const versionInfo: SimPackageVersion = {
      id,
      version: BigInt(version),
      publishCheckpoint: BigInt(layout.checkpointOf(t)),
      publishTxDigest: ids.transactionDigest(t),
      typeOrigins: definition.origins(version),
      modules: definition.modules,
      linkage: definition.deps.map((dep) => {
        const latest = packages[dep].versions[packages[dep].versions.length - 1];
        return { originalId: packages[dep].originalId, upgradedId: latest.id, upgradedVersion: latest.version };
      }),
    };
    packageVersionByObject.set(obj, { pkg, index: packages[pkg].versions.length });
    packageVersionByRecord.set(recTx.length, packages[pkg].versions.length);
    packages[pkg].versions.push(versionInfo);
    record(t, obj, inPlace === undefined ? 'package' : 'package_upgrade', IMMUTABLE);
    if (t === 0 || inPlace !== undefined) return;
    if (version === 1) {
      upgradeCaps.set(pkg, create(t, T.upgradeCap, user(sender)));
    } else {
      mutate(t, upgradeCaps.get(pkg)!);
    }
    if (pkg === TOKEN_PKG && version === 1) {
      state.treasury = create(t, T.treasury, user(sender));
      create(t, T.metadata, IMMUTABLE);
    }
    if (pkg === DEX_PKG && version === 1) state.adminCap = create(t, T.adminCap, user(sender));
    if (pkg === DEX_PKG) dexVersion = version;
    if (pkg === LATE_PKG) lateVersion = version;
    published.add(pkg);
  }

  type Action = { weight: number; when?: () => boolean; run: (t: number) => void };
  const someone = () => user(random.int(USERS));

  const actions: Record<number, Action[]> = {
    [TOKEN_PKG]: [
      { weight: 3, run: (t) => (mutate(t, state.treasury), state.tokenCoins.push(create(t, T.tokenCoin, someone()))) },
      {
        weight: 0.15,
        run: (t) => {
          mutate(t, state.treasury);
          const count = 10 + random.int(31);
          for (let i = 0; i < count; i++) state.tokenCoins.push(create(t, T.tokenCoin, someone()));
        },
      },
      { weight: 3, when: () => state.tokenCoins.length > 0, run: (t) => mutate(t, state.tokenCoins[random.int(state.tokenCoins.length)], someone()) },
      { weight: 2, when: () => state.tokenCoins.length > 0, run: (t) => (mutate(t, state.treasury), remove(t, take(state.tokenCoins))) },
      {
        weight: 0.3,
        when: () => state.vaults.length < 6,
        run: (t) => {
          const consensus = random.chance(0.3);
          const obj = newObject(T.vault);
          record(t, obj, 'created', consensus ? { kind: OWNER_CONSENSUS_ADDRESS, ref: random.int(USERS) } : SHARED);
          state.vaults.push(obj);
        },
      },
      { weight: 1, when: () => state.vaults.length > 0, run: (t) => mutate(t, random.pick(state.vaults)) },
      {
        weight: 1,
        when: () => state.tokenCoins.length > 0,
        run: (t) => {
          // A coin deposited into its owner's address balance: the coin goes, the balance object
          // receives an accumulator write (no version, no contents).
          const coin = take(state.tokenCoins);
          const holder = ownerNow(coin).ref;
          let accumulator = state.accumulators.get(holder);
          if (accumulator === undefined) {
            accumulator = newObject(T.tokenAccumulator);
            state.accumulators.set(holder, accumulator);
          }
          remove(t, coin);
          record(t, accumulator, 'accumulator', { kind: 0, ref: holder });
        },
      },
    ],
    [DEX_PKG]: [
      {
        weight: 0.4,
        when: () => state.pools.length < 3,
        run: (t) => {
          state.pools.push(create(t, T.pool, SHARED));
          state.lpCoins.push(create(t, T.lpCoin, user(t % USERS)));
        },
      },
      {
        weight: 4,
        when: () => state.pools.length > 0,
        run: (t) => (mutate(t, random.pick(state.pools)), state.tokenCoins.push(create(t, T.tokenCoin, user(t % USERS)))),
      },
      { weight: 2, when: () => state.pools.length > 0, run: (t) => (mutate(t, random.pick(state.pools)), state.lpCoins.push(create(t, T.lpCoin, someone()))) },
      { weight: 1.5, when: () => state.pools.length > 0 && state.lpCoins.length > 0, run: (t) => (mutate(t, random.pick(state.pools)), remove(t, take(state.lpCoins))) },
      { weight: 0.5, when: () => state.lpCoins.length > 0, run: (t) => mutate(t, random.pick(state.lpCoins), someone()) },
      { weight: 0.1, run: (t) => mutate(t, state.adminCap, random.chance(0.3) ? someone() : ownerNow(state.adminCap)) },
      {
        weight: 1,
        when: () => dexVersion >= 3 && state.pools.length > 0,
        run: (t) => (mutate(t, random.pick(state.pools)), state.positions.push(create(t, T.position, user(t % USERS)))),
      },
      { weight: 1, when: () => state.positions.length > 0, run: (t) => mutate(t, random.pick(state.positions)) },
      { weight: 0.6, when: () => state.positions.length > 0 && state.pools.length > 0, run: (t) => (mutate(t, random.pick(state.pools)), remove(t, take(state.positions))) },
    ],
    [BOOK_PKG]: [
      { weight: 0.3, when: () => state.books.length < 2, run: (t) => state.books.push(create(t, T.book, SHARED)) },
      {
        weight: 4,
        when: () => state.books.length > 0,
        run: (t) => {
          const parent = random.pick(state.books);
          mutate(t, parent);
          state.orders.push({ order: create(t, T.order, { kind: OWNER_OBJECT, ref: parent }), book: parent });
        },
      },
      {
        weight: 1.5,
        when: () => state.orders.length > 0,
        run: (t) => {
          const { order, book: parent } = random.pick(state.orders);
          mutate(t, parent);
          mutate(t, order);
        },
      },
      {
        weight: 2.5,
        when: () => state.orders.length > 0,
        run: (t) => {
          const { order, book: parent } = take(state.orders);
          mutate(t, parent);
          remove(t, order);
        },
      },
    ],
    [NFT_PKG]: [
      { weight: 3, run: (t) => state.cards.push(create(t, T.card, someone())) },
      {
        weight: 0.1,
        run: (t) => {
          const count = 12 + random.int(19);
          for (let i = 0; i < count; i++) state.cards.push(create(t, T.card, user(t % USERS)));
        },
      },
      { weight: 2, when: () => state.cards.length > 0, run: (t) => mutate(t, random.pick(state.cards), someone()) },
      { weight: 0.4, when: () => state.binders.length < 40, run: (t) => state.binders.push(create(t, T.binder, someone())) },
      {
        weight: 1.5,
        when: () => state.cards.length > 0 && state.binders.length > 0,
        run: (t) => {
          const card = take(state.cards);
          const binder = random.pick(state.binders);
          mutate(t, binder);
          record(t, card, 'wrapped', NONE);
          state.wrapped.push({ card, binder });
        },
      },
      {
        weight: 1,
        when: () => state.wrapped.length > 0,
        run: (t) => {
          const { card, binder } = take(state.wrapped);
          mutate(t, binder);
          record(t, card, 'unwrapped', someone());
          state.cards.push(card);
        },
      },
      { weight: 0.8, when: () => state.cards.length > 0, run: (t) => remove(t, take(state.cards)) },
      {
        weight: 0.4,
        when: () => state.wrapped.length > 0,
        run: (t) => {
          const { card, binder } = take(state.wrapped);
          mutate(t, binder);
          record(t, card, 'unwrap_deleted', NONE);
        },
      },
      {
        weight: 0.6,
        when: () => state.binders.length > 0,
        run: (t) => {
          const binder = random.pick(state.binders);
          mutate(t, binder);
          state.pages.push({ page: create(t, T.page, { kind: OWNER_OBJECT, ref: binder }), binder });
        },
      },
      { weight: 0.5, when: () => state.pages.length > 0, run: (t) => mutate(t, random.pick(state.pages).page) },
      {
        weight: 0.3,
        when: () => state.pages.length > 0,
        run: (t) => {
          const { page, binder } = take(state.pages);
          mutate(t, binder);
          remove(t, page);
        },
      },
    ],
    [LATE_PKG]: [
      { weight: 2, run: (t) => state.things.push(create(t, T.thing, someone())) },
      { weight: 2, when: () => state.things.length > 0, run: (t) => mutate(t, random.pick(state.things)) },
      { weight: 1, when: () => state.things.length > 0, run: (t) => remove(t, take(state.things)) },
      { weight: 1, run: (t) => void create(t, T.lateCoin, someone()) },
      { weight: 2, when: () => lateVersion >= 3, run: (t) => state.extras.push(create(t, T.extra, someone())) },
      { weight: 1.5, when: () => state.extras.length > 0, run: (t) => mutate(t, random.pick(state.extras), someone()) },
      { weight: 0.5, when: () => state.extras.length > 0, run: (t) => remove(t, take(state.extras)) },
    ],
  };
  const packageWeights: Record<number, number> = { [TOKEN_PKG]: 2, [DEX_PKG]: 3, [BOOK_PKG]: 3, [NFT_PKG]: 3, [LATE_PKG]: 1.5 };

  function pickWeighted<T>(items: T[], weight: (item: T) => number): T | undefined {
    const total = items.reduce((sum, item) => sum + weight(item), 0);
    if (total <= 0) return undefined;
    let point = random.next() * total;
    for (const item of items) {
      point -= weight(item);
      if (point < 0) return item;
    }
    return items[items.length - 1];
  }

  // --- generation ----------------------------------------------------------------------------
  for (let pkg = 0; pkg < 3; pkg++) publish(0, pkg, 1);
  const firstEvent = Math.min(...eventTx.keys());
  for (let t = firstEvent; t < layout.totalTransactions; t++) {
    const event = eventTx.get(t);
    if (event) {
      publish(t, event.pkg, event.version);
      continue;
    }
    if (!layout.isUser(t) || unit(hash(seed, SALT_PACKAGE_TX, t)) >= options.fraction) continue;
    const pkg = pickWeighted([...published], (p) => packageWeights[p]);
    if (pkg === undefined) continue;
    const action = pickWeighted(actions[pkg], (a) => (a.when === undefined || a.when() ? a.weight : 0));
    action?.run(t);
  }

  const tx = recTx.freeze();
  const objOf = recObj.freeze();
  const opOf = Uint8Array.from(recOp.freeze());
  const ownerKindOf = Uint8Array.from(recOwnerKind.freeze());
  const ownerRefOf = recOwnerRef.freeze();
  const prevOf = recPrev.freeze();
  const typeOfObject = objType.freeze();
  const lastOf = objLast.freeze();
  const firstOf = new Int32Array(typeOfObject.length).fill(-1);
  for (let r = tx.length - 1; r >= 0; r--) firstOf[objOf[r]] = r;

  // --- serving -------------------------------------------------------------------------------
  const packageIdOfObject = new Map<number, string>();
  for (const [id, obj] of objectByPackageId) packageIdOfObject.set(obj, id);

  const objectId = (obj: number) => packageIdOfObject.get(obj) ?? ids.object(DOMAIN_PACKAGE_OBJECT, obj);

  function ownerOf(r: number): OwnerSpec {
    const ref = ownerRefOf[r];
    switch (ownerKindOf[r]) {
      case OWNER_ADDRESS:
        return addressOwner(ids.address(ref));
      case OWNER_OBJECT:
        return objectOwner(objectId(ref));
      case OWNER_SHARED:
        return sharedOwner(layout.version(tx[firstOf[objOf[r]]]));
      case OWNER_CONSENSUS_ADDRESS:
        return consensusOwner(ids.address(ref), layout.version(tx[firstOf[objOf[r]]]));
      default:
        return IMMUTABLE_OWNER;
    }
  }

  function lowerBound(t: number): number {
    let lo = 0;
    let hi = tx.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tx[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The package version package record `r` wrote. */
  function packageVersionNumber(r: number): number {
    const { pkg } = packageVersionByObject.get(objOf[r])!;
    return Number(packages[pkg].versions[packageVersionByRecord.get(r)!].version);
  }

  function changeOf(r: number): ChangeSpec {
    const obj = objOf[r];
    const op = OPS[opOf[r]];
    const previous = prevOf[r];
    return {
      objectId: objectId(obj),
      keyA: keyA(DOMAIN_PACKAGE_OBJECT),
      keyB: obj,
      op,
      type: typeOfObject[obj],
      inputVersion: op === 'package_upgrade' ? packageVersionNumber(previous) : inputExists(op) ? layout.version(tx[previous]) : null,
      ...(op === 'package_upgrade' ? { inputWriter: tx[previous] } : {}),
      inputOwner: inputExists(op) ? ownerOf(previous) : null,
      outputOwner: outputWritten(op) ? ownerOf(r) : null,
      packageVersion: packageWritten(op) ? packageVersionNumber(r) : null,
      accumulator:
        op === 'accumulator'
          ? { address: ids.address(ownerRefOf[r]), accumulatorType: tokenBalance, amount: 1 + (hash(seed, SALT_AMOUNT, r) % 1_000_000) }
          : null,
    };
  }

  function stateOf(r: number): ObjectState {
    const obj = objOf[r];
    return {
      objectId: objectId(obj),
      keyA: keyA(DOMAIN_PACKAGE_OBJECT),
      keyB: obj,
      version: packageWritten(OPS[opOf[r]]) ? packageVersionNumber(r) : layout.version(tx[r]),
      owner: ownerOf(r),
      type: typeOfObject[obj],
      writer: tx[r],
    };
  }

  function objectIndex(id: string): number {
    const known = objectByPackageId.get(id);
    if (known !== undefined) return known;
    const key = ids.decodeObject(id);
    if (!key || key.domain !== DOMAIN_PACKAGE_OBJECT || key.minor !== 0 || key.major >= typeOfObject.length) return -1;
    return key.major;
  }

  return {
    packages,
    recordCount: tx.length,
    objectCount: typeOfObject.length,
    changes(t) {
      const changes: ChangeSpec[] = [];
      for (let r = lowerBound(t); r < tx.length && tx[r] === t; r++) changes.push(changeOf(r));
      return changes;
    },
    transactionsBetween(fromT, toT) {
      const found: number[] = [];
      for (let r = lowerBound(fromT); r < tx.length && tx[r] <= toT; r++) {
        if (found.length === 0 || found[found.length - 1] !== tx[r]) found.push(tx[r]);
      }
      return found;
    },
    object(id, version, upTo) {
      const obj = objectIndex(id);
      if (obj < 0) return undefined;
      for (let r = lastOf[obj]; r >= 0; r = prevOf[r]) {
        if (tx[r] > upTo) continue;
        const op = OPS[opOf[r]];
        const written = outputWritten(op) || packageWritten(op);
        if (version === null) return written ? stateOf(r) : undefined;
        if (!written) continue;
        const found = stateOf(r);
        if (found.version === version) return found;
        if (found.version < version) return undefined;
      }
      return undefined;
    },
    lookup(packageId) {
      const obj = objectByPackageId.get(packageId);
      if (obj === undefined) return undefined;
      const entry = packageVersionByObject.get(obj)!;
      return { pkg: packages[entry.pkg], index: entry.index, publishTx: tx[firstOf[obj]] };
    },
  };
}
