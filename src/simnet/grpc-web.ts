/**
 * gRPC-web framing over HTTP/1.1 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md):
 * a body is a sequence of frames, each one flag byte (0x00 data, 0x80 trailers) and a 4-byte
 * big-endian length; the `-text` content types carry the same bytes base64-encoded.
 */

type WireFormat = 'binary' | 'text';

const DATA_FRAME = 0x00;
const TRAILER_FRAME = 0x80;

const CONTENT_TYPES: Record<string, WireFormat> = {
  'application/grpc-web': 'binary',
  'application/grpc-web+proto': 'binary',
  'application/grpc-web-text': 'text',
  'application/grpc-web-text+proto': 'text',
};

/** The request's wire format and the content type to answer with (the request's own), if gRPC-web. */
export function negotiate(contentType: string | undefined): { format: WireFormat; contentType: string } | undefined {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  if (type === undefined) return undefined;
  const format = CONTENT_TYPES[type];
  return format ? { format, contentType: type } : undefined;
}

/** The message of the single data frame of a unary request body, or an error message. */
export function readUnaryRequest(body: Buffer, format: WireFormat): Uint8Array | string {
  const bytes = format === 'text' ? Buffer.from(body.toString('latin1'), 'base64') : body;
  if (bytes.length < 5) return 'request body is not a gRPC-web frame';
  if (bytes[0] !== DATA_FRAME) return `unexpected gRPC-web frame type 0x${bytes[0].toString(16)}`;
  const length = bytes.readUInt32BE(1);
  if (bytes.length < 5 + length) return `gRPC-web frame announces ${length} bytes but carries ${bytes.length - 5}`;
  return bytes.subarray(5, 5 + length);
}

function frame(type: number, payload: Uint8Array, announcedLength = payload.length): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(announcedLength, 1);
  out.set(payload, 5);
  return out;
}

/** A successful unary response body: the message, then trailers with status 0. */
export function unaryResponseBody(message: Uint8Array, format: WireFormat): Buffer {
  const bytes = Buffer.concat([frame(DATA_FRAME, message), frame(TRAILER_FRAME, Buffer.from('grpc-status:0\r\ngrpc-message:\r\n', 'latin1'))]);
  return format === 'text' ? Buffer.from(bytes.toString('base64'), 'latin1') : bytes;
}

/** A body cut short: a data frame announcing the whole message but carrying only part of it. */
export function truncatedResponseBody(message: Uint8Array, format: WireFormat): Buffer {
  const kept = message.subarray(0, Math.floor(message.length / 2));
  const bytes = frame(DATA_FRAME, kept, message.length + 1);
  return format === 'text' ? Buffer.from(bytes.toString('base64'), 'latin1') : bytes;
}

/** Percent-encodes a status message as gRPC requires (bytes outside printable ASCII, and `%`). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A `grpc-timeout` header value (e.g. `1500m`) in milliseconds. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const match = value?.match(/^(\d{1,8})([HMSmun])$/);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return amount * unitMs[match[2]];
}
