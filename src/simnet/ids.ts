import { decodeDigest, decodeObjectId, digestOf, hashDigest, objectIdOf, type IdKey } from './prng.ts';

/** What an identifier of the simulated chain stands for; encoded in it (see prng.ts). */
const DOMAIN_ADDRESS = 1;
export const DOMAIN_GAS = 2;
export const DOMAIN_LANE = 3;
export const DOMAIN_SCHEDULED = 4;
export const DOMAIN_ACCUMULATOR = 5;
export const DOMAIN_TABLE = 6;
export const DOMAIN_PACKAGE_OBJECT = 7;
export const DOMAIN_PACKAGE = 8;
const DOMAIN_TRANSACTION = 9;
const DOMAIN_CHECKPOINT = 10;
export const DOMAIN_SYSTEM = 11;

const SALT_OBJECT_DIGEST = 0x0b1ec700;
const SALT_EFFECTS_DIGEST = 0xeffec700;

export type Ids = {
  readonly seed: number;
  address(index: number): string;
  object(domain: number, major: number, minor?: number): string;
  decodeObject(objectId: string): IdKey | undefined;
  transactionDigest(t: number): string;
  checkpointDigest(s: number): string;
  /** Transaction index of a digest made by `transactionDigest`, or -1. */
  decodeTransaction(digest: string): number;
  /** Checkpoint of a digest made by `checkpointDigest`, or -1. */
  decodeCheckpoint(digest: string): number;
  objectDigest(keyA: number, keyB: number, version: number): string;
  effectsDigest(t: number): string;
};

/** The first word of an object's digest identity: its domain and minor key. */
export function keyA(domain: number, minor = 0): number {
  return ((domain & 0xff) << 24) | (minor & 0xffffff);
}

const DIGEST_CACHE_ENTRIES = 65_536;

export function createIds(seed: number): Ids {
  const addresses = new Map<number, string>();
  // Inputs of a checkpoint often name the same earlier transactions; base58 is the costly part.
  const transactionDigests = new Map<number, string>();
  return {
    seed,
    address(index) {
      let address = addresses.get(index);
      if (address === undefined) {
        address = objectIdOf(seed, { domain: DOMAIN_ADDRESS, major: index, minor: 0 });
        addresses.set(index, address);
      }
      return address;
    },
    object: (domain, major, minor = 0) => objectIdOf(seed, { domain, major, minor }),
    decodeObject: (objectId) => decodeObjectId(seed, objectId),
    transactionDigest(t) {
      let digest = transactionDigests.get(t);
      if (digest === undefined) {
        if (transactionDigests.size >= DIGEST_CACHE_ENTRIES) transactionDigests.clear();
        digest = digestOf(seed, { domain: DOMAIN_TRANSACTION, major: t, minor: 0 });
        transactionDigests.set(t, digest);
      }
      return digest;
    },
    checkpointDigest: (s) => digestOf(seed, { domain: DOMAIN_CHECKPOINT, major: s, minor: 0 }),
    decodeTransaction(digest) {
      const key = decodeDigest(seed, digest);
      return key && key.domain === DOMAIN_TRANSACTION && key.minor === 0 ? key.major : -1;
    },
    decodeCheckpoint(digest) {
      const key = decodeDigest(seed, digest);
      return key && key.domain === DOMAIN_CHECKPOINT && key.minor === 0 ? key.major : -1;
    },
    objectDigest: (a, b, version) => hashDigest(seed, SALT_OBJECT_DIGEST, a, b, version),
    effectsDigest: (t) => hashDigest(seed, SALT_EFFECTS_DIGEST, t, 0),
  };
}
