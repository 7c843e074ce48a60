// Reading verified buffers with the generated accessors without allocating per
// message. Call these only on bytes a verify*() function accepted.

import { ByteBuffer } from 'flatbuffers';
import { FIELD_NAMES, FIELD_STRIDE, FIELDS } from './generated/layout.js';
import { decodeUtf8 } from './utf8.js';

interface ByteBufferInternals {
  bytes_: Uint8Array;
  position_: number;
}

/**
 * Points a reusable ByteBuffer at `bytes`, root at `position`, without
 * allocating (new ByteBuffer() also constructs a TextDecoder). Relies on the
 * pinned flatbuffers runtime (25.9.23) keeping its state in `bytes_` and
 * `position_`; test/protocol/roundtrip.test.ts checks it.
 */
export function rebindByteBuffer(bb: ByteBuffer, bytes: Uint8Array, position = 0): ByteBuffer {
  const i = bb as unknown as ByteBufferInternals;
  i.bytes_ = bytes;
  i.position_ = position;
  return bb;
}

/**
 * The bytes of a binary WebSocket message as it is delivered: a Buffer (ws
 * with binaryType 'nodebuffer', used as is) or an ArrayBuffer (browsers,
 * 'arraybuffer'). null for anything else: a text frame.
 */
export function binaryMessageBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return null;
}

/** A ByteBuffer to reuse with rebindByteBuffer(). Allocates (once per reader). */
export function reusableByteBuffer(): ByteBuffer {
  return new ByteBuffer(new Uint8Array(0));
}

/** The vtable slot of field 'Table.field' (4 + 2 * id). Throws on an unknown name. Cold path. */
export function fieldSlot(name: string): number {
  const f = FIELD_NAMES.indexOf(name);
  if (f < 0) throw Object.assign(new Error(`no field ${name} in the protocol layout`), { code: 'MMO_ERR_PROTOCOL_FIELD' });
  return FIELDS[f * FIELD_STRIDE]!;
}

/** Any generated table object (Chat, Hello, EntityEnter...). */
export interface TableView {
  bb: ByteBuffer | null;
  bb_pos: number;
}

/**
 * The string field at vtable `slot` of a table, or null when absent. Unlike
 * the generated accessor it works on views of a SharedArrayBuffer in browsers
 * too, and allocates only the string (up to 1 KiB; see decodeUtf8).
 */
export function stringField(t: TableView, slot: number): string | null {
  const bb = t.bb!;
  const o = bb.__offset(t.bb_pos, slot);
  if (o === 0) return null;
  let p = t.bb_pos + o;
  p += bb.readInt32(p);
  const len = bb.readInt32(p);
  return decodeUtf8(bb.bytes(), p + 4, p + 4 + len);
}
