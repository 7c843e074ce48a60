// Mutation fuzzing of the verifier: 1,000,000 inputs derived from valid
// messages by byte flips, bit flips, truncation, extension, inflated vector
// and string lengths, random union tags, hostile offsets and vtable entries.
// Each input is either rejected, or accepted and then decoded field by field
// through a ByteBuffer that throws on any read outside the message. No
// exception may escape the verifier, and no input may take over 1 ms.
//
// fast-check drives the runs (seed, base message, mutation plan); inside a
// run a xorshift generator seeded by fast-check makes the mutations, which
// keeps a million inputs well inside the time budget of this machine.
//
// Timing: an input measured over 1 ms is re-measured 5 times and judged by
// its fastest run, so a preemption of this shared 2-core machine is not
// mistaken for slowness; genuinely slow input is slow every time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { FrameWriter } from '../../src/protocol/frame.js';
import { FIELD_STRIDE, FIELDS, Kind, Table, TABLE_FIELDS, UNION_MEMBERS } from '../../src/protocol/generated/layout.js';
import { clientVerifyLimits, serverVerifyLimits, verifyClientMessage, verifyServerFrame, type VerifyLimits } from '../../src/protocol/verify.js';
import { describeVerifyError } from '../../src/protocol/codes.js';
import { CheckedByteBuffer, buildClient, buildServer, clientSpecArb, decodeClient, decodeFrame, serverBuilders, serverSpecArb } from '../helpers/protocol.js';

const CLIENT_INPUTS = 1_000_000;
const FRAME_INPUTS = 250_000;
const PER_RUN = 1000;

function i32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

/** Positions worth attacking in a valid buffer, found by walking it with the layout. */
interface Targets {
  lengths: number[]; // vector/string length words
  tags: number[]; // union type bytes
  offsets: number[]; // uoffset fields and vector elements
  vtable: number[]; // vtable words (sizes and entries)
}

function targets(b: Uint8Array, rootTable: number): Targets {
  const t: Targets = { lengths: [], tags: [], offsets: [], vtable: [] };
  const walk = (table: number, pos: number): void => {
    const vt = pos - i32(b, pos);
    const vsize = b[vt]! | (b[vt + 1]! << 8);
    t.vtable.push(vt, vt + 2);
    let utype = 0;
    for (let f = TABLE_FIELDS[table]!; f < TABLE_FIELDS[table + 1]!; f++) {
      const row = f * FIELD_STRIDE;
      const slot = FIELDS[row]!;
      const kind = FIELDS[row + 1]!;
      const ref = FIELDS[row + 4]!;
      if (slot >= vsize) continue;
      t.vtable.push(vt + slot);
      const off = b[vt + slot]! | (b[vt + slot + 1]! << 8);
      if (!off) continue;
      const p = pos + off;
      if (kind === Kind.UnionType) {
        utype = b[p]!;
        t.tags.push(p);
      } else if (kind === Kind.Union) {
        t.offsets.push(p);
        walk(UNION_MEMBERS[ref]![utype]!, p + i32(b, p));
      } else if (kind === Kind.Table) {
        t.offsets.push(p);
        walk(ref, p + i32(b, p));
      } else if (kind >= Kind.String && kind !== Kind.Struct) {
        t.offsets.push(p);
        const v = p + i32(b, p);
        t.lengths.push(v);
        if (kind === Kind.VectorTable || kind === Kind.VectorString) {
          const n = i32(b, v);
          for (let i = 0; i < n; i++) {
            const q = v + 4 + 4 * i;
            t.offsets.push(q);
            if (kind === Kind.VectorTable) walk(ref, q + i32(b, q));
            else t.lengths.push(q + i32(b, q));
          }
        }
      }
    }
  };
  walk(rootTable, i32(b, 0));
  return t;
}

interface Base {
  bytes: Uint8Array;
  targets: Targets;
}

const SPECIAL32 = [0, 1, 3, 4, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffc, 0x40000000, 0x10000, 0xffff];
const SPECIAL16 = [0, 1, 2, 3, 4, 5, 0x7fff, 0x8000, 0xffff, 0xfffe, 0x100];

/** xorshift32: cheap, seeded by fast-check. */
class Rng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  below(n: number): number {
    return this.next() % n;
  }
  pick(a: readonly number[]): number {
    return a[this.below(a.length)]!;
  }
}

function w32(b: Uint8Array, p: number, v: number): void {
  if (p < 0 || p + 4 > b.length) return;
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

/**
 * Writes one mutation of `base` into `out` (capacity base + 64) and returns
 * the input's length. `kind` selects the mutation; 9 combines two.
 */
function mutate(rng: Rng, base: Base, out: Uint8Array, kind: number): number {
  const src = base.bytes;
  let len = src.length;
  out.set(src);
  const t = base.targets;
  const once = (k: number): void => {
    switch (k) {
      case 0: // random bytes
        for (let i = 1 + rng.below(4); i > 0; i--) out[rng.below(len)] = rng.below(256);
        break;
      case 1: // one bit
        out[rng.below(len)]! ^= 1 << rng.below(8);
        break;
      case 2: // truncation
        len = rng.below(len);
        break;
      case 3: {
        // extension with random bytes
        const extra = 1 + rng.below(64);
        for (let i = 0; i < extra; i++) out[len + i] = rng.below(256);
        len += extra;
        break;
      }
      case 4: {
        // inflated vector / string length
        if (t.lengths.length === 0) return once(0);
        const p = rng.pick(t.lengths);
        const cur = i32(out, p) >>> 0;
        const v = rng.below(3) === 0 ? rng.pick(SPECIAL32) : rng.below(2) ? cur + 1 + rng.below(64) : rng.next();
        w32(out, p, v);
        break;
      }
      case 5: // random union tag
        if (t.tags.length === 0) return once(0);
        out[rng.pick(t.tags)] = rng.below(256);
        break;
      case 6: {
        // hostile offset
        if (t.offsets.length === 0) return once(0);
        const p = rng.pick(t.offsets);
        w32(out, p, rng.below(2) ? rng.pick(SPECIAL32) : (i32(out, p) + (rng.below(33) - 16)) >>> 0);
        break;
      }
      case 7: {
        // hostile vtable word
        const p = rng.pick(t.vtable);
        const v = rng.pick(SPECIAL16);
        out[p] = v;
        out[p + 1] = v >>> 8;
        break;
      }
      default: // random 4-aligned word, e.g. the root offset or a soffset
        w32(out, rng.below(len >> 2) << 2, rng.below(2) ? rng.pick(SPECIAL32) : rng.next());
    }
  };
  if (kind === 9) {
    once(rng.below(9));
    once(rng.below(9));
  } else once(kind);
  return len;
}

interface Stats {
  inputs: number;
  accepted: number;
  maxMs: number;
  maxRetestedMs: number;
  perKind: number[];
}

function hex(b: Uint8Array, len: number): string {
  return Buffer.from(b.buffer, b.byteOffset, len).toString('hex');
}

function fuzz(
  name: string,
  bases: Base[],
  total: number,
  verify: (b: Uint8Array, off: number, len: number, lim: VerifyLimits) => number,
  limits: VerifyLimits,
  decode: (bb: CheckedByteBuffer) => unknown,
): Stats {
  const stats: Stats = { inputs: 0, accepted: 0, maxMs: 0, maxRetestedMs: 0, perKind: new Array<number>(10).fill(0) };
  const maxLen = Math.max(...bases.map((b) => b.bytes.length)) + 64 * 2;
  // The input sits inside a larger buffer with 0xff around it: bytes past `len` exist but must not be read.
  const arena = new Uint8Array(maxLen + 64).fill(0xff);
  const scratch = new Uint8Array(maxLen);
  const bb = new CheckedByteBuffer(arena, 0, 0);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.nat({ max: bases.length - 1 }), (seed, baseIndex) => {
      const rng = new Rng(seed);
      for (let i = 0; i < PER_RUN; i++) {
        const base = bases[(baseIndex + i) % bases.length]!;
        const kind = rng.below(10);
        const len = mutate(rng, base, scratch, kind);
        arena.fill(0xff, 16, 16 + maxLen);
        arena.set(scratch.subarray(0, len), 16);
        let code: number;
        const t0 = performance.now();
        try {
          code = verify(arena, 16, len, limits);
        } catch (e) {
          assert.fail(`${name}: verifier threw ${String(e)} on ${hex(scratch, len)}`);
        }
        let ms = performance.now() - t0;
        if (ms > stats.maxMs) stats.maxMs = ms;
        if (ms > 1) {
          for (let r = 0; r < 5; r++) {
            const t1 = performance.now();
            verify(arena, 16, len, limits);
            ms = Math.min(ms, performance.now() - t1);
          }
          assert.ok(ms <= 1, `${name}: ${ms.toFixed(3)} ms to verify ${hex(scratch, len)}`);
          if (ms > stats.maxRetestedMs) stats.maxRetestedMs = ms;
        }
        stats.inputs++;
        stats.perKind[kind]!++;
        if (code === 0) {
          stats.accepted++;
          try {
            decode(bb.reset(arena, 16, 16 + len));
          } catch (e) {
            assert.fail(`${name}: accepted input decoded out of bounds (${String(e)}): ${hex(scratch, len)}`);
          }
        } else {
          assert.ok(describeVerifyError(code) !== `unknown(${code})`, `undocumented code ${code}`);
        }
      }
    }),
    { numRuns: total / PER_RUN, endOnFailure: true },
  );
  return stats;
}

test(`verifyClientMessage: ${CLIENT_INPUTS.toLocaleString('en-US')} mutated inputs rejected or decoded within bounds, none over 1 ms`, (t) => {
  const b = new ClientMessageBuilder();
  const specs = fc.sample(clientSpecArb, { numRuns: 300, seed: 4 });
  const bases: Base[] = specs.map((s) => {
    const bytes = buildClient(b, s).slice();
    return { bytes, targets: targets(bytes, Table.ClientMessage) };
  });
  const stats = fuzz('client', bases, CLIENT_INPUTS, verifyClientMessage, clientVerifyLimits(), decodeClient);
  t.diagnostic(JSON.stringify(stats));
  assert.equal(stats.inputs, CLIENT_INPUTS);
  // The mutations must actually exercise both outcomes.
  assert.ok(stats.accepted > CLIENT_INPUTS * 0.02 && stats.accepted < CLIENT_INPUTS * 0.9, `accepted ${stats.accepted}`);
});

test(`verifyServerFrame: ${FRAME_INPUTS.toLocaleString('en-US')} mutated frames rejected or decoded within bounds, none over 1 ms`, (t) => {
  const sb = serverBuilders();
  const fw = new FrameWriter();
  const frames = fc.sample(fc.array(serverSpecArb, { minLength: 1, maxLength: 4 }), { numRuns: 100, seed: 5 });
  const bases: Base[] = frames.map((msgs, i) => {
    fw.begin(i, i);
    const held = msgs.map((m) => buildServer(sb, m).slice());
    for (const h of held) fw.add(h, 0, h.length);
    const bytes = fw.finish().slice();
    return { bytes, targets: targets(bytes, Table.ServerFrame) };
  });
  // The 32-byte frame claiming 2^31 messages is one of the bases' mutations; add it literally too.
  const claim = new Uint8Array(32);
  claim.set([16, 0, 0, 0, 10, 0, 8, 0, 0, 0, 0, 0, 4, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0x80]);
  bases.push({ bytes: claim, targets: targets(new Uint8Array([16, 0, 0, 0, 10, 0, 8, 0, 0, 0, 0, 0, 4, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Table.ServerFrame) });
  const stats = fuzz('frame', bases, FRAME_INPUTS, verifyServerFrame, serverVerifyLimits(), decodeFrame);
  t.diagnostic(JSON.stringify(stats));
  assert.equal(stats.inputs, FRAME_INPUTS);
  assert.ok(stats.accepted > 0 && stats.accepted < FRAME_INPUTS * 0.9, `accepted ${stats.accepted}`);
});
