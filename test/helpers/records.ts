// Self-checking records for ring tests: the payload of record `seq` of a
// stream has a length and bytes derived from (stream, seq), and carries the
// seq and a checksum, so a consumer detects loss, duplication, reordering and
// torn or overlapped payloads without any shared state with the producer.
//
//  payload: [seq u32 LE][checksum u32 LE][filler bytes ...]   (length >= 8)

export function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Payload length of record `seq` of `stream`: 8..8+maxExtra. */
export function recordLength(stream: number, seq: number, maxExtra: number): number {
  return 8 + (mix(seq * 31 + stream) % (maxExtra + 1));
}

function filler(stream: number, seq: number, i: number): number {
  return (seq * 131 + stream * 17 + i * 7) & 0xff;
}

function checksum(stream: number, seq: number, data: Uint8Array, from: number, to: number): number {
  let h = (0x811c9dc5 ^ seq ^ (stream << 20)) >>> 0;
  for (let i = from; i < to; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}

function writeU32(d: Uint8Array, off: number, v: number): void {
  d[off] = v & 0xff;
  d[off + 1] = (v >>> 8) & 0xff;
  d[off + 2] = (v >>> 16) & 0xff;
  d[off + 3] = (v >>> 24) & 0xff;
}

export function readU32(d: Uint8Array, off: number): number {
  return (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24)) >>> 0;
}

/** Writes record `seq` of `stream` (length `len`) at data[off..off+len). */
export function writeRecord(data: Uint8Array, off: number, stream: number, seq: number, len: number): void {
  writeU32(data, off, seq);
  for (let i = 8; i < len; i++) data[off + i] = filler(stream, seq, i);
  writeU32(data, off + 4, checksum(stream, seq, data, off + 8, off + len));
}

/**
 * Verifies a payload as record `seq` of `stream`. Returns null when intact,
 * else what is wrong (allocates only then).
 */
export function checkRecord(data: Uint8Array, off: number, len: number, stream: number, seq: number, maxExtra: number): string | null {
  const want = recordLength(stream, seq, maxExtra);
  const got = readU32(data, off);
  if (got !== seq >>> 0) return `stream ${stream}: expected seq ${seq}, got ${got} (len ${len})`;
  if (len !== want) return `stream ${stream} seq ${seq}: length ${len}, expected ${want}`;
  if (readU32(data, off + 4) !== checksum(stream, seq, data, off + 8, off + len)) return `stream ${stream} seq ${seq}: checksum mismatch (torn record)`;
  for (let i = 8; i < len; i++) {
    if (data[off + i] !== filler(stream, seq, i)) return `stream ${stream} seq ${seq}: byte ${i} is ${data[off + i]}`;
  }
  return null;
}

/** A pattern for model tests: byte i of payload `id`. */
export function patternByte(id: number, i: number): number {
  return (id * 29 + i * 13 + 7) & 0xff;
}
