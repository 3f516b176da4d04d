import { isValidSuiAddress, normalizeStructTag, normalizeSuiAddress, parseStructTag } from '@mysten/sui/utils';
import { InvalidRequestError, InvalidTypeError } from './errors.ts';
import type { MatchMode } from './records.ts';

/** What a node reports as the type of a package object. */
export const PACKAGE_TYPE = 'package';

type StructRef = { address: string; module: string; name: string };

type TypeTag =
  | { kind: 'primitive'; name: string }
  | { kind: 'vector'; element: TypeTag }
  | { kind: 'struct'; address: string; module: string; name: string; typeParams: TypeTag[] };

type ParsedStructTag = ReturnType<typeof parseStructTag>;

const PRIMITIVES = new Set(['bool', 'u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'address', 'signer']);
const IDENTIFIER = /^(?:[A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9_]+)$/;
const HEX_ID = /^(?:0[xX])?[0-9a-fA-F]{1,64}$/;

/** Normalizes an address or object ID (`0x2` → 0x + 64 hex); undefined when it is not one. */
const CANONICAL_ID = /^0x[0-9a-f]{64}$/;

export function normalizeObjectId(id: string): string | undefined {
  // Nodes send canonical IDs; checking that first keeps the hot decode path cheap.
  if (CANONICAL_ID.test(id)) return id;
  if (!HEX_ID.test(id)) return undefined;
  const normalized = normalizeSuiAddress(id);
  return isValidSuiAddress(normalized) ? normalized : undefined;
}

/** Parses any Move type tag, normalizing every address. Throws `InvalidTypeError`. */
export function parseTypeTag(type: string): TypeTag {
  return parseTag(type, type);
}

function parseTag(part: string, root: string): TypeTag {
  const trimmed = part.trim();
  if (PRIMITIVES.has(trimmed)) return { kind: 'primitive', name: trimmed };
  if (trimmed.startsWith('vector<')) {
    if (!trimmed.endsWith('>')) throw new InvalidTypeError(root, `unbalanced ${JSON.stringify(trimmed)}`);
    return { kind: 'vector', element: parseTag(trimmed.slice('vector<'.length, -1), root) };
  }
  if (!trimmed.includes('::')) throw new InvalidTypeError(root, `${JSON.stringify(trimmed)} is neither a primitive, a vector nor a struct`);
  let parsed: ParsedStructTag;
  try {
    parsed = parseStructTag(trimmed);
  } catch (error) {
    throw new InvalidTypeError(root, error instanceof Error ? error.message : String(error));
  }
  return fromParsedStruct(parsed, root);
}

/** parseStructTag leaves primitives and vectors as strings; turn them into tags too, validating as we go. */
function fromParsedStruct(parsed: ParsedStructTag, root: string): TypeTag {
  if (!isValidSuiAddress(parsed.address)) throw new InvalidTypeError(root, `bad address ${JSON.stringify(parsed.address)}`);
  if (!IDENTIFIER.test(parsed.module)) throw new InvalidTypeError(root, `bad module name ${JSON.stringify(parsed.module)}`);
  if (!IDENTIFIER.test(parsed.name)) throw new InvalidTypeError(root, `bad struct name ${JSON.stringify(parsed.name)}`);
  return {
    kind: 'struct',
    address: parsed.address,
    module: parsed.module,
    name: parsed.name,
    typeParams: parsed.typeParams.map((param) => (typeof param === 'string' ? parseTag(param, root) : fromParsedStruct(param, root))),
  };
}

function formatTypeTag(tag: TypeTag): string {
  switch (tag.kind) {
    case 'primitive':
      return tag.name;
    case 'vector':
      return `vector<${formatTypeTag(tag.element)}>`;
    case 'struct':
      return normalizeStructTag(toParsedStruct(tag));
  }
}

function toParsedStruct(tag: Extract<TypeTag, { kind: 'struct' }>): ParsedStructTag {
  return {
    address: tag.address,
    module: tag.module,
    name: tag.name,
    typeParams: tag.typeParams.map((param) => (param.kind === 'struct' ? toParsedStruct(param) : formatTypeTag(param))),
  };
}

/**
 * A map that forgets its oldest entries past `limit`: the same few thousand types repeat millions of
 * times, but a stream of unique types must not grow memory without bound.
 */
function createBoundedCache<V>(limit: number) {
  const entries = new Map<string, V>();
  return {
    get: (key: string) => entries.get(key),
    set(key: string, value: V) {
      if (entries.size >= limit) entries.delete(entries.keys().next().value as string);
      entries.set(key, value);
    },
  };
}

const CACHE_LIMIT = 50_000;
const normalizedObjectTypes = createBoundedCache<string>(CACHE_LIMIT);

/**
 * Normalizes the type of an object: a struct tag (addresses 0x + 64 hex, no spaces) or `package`.
 * Throws `InvalidTypeError` for anything else.
 */
export function normalizeObjectType(type: string): string {
  const cached = normalizedObjectTypes.get(type);
  if (cached !== undefined) return cached;
  let normalized: string;
  if (type === PACKAGE_TYPE) {
    normalized = PACKAGE_TYPE;
  } else {
    const tag = parseTypeTag(type);
    if (tag.kind !== 'struct') throw new InvalidTypeError(type, 'an object type must be a struct');
    normalized = formatTypeTag(tag);
  }
  normalizedObjectTypes.set(type, normalized);
  return normalized;
}

/** The outer struct of a type: for `0x2::coin::Coin<0xP::t::T>`, `0x2`'s `coin::Coin`. */
export function outerStruct(type: string): StructRef {
  const tag = parseTypeTag(type);
  if (tag.kind !== 'struct') throw new InvalidTypeError(type, 'not a struct type');
  return { address: tag.address, module: tag.module, name: tag.name };
}

/** Every defining address in the type, at any depth (type arguments, vectors), first appearance first. */
export function structAddresses(type: string): string[] {
  if (type === PACKAGE_TYPE) return [];
  const found = new Set<string>();
  const visit = (tag: TypeTag): void => {
    if (tag.kind === 'vector') visit(tag.element);
    else if (tag.kind === 'struct') {
      found.add(tag.address);
      tag.typeParams.forEach(visit);
    }
  };
  visit(parseTypeTag(type));
  return [...found];
}

/**
 * A predicate telling whether an object type belongs to a package family: `outer` when the outer
 * struct is defined by a family ID, `anywhere` when any struct in the type is. Packages never match.
 * Results are memoized per type string.
 */
export function createFamilyMatcher(familyIds: string[], mode: MatchMode): (type: string) => boolean {
  const family = new Set(
    familyIds.map((id) => {
      const normalized = normalizeObjectId(id);
      if (normalized === undefined) throw new InvalidRequestError(`${JSON.stringify(id)} is not a package ID`);
      return normalized;
    }),
  );
  const cache = createBoundedCache<boolean>(CACHE_LIMIT);
  const compute = (type: string): boolean => {
    if (type === PACKAGE_TYPE) return false;
    if (mode === 'outer') return family.has(outerStruct(type).address);
    return structAddresses(type).some((address) => family.has(address));
  };
  return (type) => {
    const cached = cache.get(type);
    if (cached !== undefined) return cached;
    const result = compute(type);
    cache.set(type, result);
    return result;
  };
}
