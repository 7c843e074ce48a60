// Little-endian reads and writes of the fixed fields in ring record payloads
// (zone records, the session layer's link and export records). Byte by byte
// on a Uint8Array, so they work on any view of shared memory at any offset,
// with no DataView and no allocation.

export function put16(d: Uint8Array, o: number, v: number): void {
  d[o] = v & 0xff;
  d[o + 1] = (v >>> 8) & 0xff;
}

export function put32(d: Uint8Array, o: number, v: number): void {
  d[o] = v & 0xff;
  d[o + 1] = (v >>> 8) & 0xff;
  d[o + 2] = (v >>> 16) & 0xff;
  d[o + 3] = (v >>> 24) & 0xff;
}

export function get16(d: Uint8Array, o: number): number {
  return d[o]! | (d[o + 1]! << 8);
}

/** A signed 32-bit field. */
export function geti32(d: Uint8Array, o: number): number {
  return d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24);
}

/** An unsigned 32-bit field. */
export function get32(d: Uint8Array, o: number): number {
  return geti32(d, o) >>> 0;
}

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

export function putF64(d: Uint8Array, o: number, v: number): void {
  f64[0] = v;
  for (let i = 0; i < 8; i++) d[o + i] = f64b[i]!;
}

export function getF64(d: Uint8Array, o: number): number {
  for (let i = 0; i < 8; i++) f64b[i] = d[o + i]!;
  return f64[0]!;
}
