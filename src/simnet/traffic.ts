import {
  IMMUTABLE_OWNER,
  addressOwner,
  consensusOwner,
  objectOwner,
  sharedOwner,
  type ChangeSpec,
  type OwnerSpec,
} from './changes.ts';
import {
  DOMAIN_ACCUMULATOR,
  DOMAIN_GAS,
  DOMAIN_LANE,
  DOMAIN_SCHEDULED,
  DOMAIN_SYSTEM,
  DOMAIN_TABLE,
  keyA,
  type Ids,
} from './ids.ts';
import type { Layout } from './layout.ts';
import { SUI, accumulatorField, coinOf, dynamicField, struct, structString, type TypeTable } from './move-types.ts';
import { hash, unit, type IdKey } from './prng.ts';

/**
 * The traffic that has nothing to do with the simulator's packages: gas coins, staking, foreign
 * coins, dynamic fields of foreign tables, busy shared objects. It is never stored: every change is
 * a pure function of (seed, transaction index), so serving a checkpoint or an object recomputes it.
 *
 * Three shapes keep it computable backwards (what did this object look like before?):
 * - gas lanes: user `u` owns one gas coin, written by every user transaction `t` with
 *   `t % USERS == u`;
 * - shared lanes: a few shared objects, lane `t % lanes` written by `t` with some probability;
 * - scheduled objects: each user transaction creates a few objects, and an object born at `t0`
 *   is written again at `t0 + offset` for its variant's fixed offsets (the last may delete it).
 */

export const USERS = 1024;
const SALT_BIRTHS = 0x51a7;
const SALT_BIRTH_SIZE = 0x51a8;
const SALT_BIRTH_ROUNDING = 0x51ae;
const SALT_VARIANT = 0x51a9;
const SALT_TRANSFER = 0x51aa;
const SALT_TABLE = 0x51ab;
const SALT_LANE = 0x51ac;
const SALT_ACCUMULATOR = 0x51ad;
const TABLES = 64;
const ACCUMULATOR_RATE = 0.04;

export const CLOCK_ID = '0x0000000000000000000000000000000000000000000000000000000000000006';
const CLOCK_KEY_B = 6;

const WUSDC = '0x5d4b302506645c37ff133b98c4b50a5ae14841659738d6d733d59d0d217a93bf';
const USDC = '0xdba34672e30cb065b1f93e3ab55318768fd6fef66c15942c9f7cb846e2f900e7';
const DEEP = '0xdeeb7a4662eec9f2f3def03fb937a663dddaa2e215b8078a284d026b7946c270';
const WBTC = '0x0041f9f9344cac094454cd574e333c4fdb132d7bcc9379bcd4aab485b2a63942';
const DEEPBOOK_V3 = '0x2c8d603bc51326b8c13cef9dd07031a408a48dddb541963357661df5d3204809';
const PYTH = '0x8d97f1cd6ac663735be08d1d2b6d02a159e711586461306ce60a2b7a6a565a9e';

type OwnerRule = 'sender' | 'table' | 'consensus' | 'immutable';

type Variant = {
  type: number;
  /** Transaction offsets from birth of each write; offsets[0] is 0 (the creation). */
  offsets: number[];
  /** Whether the last offset deletes the object. */
  deletes: boolean;
  owner: OwnerRule;
  /** Write index from which a `sender` object belongs to someone else (a transfer). */
  transferAt: number | null;
  weight: number;
};

type LaneClass = { type: number; lanes: number; rate: number };

/** An object version as the chain serves it. */
export type ObjectState = {
  objectId: string;
  keyA: number;
  keyB: number;
  version: number;
  owner: OwnerSpec;
  type: number;
  /** The transaction that wrote this version. */
  writer: number;
};

type Traffic = {
  /** The unrelated changes of transaction `t` (genesis, prologue or user transaction). */
  changes(t: number): ChangeSpec[];
  /** Object state at `version` (latest when null) as of transaction `visibleUpTo`, for keys of this module. */
  object(key: IdKey | 'clock', version: number | null, visibleUpTo: number): ObjectState | undefined;
  /** The owner every gas coin and its transactions are sent from. */
  sender(t: number): string;
};

export function createTraffic(options: { seed: number; layout: Layout; ids: Ids; types: TypeTable; objectsPerTransaction: number }): Traffic {
  const { seed, layout, ids, types, objectsPerTransaction } = options;
  if (!(objectsPerTransaction >= 0 && objectsPerTransaction <= 100)) throw new RangeError(`objectsPerTransaction must be between 0 and 100, got ${objectsPerTransaction}`);
  const gasType = types.add(coinOf(SUI));
  const clockType = types.add(struct('0x2', 'clock', 'Clock'));
  const accumulatorType = types.add(accumulatorField(SUI));
  const suiBalance = structString(struct('0x2', 'balance', 'Balance', SUI));

  const laneClasses: LaneClass[] = [
    { type: types.add(struct(PYTH, 'price_info', 'PriceInfoObject')), lanes: 32, rate: 0.12 },
    { type: types.add(struct('0xdee9', 'clob_v2', 'Pool', SUI, struct(WUSDC, 'coin', 'COIN'))), lanes: 4, rate: 0.03 },
  ];

  const variants: Variant[] = [
    { type: types.add(struct('0x3', 'staking_pool', 'StakedSui')), offsets: [0, 9000], deletes: true, owner: 'sender', transferAt: null, weight: 2 },
    { type: types.add(struct('0x3', 'staking_pool', 'StakedSui')), offsets: [0], deletes: false, owner: 'sender', transferAt: null, weight: 1 },
    { type: types.add(dynamicField('u64', 'u64')), offsets: [0, 3, 60, 480], deletes: true, owner: 'table', transferAt: null, weight: 3 },
    { type: types.add(dynamicField('u64', 'u64')), offsets: [0, 1500], deletes: false, owner: 'table', transferAt: null, weight: 2 },
    { type: types.add(coinOf(struct(WUSDC, 'coin', 'COIN'))), offsets: [0, 25, 700], deletes: true, owner: 'sender', transferAt: 1, weight: 3 },
    { type: types.add(coinOf(struct(USDC, 'usdc', 'USDC'))), offsets: [0, 1, 5000], deletes: true, owner: 'sender', transferAt: null, weight: 2 },
    { type: types.add(coinOf(struct(DEEP, 'deep', 'DEEP'))), offsets: [0, 12, 2400], deletes: true, owner: 'consensus', transferAt: null, weight: 1 },
    {
      type: types.add(dynamicField(struct('0x2', 'object', 'ID'), struct(DEEPBOOK_V3, 'account', 'Account'))),
      offsets: [0, 40, 41, 320],
      deletes: true,
      owner: 'table',
      transferAt: null,
      weight: 1,
    },
    {
      type: types.add(dynamicField('u64', struct('0x2', 'linked_table', 'Node', 'u64', struct('0xdee9', 'clob_v2', 'Order')))),
      offsets: [0, 8, 200],
      deletes: true,
      owner: 'table',
      transferAt: null,
      weight: 2,
    },
    { type: types.add(struct('0x2', 'coin', 'CoinMetadata', struct(WBTC, 'wbtc', 'WBTC'))), offsets: [0], deletes: false, owner: 'immutable', transferAt: null, weight: 0.2 },
  ];
  const variantCdf: number[] = [];
  {
    const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
    let running = 0;
    for (const variant of variants) {
      running += variant.weight / total;
      variantCdf.push(running);
    }
  }
  /** For each nonzero offset, the (variant, write index) pairs that write at it. */
  const writesAtOffset = new Map<number, { variant: number; write: number }[]>();
  variants.forEach((variant, index) => {
    variant.offsets.forEach((offset, write) => {
      if (write === 0) return;
      const list = writesAtOffset.get(offset) ?? [];
      list.push({ variant: index, write });
      writesAtOffset.set(offset, list);
    });
  });
  const offsets = [...writesAtOffset.keys()].sort((a, b) => a - b);

  const sender = (t: number) => t % USERS;

  /** A long-tailed spread with a mean of about 1: half create nothing, 1% create 10 to 35. */
  function baseBirths(t: number): number {
    const u = unit(hash(seed, SALT_BIRTHS, t));
    if (u < 0.5) return 0;
    if (u < 0.8) return 1;
    if (u < 0.93) return 2;
    const size = hash(seed, SALT_BIRTH_SIZE, t);
    if (u < 0.99) return 3 + (size % 3);
    return 10 + (size % 26);
  }

  function births(t: number): number {
    if (!layout.isUser(t)) return 0;
    if (objectsPerTransaction === 1) return baseBirths(t); // the same as below, without a hash
    // Scaled, rounding up or down at random so the mean scales exactly.
    return Math.floor(baseBirths(t) * objectsPerTransaction + unit(hash(seed, SALT_BIRTH_ROUNDING, t)));
  }

  function variantOf(t0: number, k: number): number {
    const u = unit(hash(seed, SALT_VARIANT, t0, k));
    for (let i = 0; i < variantCdf.length; i++) if (u < variantCdf[i]) return i;
    return variants.length - 1;
  }

  function scheduledOwner(variant: Variant, t0: number, k: number, write: number): OwnerSpec {
    switch (variant.owner) {
      case 'sender':
        return addressOwner(
          ids.address(variant.transferAt !== null && write >= variant.transferAt ? hash(seed, SALT_TRANSFER, t0, k) % USERS : sender(t0)),
        );
      case 'table':
        return objectOwner(ids.object(DOMAIN_TABLE, hash(seed, SALT_TABLE, t0, k) % TABLES));
      case 'consensus':
        return consensusOwner(ids.address(sender(t0)), layout.version(t0));
      case 'immutable':
        return IMMUTABLE_OWNER;
    }
  }

  /** Whether write `write` of a scheduled object born at t0 happened (its transaction is a user one). */
  const writeHappens = (variant: Variant, t0: number, write: number) =>
    write === 0 || layout.isUser(t0 + variant.offsets[write]);

  function previousWrite(variant: Variant, t0: number, write: number): number {
    for (let m = write - 1; m > 0; m--) if (writeHappens(variant, t0, m)) return m;
    return 0;
  }

  function laneHit(laneClass: number, t: number): boolean {
    return layout.isUser(t) && unit(hash(seed, SALT_LANE + laneClass, t)) < laneClasses[laneClass].rate;
  }

  /** The transaction before `t` (exclusive) that wrote the same lane, or 0 (genesis). */
  function previousLaneWrite(step: number, t: number, hit: (t: number) => boolean): number {
    for (let previous = t - step; previous >= 1; previous -= step) if (hit(previous)) return previous;
    return 0;
  }

  /** The latest transaction <= `upTo` congruent to `lane` that wrote it, or 0 (genesis). */
  function latestLaneWrite(step: number, lane: number, upTo: number, hit: (t: number) => boolean): number {
    if (upTo < 1) return 0;
    let t = upTo - ((((upTo - lane) % step) + step) % step);
    for (; t >= 1; t -= step) if (hit(t)) return t;
    return 0;
  }

  const laneOwner = sharedOwner(1);
  const clockOwner = sharedOwner(1);
  const isUser = (t: number) => layout.isUser(t);

  function mutation(objectId: string, a: number, b: number, type: number, inputVersion: number, inputOwner: OwnerSpec, outputOwner: OwnerSpec): ChangeSpec {
    return { objectId, keyA: a, keyB: b, op: 'mutated', type, inputVersion, inputOwner, outputOwner, packageVersion: null, accumulator: null };
  }

  function creation(objectId: string, a: number, b: number, type: number, owner: OwnerSpec): ChangeSpec {
    return { objectId, keyA: a, keyB: b, op: 'created', type, inputVersion: null, inputOwner: null, outputOwner: owner, packageVersion: null, accumulator: null };
  }

  function genesis(): ChangeSpec[] {
    const changes: ChangeSpec[] = [creation(CLOCK_ID, keyA(DOMAIN_SYSTEM), CLOCK_KEY_B, clockType, clockOwner)];
    for (let user = 0; user < USERS; user++) {
      changes.push(creation(ids.object(DOMAIN_GAS, user), keyA(DOMAIN_GAS), user, gasType, addressOwner(ids.address(user))));
    }
    laneClasses.forEach((laneClass, index) => {
      for (let lane = 0; lane < laneClass.lanes; lane++) {
        changes.push(creation(ids.object(DOMAIN_LANE, lane, index), keyA(DOMAIN_LANE, index), lane, laneClass.type, laneOwner));
      }
    });
    return changes;
  }

  function prologue(t: number): ChangeSpec[] {
    let s = layout.checkpointOf(t) - 1;
    while (s > 0 && layout.count(s) === 0) s--;
    const previous = s === 0 ? 0 : layout.start(s);
    return [mutation(CLOCK_ID, keyA(DOMAIN_SYSTEM), CLOCK_KEY_B, clockType, layout.version(previous), clockOwner, clockOwner)];
  }

  function user(t: number): ChangeSpec[] {
    const changes: ChangeSpec[] = [];
    const from = sender(t);
    const owner = addressOwner(ids.address(from));
    const gasPrevious = previousLaneWrite(USERS, t, isUser);
    changes.push(mutation(ids.object(DOMAIN_GAS, from), keyA(DOMAIN_GAS), from, gasType, layout.version(gasPrevious), owner, owner));

    laneClasses.forEach((laneClass, index) => {
      if (!laneHit(index, t)) return;
      const lane = t % laneClass.lanes;
      const previous = previousLaneWrite(laneClass.lanes, t, (x) => laneHit(index, x));
      changes.push(mutation(ids.object(DOMAIN_LANE, lane, index), keyA(DOMAIN_LANE, index), lane, laneClass.type, layout.version(previous), laneOwner, laneOwner));
    });

    const born = births(t);
    for (let k = 0; k < born; k++) {
      const variant = variants[variantOf(t, k)];
      changes.push(creation(ids.object(DOMAIN_SCHEDULED, t, k), keyA(DOMAIN_SCHEDULED, k), t, variant.type, scheduledOwner(variant, t, k, 0)));
    }
    for (const offset of offsets) {
      const t0 = t - offset;
      if (t0 < 1) break;
      const count = births(t0);
      if (count === 0) continue;
      const writers = writesAtOffset.get(offset)!;
      for (let k = 0; k < count; k++) {
        const variantIndex = variantOf(t0, k);
        const entry = writers.find((writer) => writer.variant === variantIndex);
        if (!entry) continue;
        const variant = variants[variantIndex];
        const previous = previousWrite(variant, t0, entry.write);
        const isDeletion = variant.deletes && entry.write === variant.offsets.length - 1;
        const objectId = ids.object(DOMAIN_SCHEDULED, t0, k);
        const inputOwner = scheduledOwner(variant, t0, k, previous);
        const inputVersion = layout.version(t0 + variant.offsets[previous]);
        changes.push(
          isDeletion
            ? {
                objectId,
                keyA: keyA(DOMAIN_SCHEDULED, k),
                keyB: t0,
                op: 'deleted',
                type: variant.type,
                inputVersion,
                inputOwner,
                outputOwner: null,
                packageVersion: null,
                accumulator: null,
              }
            : mutation(objectId, keyA(DOMAIN_SCHEDULED, k), t0, variant.type, inputVersion, inputOwner, scheduledOwner(variant, t0, k, entry.write)),
        );
      }
    }

    if (unit(hash(seed, SALT_ACCUMULATOR, t)) < ACCUMULATOR_RATE) {
      changes.push({
        objectId: ids.object(DOMAIN_ACCUMULATOR, from),
        keyA: keyA(DOMAIN_ACCUMULATOR),
        keyB: from,
        op: 'accumulator',
        type: accumulatorType,
        inputVersion: null,
        inputOwner: null,
        outputOwner: null,
        packageVersion: null,
        accumulator: { address: ids.address(from), accumulatorType: suiBalance, amount: 1 + (hash(seed, SALT_ACCUMULATOR + 1, t) % 1_000_000_000) },
      });
    }
    return changes;
  }

  function state(objectId: string, a: number, b: number, type: number, writer: number, owner: OwnerSpec): ObjectState {
    return { objectId, keyA: a, keyB: b, version: layout.version(writer), owner, type, writer };
  }

  /** The writer of a lane-shaped object at `version` (or latest), within visibility, or -1. */
  function laneWriter(step: number, lane: number, version: number | null, upTo: number, hit: (t: number) => boolean): number {
    if (version === null) return latestLaneWrite(step, lane, upTo, hit);
    const t = layout.transactionOfVersion(version);
    if (t < 0 || t > upTo) return -1;
    if (t === 0) return 0;
    return t % step === lane && hit(t) ? t : -1;
  }

  return {
    changes(t) {
      if (t === 0) return genesis();
      return layout.isPrologue(t) ? prologue(t) : user(t);
    },
    sender: (t) => ids.address(sender(t)),
    object(key, version, upTo) {
      if (key === 'clock') {
        let writer: number;
        if (version === null) {
          writer = layout.start(layout.checkpointOf(upTo));
        } else {
          writer = layout.transactionOfVersion(version);
          if (writer < 0 || writer > upTo || (writer !== 0 && !layout.isPrologue(writer))) return undefined;
        }
        return state(CLOCK_ID, keyA(DOMAIN_SYSTEM), CLOCK_KEY_B, clockType, writer, clockOwner);
      }
      switch (key.domain) {
        case DOMAIN_GAS: {
          if (key.minor !== 0 || key.major >= USERS) return undefined;
          const writer = laneWriter(USERS, key.major, version, upTo, isUser);
          if (writer < 0) return undefined;
          return state(ids.object(DOMAIN_GAS, key.major), keyA(DOMAIN_GAS), key.major, gasType, writer, addressOwner(ids.address(key.major)));
        }
        case DOMAIN_LANE: {
          const laneClass = laneClasses[key.minor];
          if (!laneClass || key.major >= laneClass.lanes) return undefined;
          const writer = laneWriter(laneClass.lanes, key.major, version, upTo, (x) => laneHit(key.minor, x));
          if (writer < 0) return undefined;
          return state(ids.object(DOMAIN_LANE, key.major, key.minor), keyA(DOMAIN_LANE, key.minor), key.major, laneClass.type, writer, laneOwner);
        }
        case DOMAIN_SCHEDULED: {
          const t0 = key.major;
          const k = key.minor;
          if (t0 >= layout.totalTransactions || k >= births(t0) || t0 > upTo) return undefined;
          const variant = variants[variantOf(t0, k)];
          const last = variant.offsets.length - 1;
          for (let write = last; write >= 0; write--) {
            const writer = t0 + variant.offsets[write];
            if (writer > upTo || writer >= layout.totalTransactions || !writeHappens(variant, t0, write)) continue;
            const deleted = variant.deletes && write === last;
            if (version === null) {
              if (deleted) return undefined;
            } else if (deleted || layout.version(writer) !== version) {
              continue;
            }
            return state(ids.object(DOMAIN_SCHEDULED, t0, k), keyA(DOMAIN_SCHEDULED, k), t0, variant.type, writer, scheduledOwner(variant, t0, k, write));
          }
          return undefined;
        }
        default:
          return undefined;
      }
    },
  };
}
