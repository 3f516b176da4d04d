import type { GrpcTypes } from '@mysten/sui/grpc';

/**
 * `google.protobuf.FieldMask` read masks over protobuf-ts messages, as a Sui full node applies
 * them: paths are snake_case field names joined by dots (`transactions.effects.changed_objects`),
 * a path through a repeated message field applies to every element, `*` selects every field at
 * its level, and a path naming a field that does not exist is an error.
 */

/** The reflection protobuf-ts keeps for every message type. */
export type MessageInfo = Pick<typeof GrpcTypes.Checkpoint, 'typeName' | 'fields'>;
type FieldInfo = MessageInfo['fields'][number];

/** `true` selects a field whole; a nested tree selects parts of a message field. */
export type MaskTree = Map<string, MaskTree | true>;
const WHOLE = true;

type ParsedMask = { ok: true; tree: MaskTree | true } | { ok: false; error: string };

function messageTypeOf(field: FieldInfo): MessageInfo | undefined {
  return field.kind === 'message' ? (field.T() as MessageInfo) : undefined;
}

/** Parses and validates mask paths against `type`. An empty list selects nothing. */
export function parseFieldMask(type: MessageInfo, paths: readonly string[]): ParsedMask {
  const root: MaskTree = new Map();
  for (const raw of paths.flatMap((path) => path.split(','))) {
    const path = raw.trim();
    if (path === '') continue;
    if (path === '*') return { ok: true, tree: WHOLE };
    let node = root;
    let current: MessageInfo = type;
    const segments = path.split('.');
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      const last = i === segments.length - 1;
      if (segment === '*') {
        if (!last) return { ok: false, error: `invalid read_mask path "${path}": "*" must be the last segment` };
        for (const field of current.fields) node.set(field.name, WHOLE);
        break;
      }
      const field = current.fields.find((candidate) => candidate.name === segment);
      if (!field) return { ok: false, error: `invalid read_mask path "${path}": ${current.typeName} has no field "${segment}"` };
      if (last) {
        node.set(segment, WHOLE);
        break;
      }
      const nested = messageTypeOf(field);
      if (!nested) return { ok: false, error: `invalid read_mask path "${path}": "${segment}" of ${current.typeName} is not a message` };
      const existing = node.get(segment);
      if (existing === WHOLE) break;
      let child = existing;
      if (child === undefined) {
        child = new Map();
        node.set(segment, child);
      }
      node = child;
      current = nested;
    }
  }
  return { ok: true, tree: root };
}

type Blank = { repeated: string[]; oneofs: string[]; maps: string[] };
const blanks = new WeakMap<MessageInfo, Blank>();

/** An empty message of `type` with the containers protobuf-ts expects (arrays, oneof groups). */
function blank(type: MessageInfo): Record<string, unknown> {
  let shape = blanks.get(type);
  if (!shape) {
    shape = { repeated: [], oneofs: [], maps: [] };
    for (const field of type.fields) {
      if (field.oneof) {
        if (!shape.oneofs.includes(field.oneof)) shape.oneofs.push(field.oneof);
      } else if (field.kind === 'map') shape.maps.push(field.localName);
      else if (field.repeat) shape.repeated.push(field.localName);
    }
    blanks.set(type, shape);
  }
  const message: Record<string, unknown> = {};
  for (const name of shape.repeated) message[name] = [];
  for (const name of shape.maps) message[name] = {};
  for (const name of shape.oneofs) message[name] = { oneofKind: undefined };
  return message;
}

function applyTree(type: MessageInfo, message: Record<string, unknown>, tree: MaskTree): Record<string, unknown> {
  const out = blank(type);
  for (const field of type.fields) {
    const selection = tree.get(field.name);
    if (selection === undefined) continue;
    if (field.oneof) {
      const group = message[field.oneof] as { oneofKind?: string } & Record<string, unknown>;
      if (group.oneofKind !== field.localName) continue;
      const value = group[field.localName];
      const nested = messageTypeOf(field);
      out[field.oneof] = {
        oneofKind: field.localName,
        [field.localName]: selection === WHOLE || !nested ? value : applyTree(nested, value as Record<string, unknown>, selection),
      };
      continue;
    }
    const value = message[field.localName];
    if (value === undefined) continue;
    const nested = messageTypeOf(field);
    if (selection === WHOLE || !nested) {
      out[field.localName] = value;
    } else if (field.repeat) {
      out[field.localName] = (value as Record<string, unknown>[]).map((item) => applyTree(nested, item, selection));
    } else {
      out[field.localName] = applyTree(nested, value as Record<string, unknown>, selection);
    }
  }
  return out;
}

/** A new message holding only the selected fields of `message` (which is left untouched). */
export function applyFieldMask<T extends object>(type: MessageInfo, message: T, tree: MaskTree | true): T {
  if (tree === WHOLE) return message;
  return applyTree(type, message as Record<string, unknown>, tree) as T;
}
