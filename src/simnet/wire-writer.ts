import type { GrpcTypes } from '@mysten/sui/grpc';

/**
 * A protobuf binary writer for protobuf-ts's `writerFactory` option. The default writer keeps
 * bytes in JS arrays and copies every nested message into its parent through fresh chunks; a
 * checkpoint is thousands of nested messages, so that dominated serving time. This one writes
 * into one growing buffer and, on `join`, moves the nested bytes right by the size of their
 * length prefix (a native memmove). Output is byte-for-byte what the default writer produces.
 */

type WriteOptions = NonNullable<Parameters<typeof GrpcTypes.Checkpoint.toBinary>[1]>;
type BinaryWriter = ReturnType<NonNullable<WriteOptions['writerFactory']>>;

const encoder = new TextEncoder();

function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

function toBigInt(value: string | number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

function createWireWriter(initialSize: number): { writer: BinaryWriter; reset: () => void } {
  let buf = new Uint8Array(initialSize);
  let view = new DataView(buf.buffer);
  let pos = 0;
  const forks: number[] = [];

  const ensure = (extra: number) => {
    if (pos + extra <= buf.length) return;
    let size = buf.length * 2;
    while (size < pos + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(buf.subarray(0, pos));
    buf = grown;
    view = new DataView(buf.buffer);
  };

  /** Unsigned varint of a non-negative integer below 2^53. */
  const varintNumber = (value: number) => {
    ensure(10);
    while (value >= 0x80) {
      buf[pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[pos++] = value;
  };

  /** Unsigned varint of a 64-bit two's complement value. */
  const varintBig = (value: bigint) => {
    const unsigned = BigInt.asUintN(64, value);
    if (unsigned <= BigInt(Number.MAX_SAFE_INTEGER)) return varintNumber(Number(unsigned));
    let lo = Number(unsigned & 0xffffffffn);
    let hi = Number(unsigned >> 32n);
    ensure(10);
    while (hi > 0 || lo >= 0x80) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi = hi >>> 7;
    }
    buf[pos++] = lo;
  };

  const writer: BinaryWriter = {
    finish() {
      const out = buf.slice(0, pos);
      pos = 0;
      forks.length = 0;
      return out;
    },
    fork() {
      forks.push(pos);
      return writer;
    },
    join() {
      const start = forks.pop();
      if (start === undefined) throw new Error('invalid state, fork stack empty');
      const length = pos - start;
      const prefix = varintSize(length);
      ensure(prefix);
      buf.copyWithin(start + prefix, start, pos);
      let at = start;
      let value = length;
      while (value >= 0x80) {
        buf[at++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
      buf[at] = value;
      pos += prefix;
      return writer;
    },
    tag(fieldNo, type) {
      varintNumber(((fieldNo << 3) | type) >>> 0);
      return writer;
    },
    raw(chunk) {
      ensure(chunk.length);
      buf.set(chunk, pos);
      pos += chunk.length;
      return writer;
    },
    uint32(value) {
      varintNumber(value >>> 0);
      return writer;
    },
    int32(value) {
      // Negative int32 values are sign-extended to ten bytes, as protobuf requires.
      if (value >= 0) varintNumber(value);
      else varintBig(BigInt(value));
      return writer;
    },
    sint32(value) {
      varintNumber(((value << 1) ^ (value >> 31)) >>> 0);
      return writer;
    },
    int64(value) {
      if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) varintNumber(value);
      else varintBig(toBigInt(value));
      return writer;
    },
    uint64(value) {
      if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) varintNumber(Number(value));
      else if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) varintNumber(value);
      else varintBig(toBigInt(value));
      return writer;
    },
    sint64(value) {
      const big = BigInt.asIntN(64, toBigInt(value));
      varintBig((big << 1n) ^ (big >> 63n));
      return writer;
    },
    fixed64(value) {
      ensure(8);
      view.setBigUint64(pos, BigInt.asUintN(64, toBigInt(value)), true);
      pos += 8;
      return writer;
    },
    sfixed64(value) {
      ensure(8);
      view.setBigInt64(pos, BigInt.asIntN(64, toBigInt(value)), true);
      pos += 8;
      return writer;
    },
    bool(value) {
      ensure(1);
      buf[pos++] = value ? 1 : 0;
      return writer;
    },
    fixed32(value) {
      ensure(4);
      view.setUint32(pos, value, true);
      pos += 4;
      return writer;
    },
    sfixed32(value) {
      ensure(4);
      view.setInt32(pos, value, true);
      pos += 4;
      return writer;
    },
    float(value) {
      ensure(4);
      view.setFloat32(pos, value, true);
      pos += 4;
      return writer;
    },
    double(value) {
      ensure(8);
      view.setFloat64(pos, value, true);
      pos += 8;
      return writer;
    },
    bytes(value) {
      varintNumber(value.length);
      return writer.raw(value);
    },
    string(value) {
      // Encode in place after a prefix sized for the UTF-16 length (exact for ASCII), then fix
      // the prefix if the UTF-8 length needs a different number of bytes.
      const guess = varintSize(value.length);
      ensure(guess + 1 + value.length * 3);
      const { written } = encoder.encodeInto(value, buf.subarray(pos + guess));
      const prefix = varintSize(written);
      if (prefix !== guess) buf.copyWithin(pos + prefix, pos + guess, pos + guess + written);
      let length = written;
      while (length >= 0x80) {
        buf[pos++] = (length & 0x7f) | 0x80;
        length >>>= 7;
      }
      buf[pos++] = length;
      pos += written;
      return writer;
    },
  };
  const reset = () => {
    pos = 0;
    forks.length = 0;
  };
  return { writer, reset };
}

/** Write options for `toBinary` that encode with one reused buffer (encoding is synchronous). */
export function fastWriteOptions(initialSize = 256 * 1024): WriteOptions {
  const { writer, reset } = createWireWriter(initialSize);
  return {
    writerFactory: () => {
      reset();
      return writer;
    },
  };
}
