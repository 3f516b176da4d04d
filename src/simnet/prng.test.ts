import { describe, expect, it } from 'vitest';
import { decodeDigest, decodeObjectId, digestOf, hash, objectIdOf } from './prng.ts';

describe('simnet identifiers', () => {
  it('encode their key and decode back only under the same seed', () => {
    for (const key of [
      { domain: 1, major: 0, minor: 0 },
      { domain: 9, major: 4_000_000_000, minor: 0xffffff },
      { domain: 255, major: 123, minor: 45 },
    ]) {
      const id = objectIdOf(42, key);
      expect(id).toMatch(/^0x[0-9a-f]{64}$/);
      expect(decodeObjectId(42, id)).toEqual(key);
      expect(decodeObjectId(43, id)).toBeUndefined();
      const digest = digestOf(42, key);
      expect(decodeDigest(42, digest)).toEqual(key);
    }
    expect(objectIdOf(1, { domain: 1, major: 1, minor: 0 })).not.toBe(objectIdOf(1, { domain: 1, major: 2, minor: 0 }));
    expect(decodeObjectId(1, `0x${'00'.repeat(32)}`)).toBeUndefined();
    expect(decodeDigest(1, 'not base58!')).toBeUndefined();
  });

  it('hashes deterministically', () => {
    expect(hash(1, 2, 3)).toBe(hash(1, 2, 3));
    expect(hash(1, 2, 3)).not.toBe(hash(1, 3, 2));
    expect(hash(1, 2, 3)).toBeGreaterThanOrEqual(0);
  });
});
