import { describe, expect, it } from 'vitest';
import { InvalidRequestError, InvalidTypeError } from './errors.ts';
import { createFamilyMatcher, normalizeObjectId, normalizeObjectType, outerStruct, parseTypeTag, structAddresses } from './types.ts';

const long = (hex: string) => `0x${hex.padStart(64, '0')}`;
const SUI = long('2');
const DEEPBOOK = long('dee9');
const WORMHOLE_USDC = '0x5d4b302506645c37ff133b98c4b50a5ae14841659738d6d733d59d0d217a93bf';
const PYTH = '0x8d97f1cd6ac663735be08d1d2b6d02a159e711586461306ce60a2b7a6a565a9e';

// Real mainnet object types (checkpoint 20958462 and the system packages).
const TICK_LEAF = '0x2::dynamic_field::Field<u64, 0xdee9::critbit::Leaf<0xdee9::clob_v2::TickLevel>>';
const POOL = `0xdee9::clob_v2::Pool<0x2::sui::SUI, ${WORMHOLE_USDC}::coin::COIN>`;
const SUI_COIN = '0x2::coin::Coin<0x2::sui::SUI>';
const USDC_COIN = `0x2::coin::Coin<${WORMHOLE_USDC}::coin::COIN>`;
const PRICE_INFO = `${PYTH}::price_info::PriceInfoObject`;
const EXCHANGE_RATE = '0x2::dynamic_field::Field<u64, 0x3::staking_pool::PoolTokenExchangeRate>';

describe('normalizeObjectType', () => {
  it('writes every address long and drops the spaces after commas', () => {
    expect(normalizeObjectType(TICK_LEAF)).toBe(`${SUI}::dynamic_field::Field<u64,${DEEPBOOK}::critbit::Leaf<${DEEPBOOK}::clob_v2::TickLevel>>`);
    expect(normalizeObjectType(POOL)).toBe(`${DEEPBOOK}::clob_v2::Pool<${SUI}::sui::SUI,${WORMHOLE_USDC}::coin::COIN>`);
    expect(normalizeObjectType(PRICE_INFO)).toBe(PRICE_INFO);
  });

  it('is idempotent and maps short and long spellings to the same string', () => {
    const normalized = normalizeObjectType(POOL);
    expect(normalizeObjectType(normalized)).toBe(normalized);
    expect(normalizeObjectType(`${DEEPBOOK}::clob_v2::Pool<${SUI}::sui::SUI,${WORMHOLE_USDC}::coin::COIN>`)).toBe(normalized);
    expect(normalizeObjectType('0X2::coin::Coin<0x2::sui::SUI>')).toBe(normalizeObjectType(SUI_COIN));
  });

  it('normalizes structs inside vectors, at any depth', () => {
    expect(normalizeObjectType('0x2::table::Table<vector<u8>, vector<vector<0x2::sui::SUI>>>')).toBe(
      `${SUI}::table::Table<vector<u8>,vector<vector<${SUI}::sui::SUI>>>`,
    );
  });

  it('keeps `package` and rejects primitives, placeholders, named packages and garbage', () => {
    expect(normalizeObjectType('package')).toBe('package');
    for (const bad of ['u64', 'vector<u8>', '0x2::coin::Coin<T>', '0x2::coin::Coin<>', '@mysten/sui::coin::Coin', '0xzz::a::B', '0x2::a', '0x2::a::B<u8', '0x2::a::B::C', '']) {
      expect(() => normalizeObjectType(bad), bad).toThrow(InvalidTypeError);
    }
  });
});

describe('parseTypeTag', () => {
  it('parses primitives, vectors and nested structs', () => {
    expect(parseTypeTag('u64')).toEqual({ kind: 'primitive', name: 'u64' });
    expect(parseTypeTag('vector<address>')).toEqual({ kind: 'vector', element: { kind: 'primitive', name: 'address' } });
    expect(parseTypeTag(SUI_COIN)).toEqual({
      kind: 'struct',
      address: SUI,
      module: 'coin',
      name: 'Coin',
      typeParams: [{ kind: 'struct', address: SUI, module: 'sui', name: 'SUI', typeParams: [] }],
    });
  });
});

describe('outerStruct', () => {
  it('names the defining package, module and struct of the outer type', () => {
    expect(outerStruct(TICK_LEAF)).toEqual({ address: SUI, module: 'dynamic_field', name: 'Field' });
    expect(outerStruct(POOL)).toEqual({ address: DEEPBOOK, module: 'clob_v2', name: 'Pool' });
    expect(outerStruct(PRICE_INFO)).toEqual({ address: PYTH, module: 'price_info', name: 'PriceInfoObject' });
  });

  it('rejects what is not a struct', () => {
    expect(() => outerStruct('u64')).toThrow(InvalidTypeError);
    expect(() => outerStruct('package')).toThrow(InvalidTypeError);
  });
});

describe('structAddresses', () => {
  it('lists every defining address once, outer first, including inside vectors', () => {
    expect(structAddresses(TICK_LEAF)).toEqual([SUI, DEEPBOOK]);
    expect(structAddresses(POOL)).toEqual([DEEPBOOK, SUI, WORMHOLE_USDC]);
    expect(structAddresses(`0x2::dynamic_field::Field<vector<u8>, vector<${PYTH}::price_info::PriceInfo>>`)).toEqual([SUI, PYTH]);
    expect(structAddresses(EXCHANGE_RATE)).toEqual([SUI, long('3')]);
  });

  it('is empty for packages and primitives', () => {
    expect(structAddresses('package')).toEqual([]);
    expect(structAddresses('u64')).toEqual([]);
    expect(structAddresses('vector<u8>')).toEqual([]);
  });
});

describe('createFamilyMatcher', () => {
  it('outer: only types whose outer struct the family defines', () => {
    const deepbook = createFamilyMatcher(['0xdee9'], 'outer');
    expect(deepbook(normalizeObjectType(POOL))).toBe(true);
    expect(deepbook(POOL)).toBe(true);
    expect(deepbook(normalizeObjectType(TICK_LEAF))).toBe(false);
    expect(deepbook(SUI_COIN)).toBe(false);
    expect(deepbook('package')).toBe(false);
  });

  it('anywhere: types that mention the family at any depth', () => {
    const deepbook = createFamilyMatcher([DEEPBOOK], 'anywhere');
    expect(deepbook(normalizeObjectType(TICK_LEAF))).toBe(true);
    expect(deepbook(POOL)).toBe(true);
    expect(deepbook(SUI_COIN)).toBe(false);
    expect(deepbook(EXCHANGE_RATE)).toBe(false);
    expect(deepbook('package')).toBe(false);

    const usdc = createFamilyMatcher([WORMHOLE_USDC], 'anywhere');
    expect(usdc(USDC_COIN)).toBe(true);
    expect(usdc(POOL)).toBe(true);
    expect(createFamilyMatcher([WORMHOLE_USDC], 'outer')(USDC_COIN)).toBe(false);
  });

  it('matches any ID of a family: types keep the ID of the version that defined them', () => {
    const upgraded = long('beef');
    const family = createFamilyMatcher([long('abc'), upgraded], 'outer');
    expect(family('0xabc::book::Order')).toBe(true);
    expect(family('0xbeef::book::Fill')).toBe(true);
    expect(family('0xabcd::book::Order')).toBe(false);
  });

  it('gives the same answer from its memo as on first sight, for many distinct types', () => {
    const matcher = createFamilyMatcher(['0xdee9'], 'anywhere');
    const types = Array.from({ length: 2_000 }, (_, i) => (i % 2 === 0 ? `0x2::dynamic_field::Field<u64, 0xdee9::m::S${i}>` : `0x2::dynamic_field::Field<u64, 0xd${i}::m::S>`));
    const first = types.map(matcher);
    expect(types.map(matcher)).toEqual(first);
    expect(first.filter(Boolean).length).toBe(1_000);
  });

  it('rejects an ID that is not an address', () => {
    expect(() => createFamilyMatcher(['dee9::x'], 'outer')).toThrow(InvalidRequestError);
  });
});

describe('normalizeObjectId', () => {
  it('accepts short and long hex and rejects the rest', () => {
    expect(normalizeObjectId('0x2')).toBe(SUI);
    expect(normalizeObjectId('0xDEE9')).toBe(DEEPBOOK);
    expect(normalizeObjectId(PYTH)).toBe(PYTH);
    expect(normalizeObjectId(PYTH.slice(2))).toBe(PYTH);
    for (const bad of ['', '0x', 'xyz', '0x2::coin', `${PYTH}00`, ' 0x2']) expect(normalizeObjectId(bad), bad).toBeUndefined();
  });
});
