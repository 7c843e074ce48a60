// UTF-8 helpers that work on any Uint8Array, including views of a
// SharedArrayBuffer: browsers' TextDecoder refuses shared views (Node accepts
// them today, but the zone workers and the SDK must not depend on that).
// Browser-safe: no node: imports.

/**
 * Whether b[start, end) is well-formed UTF-8 (RFC 3629): no overlong forms,
 * no surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no truncated
 * sequence, no stray continuation byte. O(n), allocates nothing.
 */
export function isValidUtf8(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c < 0xc2) return false; // a continuation byte, or an overlong 2-byte lead (C0, C1)
    if (c < 0xe0) {
      if (i + 1 >= end || (b[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (c < 0xf0) {
      if (i + 2 >= end) return false;
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80) return false;
      if (c === 0xe0 && c1 < 0xa0) return false; // overlong
      if (c === 0xed && c1 >= 0xa0) return false; // UTF-16 surrogate
      i += 3;
      continue;
    }
    if (c < 0xf5) {
      if (i + 3 >= end) return false;
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80 || (b[i + 3]! & 0xc0) !== 0x80) return false;
      if (c === 0xf0 && c1 < 0x90) return false; // overlong
      if (c === 0xf4 && c1 >= 0x90) return false; // above U+10FFFF
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}

/** Bytes `s` takes in UTF-8 (a lone surrogate counts 3, as TextEncoder writes U+FFFD). Allocates nothing. */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

// Strings up to SCRATCH_VIEWS bytes are copied into a private, non-shared
// scratch array and decoded through a cached view of exactly that length, so
// decoding allocates nothing but the resulting string once each length has
// been seen. Longer strings allocate one view (and, when shared, a copy).
const SCRATCH_VIEWS = 1024;
const scratch = new Uint8Array(SCRATCH_VIEWS);
const views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SCRATCH_VIEWS + 1);
const Shared: (new (n: number) => ArrayBufferLike) | undefined = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;

/**
 * Decodes b[start, end) as UTF-8 (invalid sequences become U+FFFD; verified
 * strings have none). Works on views of SharedArrayBuffer. For strings up to
 * 1024 bytes, allocates only the returned string.
 */
export function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n <= SCRATCH_VIEWS) {
    for (let i = start; i < end; i++) scratch[i - start] = b[i]!;
    const v = views[n] ?? (views[n] = scratch.subarray(0, n));
    return decoder.decode(v);
  }
  if (Shared !== undefined && b.buffer instanceof Shared) return decoder.decode(b.slice(start, end));
  return decoder.decode(b.subarray(start, end));
}

const encoder = new TextEncoder();

/** Encodes `s` as UTF-8 into a new Uint8Array. Allocates (cold paths, caches). */
export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}
