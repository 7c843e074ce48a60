// Replays MpscProducer's claim protocol by hand and stops inside it, as a
// producer killed at that instruction would: after writing its claim but
// before the CAS, right after the CAS, or after the PAD record of a wrapping
// reservation. The producer id must be attached. Used by the model test and by
// the worker fixture (a real thread terminated at that point).

import type { MpscRing } from '../../src/ring/index.js';
import * as L from '../../src/ring/layout.js';

export type WindowStop = 'before-cas' | 'cas' | 'pad';

export interface WindowClaim {
  start: number;
  end: number;
  /** The reservation wraps with a PAD record (16+ bytes left before the end). */
  padded: boolean;
}

/** Returns the claim, or null when the record is refused (full or oversize; nothing written). */
export function stopInWindow(ring: MpscRing, id: number, length: number, stop: WindowStop): WindowClaim | null {
  const hdr = new Int32Array(ring.buffer, ring.byteOffset, L.mpscHeaderBytes(ring.maxProducers) / 4);
  const i32 = new Int32Array(ring.data.buffer, ring.data.byteOffset, ring.capacity / 4);
  const s = L.producerSlot(id);
  const need = L.recordBytes(length);
  if (need > ring.capacity / 2) return null; // oversize: a producer refuses it before claiming
  const t = Atomics.load(hdr, L.kMpscTail);
  const rem = ring.capacity - (t & (ring.capacity - 1));
  const total = need > rem ? rem + need : need;
  if (((t + total - Atomics.load(hdr, L.kMpscFree)) | 0) > ring.capacity) return null;
  const padded = total !== need && rem >= L.REC_HEADER;
  hdr[s + L.pStart] = t;
  hdr[s + L.pEnd] = (t + total) | 0;
  Atomics.store(hdr, s + L.pClaim, 1);
  if (stop !== 'before-cas') {
    if (Atomics.compareExchange(hdr, L.kMpscTail, t, (t + total) | 0) !== t) throw new Error('tail moved under stopInWindow');
    if (stop === 'pad' && padded) {
      const p = (t & (ring.capacity - 1)) >> 2;
      i32[p + L.wLen] = rem;
      Atomics.store(i32, p + L.wState, L.STATE_PAD);
    }
  }
  return { start: t, end: (t + total) | 0, padded };
}
