// Copying bytes between arrays (ring memory, pool pages, arenas, builders)
// without allocating. Uint8Array.set() needs a subarray view of the source,
// one small object per copy; on the per-message paths that is an allocation
// per message. Large aligned copies go a word at a time through Int32Array
// views made once per ArrayBuffer; the rest byte by byte.

const views = new WeakMap<ArrayBufferLike, Int32Array>();

function words(b: Uint8Array): Int32Array {
  let v = views.get(b.buffer);
  if (v === undefined) {
    v = new Int32Array(b.buffer, 0, b.buffer.byteLength >> 2);
    views.set(b.buffer, v);
  }
  return v;
}

/** Copies src[srcOff, srcOff + len) to dst[dstOff, ...). The ranges must not overlap. */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  const s = src.byteOffset + srcOff;
  const d = dst.byteOffset + dstOff;
  let i = 0;
  if (len >= 64 && ((s | d) & 3) === 0) {
    const a = words(src);
    const b = words(dst);
    const n = len >> 2;
    const sw = s >> 2;
    const dw = d >> 2;
    for (let w = 0; w < n; w++) b[dw + w] = a[sw + w]!;
    i = n << 2;
  }
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
}
