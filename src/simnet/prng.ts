import { fromBase58, toBase58 } from '@mysten/sui/utils';

/**
 * Deterministic hashing, random numbers and identifiers for the simulator. Everything is 32-bit
 * integer arithmetic (Math.imul), so the same seed gives the same chain on every machine and a
 * value can be recomputed at serve time instead of being stored.
 */

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function combine(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** A 32-bit hash of up to five integers (each taken modulo 2^32; pass doubles split into words). */
export function hash(seed: number, a: number, b = 0, c = 0, d = 0): number {
  let h = seed | 0;
  h = combine(h, a | 0);
  h = combine(h, b | 0);
  h = combine(h, c | 0);
  h = combine(h, d | 0);
  return fmix32(h ^ 20);
}

/** A uniform number in [0, 1) from a 32-bit hash. */
export function unit(h: number): number {
  return (h >>> 0) / 4294967296;
}

export type Random = {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
};

/** A sequential generator (mulberry32) for the parts of the chain generated eagerly, in order. */
export function createRandom(seed: number): Random {
  let state = hash(seed, 0x5eed) | 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** What an identifier stands for; encoded inside it so the chain can answer lookups statelessly. */
export type IdKey = { domain: number; major: number; minor: number };

const ROUNDS = 4;
const ROUND_SALT = 0xf00d;
const TAIL_SALT = 0xb0d1;

/**
 * 32 bytes that look random but encode (domain, major, minor): the first two words are a Feistel
 * permutation of the key (invertible), the other six are hashes of those two, so decoding can
 * verify an identifier was really produced by this seed.
 */
function idBytes(seed: number, key: IdKey): Uint8Array {
  let left = ((key.domain & 0xff) << 24) | (key.minor & 0xffffff);
  let right = key.major | 0;
  for (let round = 0; round < ROUNDS; round++) {
    const nextRight = left ^ hash(seed, ROUND_SALT + round, right);
    left = right;
    right = nextRight;
  }
  const bytes = new Uint8Array(32);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, left >>> 0);
  view.setUint32(4, right >>> 0);
  for (let word = 2; word < 8; word++) view.setUint32(word * 4, hash(seed, TAIL_SALT + word, left, right));
  return bytes;
}

function decodeIdBytes(seed: number, bytes: Uint8Array): IdKey | undefined {
  if (bytes.length !== 32) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 32);
  const first = view.getUint32(0) | 0;
  const second = view.getUint32(4) | 0;
  for (let word = 2; word < 8; word++) {
    if (view.getUint32(word * 4) !== hash(seed, TAIL_SALT + word, first, second)) return undefined;
  }
  let left = first;
  let right = second;
  for (let round = ROUNDS - 1; round >= 0; round--) {
    const previousLeft = right ^ hash(seed, ROUND_SALT + round, left);
    right = left;
    left = previousLeft;
  }
  return { domain: (left >>> 24) & 0xff, minor: left & 0xffffff, major: right >>> 0 };
}

function toHexId(bytes: Uint8Array): string {
  let out = '0x';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** `0x` + 64 hex characters naming the key. */
export function objectIdOf(seed: number, key: IdKey): string {
  return toHexId(idBytes(seed, key));
}

/** Base58 of 32 bytes naming the key (transaction and checkpoint digests). */
export function digestOf(seed: number, key: IdKey): string {
  return toBase58(idBytes(seed, key));
}

/** The key of a normalized object ID produced by `objectIdOf`, or undefined. */
export function decodeObjectId(seed: number, objectId: string): IdKey | undefined {
  if (!/^0x[0-9a-f]{64}$/.test(objectId)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number.parseInt(objectId.slice(2 + i * 2, 4 + i * 2), 16);
  return decodeIdBytes(seed, bytes);
}

/** The key of a digest produced by `digestOf`, or undefined. */
export function decodeDigest(seed: number, digest: string): IdKey | undefined {
  const bytes = decodeBase58Digest(digest);
  return bytes ? decodeIdBytes(seed, bytes) : undefined;
}

/** The 32 bytes of a base58 digest, or undefined when it is not one. */
export function decodeBase58Digest(digest: string): Uint8Array | undefined {
  if (!/^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(digest)) return undefined;
  try {
    const bytes = fromBase58(digest);
    return bytes.length === 32 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** A digest that names nothing in particular: object version digests, effects digests. */
export function hashDigest(seed: number, salt: number, a: number, b: number, c = 0): string {
  const bytes = new Uint8Array(32);
  const view = new DataView(bytes.buffer);
  for (let word = 0; word < 8; word++) view.setUint32(word * 4, hash(seed, salt + word, a, b, c));
  return toBase58(bytes);
}
