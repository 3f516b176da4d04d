import { normalizeSuiAddress } from '@mysten/sui/utils';

/**
 * Move types as the generator builds them: structured, so which package addresses a type contains
 * is known by construction rather than parsed back out of its string. The string form is the
 * normalized struct tag (long addresses, no spaces), as a full node writes `object_type`.
 */

type TypeArg = 'u8' | 'u64' | 'u128' | 'bool' | 'address' | StructType | { vector: TypeArg };

type StructType = {
  address: string;
  module: string;
  name: string;
  params: TypeArg[];
};

export function struct(address: string, module: string, name: string, ...params: TypeArg[]): StructType {
  return { address: normalizeSuiAddress(address), module, name, params };
}

export function vector(of: TypeArg): { vector: TypeArg } {
  return { vector: of };
}

function argString(arg: TypeArg): string {
  if (typeof arg === 'string') return arg;
  if ('vector' in arg) return `vector<${argString(arg.vector)}>`;
  return structString(arg);
}

export function structString(type: StructType): string {
  const head = `${type.address}::${type.module}::${type.name}`;
  return type.params.length === 0 ? head : `${head}<${type.params.map(argString).join(',')}>`;
}

function collectAddresses(arg: TypeArg, into: Set<string>): void {
  if (typeof arg === 'string') return;
  if ('vector' in arg) return collectAddresses(arg.vector, into);
  into.add(arg.address);
  for (const param of arg.params) collectAddresses(param, into);
}

/** A registered object type: its tag and every address defining a struct anywhere inside it. */
type TypeInfo = {
  readonly id: number;
  readonly tag: string;
  readonly address: string;
  readonly module: string;
  readonly name: string;
  /** Defining addresses of the outer struct and of every struct in its type arguments, at any depth. */
  readonly addresses: ReadonlySet<string>;
};

export type TypeTable = {
  add(type: StructType): number;
  get(id: number): TypeInfo;
  readonly size: number;
};

export function createTypeTable(): TypeTable {
  const infos: TypeInfo[] = [];
  const byTag = new Map<string, number>();
  return {
    add(type) {
      const tag = structString(type);
      const known = byTag.get(tag);
      if (known !== undefined) return known;
      const addresses = new Set<string>();
      collectAddresses(type, addresses);
      const id = infos.length;
      infos.push({ id, tag, address: type.address, module: type.module, name: type.name, addresses });
      byTag.set(tag, id);
      return id;
    },
    get(id) {
      return infos[id];
    },
    get size() {
      return infos.length;
    },
  };
}

export const SUI: StructType = struct('0x2', 'sui', 'SUI');

export function coinOf(of: TypeArg): StructType {
  return struct('0x2', 'coin', 'Coin', of);
}

export function dynamicField(name: TypeArg, value: TypeArg): StructType {
  return struct('0x2', 'dynamic_field', 'Field', name, value);
}

/** The object an address balance lives in (written through accumulator writes). */
export function accumulatorField(coinType: TypeArg): StructType {
  return dynamicField(struct('0x2', 'accumulator', 'Key', struct('0x2', 'balance', 'Balance', coinType)), struct('0x2', 'accumulator', 'U128'));
}
