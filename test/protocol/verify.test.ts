// The verifier, case by case: each hostile construction is rejected with its
// documented code, valid messages pass wherever they sit in a (shared) buffer,
// and the verifier reads nothing outside [offset, offset + length).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Builder, ByteBuffer } from 'flatbuffers';
import { ClientMessageBuilder, DeltaBuilder } from '../../src/protocol/build.js';
import { FrameWriter } from '../../src/protocol/frame.js';
import { VerifyError, describeVerifyError } from '../../src/protocol/codes.js';
import {
  clientVerifyLimits,
  compileVerifyLimits,
  lastVerifyFailure,
  serverVerifyLimits,
  verifyClientMessage,
  verifyServerFrame,
  verifyServerMessage,
} from '../../src/protocol/verify.js';
import { ClientBody, ClientMessage, Delta, EntityEnter, ServerBody, ServerFrame, ServerMessage } from '../../src/protocol/generated/mmo_generated.js';
import { buildClient, clientSpecArb } from '../helpers/protocol.js';

const limits = clientVerifyLimits();
const serverLimits = serverVerifyLimits();
const cb = new ClientMessageBuilder();

const copy = (v: Uint8Array): Uint8Array => v.slice();
const verify = (b: Uint8Array, lim = limits): number => verifyClientMessage(b, 0, b.length, lim);
const name = (code: number): string => describeVerifyError(code);

function i32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}
function w32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}
function w16(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
}
/** Position of the vtable entry for `slot` of the table at t. */
function vtEntry(b: Uint8Array, t: number, slot: number): number {
  return t - i32(b, t) + slot;
}
/** Position of field `slot` of the table at t (0 when absent). */
function field(b: Uint8Array, t: number, slot: number): number {
  const vt = t - i32(b, t);
  const vsize = b[vt]! | (b[vt + 1]! << 8);
  if (slot >= vsize) return 0;
  const o = b[vt + slot]! | (b[vt + slot + 1]! << 8);
  return o ? t + o : 0;
}
const root = (b: Uint8Array): number => i32(b, 0);
/** The body table of a ClientMessage. */
const body = (b: Uint8Array): number => {
  const p = field(b, root(b), 8);
  return p + i32(b, p);
};
/** Start of the string or vector referenced at field position p. */
const target = (b: Uint8Array, p: number): number => p + i32(b, p);

test('valid messages of every kind pass', () => {
  assert.equal(verify(cb.hello(1, 'tok', null, 'sdk')), 0);
  assert.equal(verify(cb.hello(1, null, 'guest', null)), 0);
  assert.equal(verify(cb.resume(1, 7, new Uint8Array(16), 99)), 0);
  assert.equal(verify(cb.move(1, 1.5, -2.25)), 0);
  assert.equal(verify(cb.attack(2, 77)), 0);
  assert.equal(verify(cb.interact(3, 77, 2)), 0);
  assert.equal(verify(cb.chat(4, 3, 'hi ✓ 𝄞', 'bob')), 0);
  assert.equal(verify(cb.ping(123.5)), 0);
});

test('the 32-byte ServerFrame claiming 2^31 messages is rejected; the runtime alone would believe it', () => {
  for (const n of [0x80000000, 0x7fffffff, 0xffffffff, 1 << 30]) {
    const b = new Uint8Array(32);
    w32(b, 0, 16); // root -> table at 16
    w16(b, 4, 10); // vtable: size 10
    w16(b, 6, 8); //          table size 8
    w16(b, 12, 4); //         messages at +4 (seq, ack absent)
    w32(b, 16, 12); // soffset: vtable at 4
    w32(b, 20, 4); // messages -> vector at 24
    w32(b, 24, n); // vector length
    const f = ServerFrame.getRootAsServerFrame(new ByteBuffer(b));
    assert.equal(f.messagesLength() >>> 0, n >>> 0, 'the generated accessor trusts the length');
    assert.equal(verifyServerFrame(b, 0, 32, serverLimits), VerifyError.vectorBounds);
    assert.equal(lastVerifyFailure().field, 'ServerFrame.messages');
  }
  // The same frame with length 0 is valid: the construction itself is sound.
  const ok = new Uint8Array(32);
  w32(ok, 0, 16);
  w16(ok, 4, 10);
  w16(ok, 6, 8);
  w16(ok, 12, 4);
  w32(ok, 16, 12);
  w32(ok, 20, 4);
  assert.equal(verifyServerFrame(ok, 0, 32, serverLimits), 0);
});

test('inflated vector and string lengths in client messages are rejected', () => {
  const resume = copy(cb.resume(1, 7, new Uint8Array(16), 99));
  const tok = target(resume, field(resume, body(resume), 8));
  for (const n of [17, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const b = copy(resume);
    w32(b, tok, n);
    assert.equal(verify(b), VerifyError.vectorBounds, `token length ${n}`);
  }
  const chat = copy(cb.chat(1, 1, 'hello', null));
  const s = target(chat, field(chat, body(chat), 6));
  // (Lengths 6 and 7 would be valid: 'hello' is followed by zero padding.)
  for (const n of [chat.length - s - 4, 1000, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const b = copy(chat);
    w32(b, s, n);
    const code = verify(b);
    assert.ok(code === VerifyError.stringBounds || code === VerifyError.stringUnterminated, `${n}: ${name(code)}`);
  }
});

test('strings: terminator, UTF-8 and per-field limits', () => {
  const chat = copy(cb.chat(1, 1, 'abcd', null));
  const s = target(chat, field(chat, body(chat), 6));
  const b = copy(chat);
  b[s + 8] = 0x41;
  assert.equal(verify(b), VerifyError.stringUnterminated);

  const bad: number[][] = [
    [0xc0, 0x80, 0x41, 0x41], // overlong NUL
    [0xe0, 0x80, 0x80, 0x41], // overlong 3-byte
    [0xed, 0xa0, 0x80, 0x41], // surrogate U+D800
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xf5, 0x80, 0x80, 0x80], // invalid lead
    [0x41, 0x41, 0xe2, 0x82], // truncated sequence at the end
    [0x80, 0x41, 0x41, 0x41], // stray continuation
    [0xf0, 0x80, 0x80, 0x80], // overlong 4-byte
  ];
  for (const seq of bad) {
    const x = copy(chat);
    x.set(seq, s + 4);
    assert.equal(verify(x), VerifyError.stringUtf8, seq.map((n) => n.toString(16)).join(' '));
  }
  const good: number[][] = [
    [0xc2, 0x80, 0x41, 0x41],
    [0xe0, 0xa0, 0x80, 0x41],
    [0xed, 0x9f, 0xbf, 0x41], // U+D7FF
    [0xf0, 0x90, 0x80, 0x80], // U+10000
    [0xf4, 0x8f, 0xbf, 0xbf], // U+10FFFF
  ];
  for (const seq of good) {
    const x = copy(chat);
    x.set(seq, s + 4);
    assert.equal(verify(x), 0, seq.map((n) => n.toString(16)).join(' '));
  }

  const small = clientVerifyLimits({ chatTextBytes: 4, chatToBytes: 3, guestNameBytes: 5, helloTokenBytes: 8, clientNameBytes: 2, resumeTokenBytes: 16 });
  assert.equal(verify(cb.chat(1, 1, 'abcd', 'bob'), small), 0);
  assert.equal(verify(cb.chat(1, 1, 'abcde', null), small), VerifyError.stringTooLong);
  assert.equal(verify(cb.chat(1, 1, 'é', 'bobé'), small), VerifyError.stringTooLong, 'limits count UTF-8 bytes');
  assert.equal(verify(cb.hello(1, null, 'guest', null), small), 0);
  assert.equal(verify(cb.hello(1, null, 'guests', null), small), VerifyError.stringTooLong);
  assert.equal(verify(cb.hello(1, '123456789', null, null), small), VerifyError.stringTooLong);
  assert.equal(verify(cb.hello(1, null, null, 'abc'), small), VerifyError.stringTooLong);
  assert.equal(lastVerifyFailure().field, 'Hello.client_name');
  assert.equal(verify(cb.resume(1, 1, new Uint8Array(17), 0), small), VerifyError.vectorTooLong);
  assert.equal(verify(cb.resume(1, 1, new Uint8Array(16), 0), small), 0);
});

test('unions: unknown tags, tag without value, value without tag, no body', () => {
  const move = copy(cb.move(5, 1, 2));
  const typePos = field(move, root(move), 6);
  const firstUnknown = Math.max(...Object.values(ClientBody).filter((v): v is number => typeof v === 'number')) + 1;
  assert.ok(firstUnknown >= 8);
  for (let tag = firstUnknown; tag < 256; tag++) {
    const b = copy(move);
    b[typePos] = tag;
    assert.equal(verify(b), VerifyError.unknownUnionTag, `tag ${tag}`);
  }
  const none = copy(move);
  none[typePos] = 0;
  assert.equal(verify(none), VerifyError.unionMismatch, 'value with type NONE');

  const fb = new Builder(64);
  ClientMessage.startClientMessage(fb);
  ClientMessage.addSeq(fb, 1);
  ClientMessage.addBodyType(fb, ClientBody.Move);
  fb.finish(ClientMessage.endClientMessage(fb));
  assert.equal(verify(fb.asUint8Array()), VerifyError.unionMismatch, 'type without value');

  fb.clear();
  ClientMessage.startClientMessage(fb);
  ClientMessage.addSeq(fb, 1);
  fb.finish(ClientMessage.endClientMessage(fb));
  assert.equal(verify(fb.asUint8Array()), VerifyError.requiredMissing, 'no body at all');
});

test('enums hold defined values; floats are finite', () => {
  const chat = copy(cb.chat(1, 4, 'x', null));
  const ch = field(chat, body(chat), 4);
  for (let v = 5; v < 256; v++) {
    chat[ch] = v;
    assert.equal(verify(chat), VerifyError.enumRange);
  }
  const inter = copy(cb.interact(1, 9, 2));
  inter[field(inter, body(inter), 6)] = 3;
  assert.equal(verify(inter), VerifyError.enumRange);

  for (const v of [Number.NaN, Infinity, -Infinity]) {
    assert.equal(verify(cb.move(1, v, 0)), VerifyError.nonFinite);
    assert.equal(verify(cb.move(1, 0, v)), VerifyError.nonFinite);
    assert.equal(verify(cb.ping(v)), VerifyError.nonFinite);
  }
  assert.equal(verify(cb.move(1, 3.4e38, -3.4e38)), 0);
  assert.equal(verify(cb.ping(Number.MAX_VALUE)), 0);
});

test('tables, vtables, fields: bounds, alignment, sizes', () => {
  const base = copy(cb.attack(3, 0x01020304));
  const cm = root(base);
  const att = body(base);
  const cases: [string, (b: Uint8Array) => void, number][] = [
    ['root offset 0', (b) => w32(b, 0, 0), VerifyError.rootOffset],
    ['root offset past the end', (b) => w32(b, 0, b.length), VerifyError.rootOffset],
    ['root offset negative', (b) => w32(b, 0, -8), VerifyError.rootOffset],
    ['misaligned root table', (b) => w32(b, 0, cm + 2), VerifyError.tableAlign],
    ['vtable before the buffer', (b) => w32(b, cm, cm + 4), VerifyError.vtableBounds],
    ['vtable past the end', (b) => w32(b, cm, -(b.length + 8)), VerifyError.vtableBounds],
    ['misaligned vtable', (b) => w32(b, cm, i32(b, cm) + 1), VerifyError.vtableAlign],
    ['odd vtable size', (b) => w16(b, vtEntry(b, cm, 0), 9), VerifyError.vtableSize],
    ['vtable size < 4', (b) => w16(b, vtEntry(b, cm, 0), 2), VerifyError.vtableSize],
    ['vtable size >= 32768 (negative for the accessor)', (b) => w16(b, vtEntry(b, cm, 0), 0x8000), VerifyError.vtableSize],
    ['vtable size past the end', (b) => w16(b, vtEntry(b, cm, 0), 0x7ffe), VerifyError.vtableBounds],
    ['table size < 4', (b) => w16(b, vtEntry(b, cm, 2), 2), VerifyError.vtableSize],
    ['table size past the end', (b) => w16(b, vtEntry(b, cm, 2), 0x7ff0), VerifyError.tableBounds],
    ['field beyond the table size', (b) => w16(b, vtEntry(b, cm, 4), 0x40), VerifyError.fieldBounds],
    ['field overlapping the soffset', (b) => w16(b, vtEntry(b, cm, 4), 2), VerifyError.fieldBounds],
    ['field offset negative for the accessor', (b) => w16(b, vtEntry(b, cm, 4), 0xfffc), VerifyError.fieldBounds],
    ['misaligned uint32 field', (b) => w16(b, vtEntry(b, cm, 4), 5), VerifyError.fieldAlign],
    ['uint32 field past its table', (b) => w16(b, vtEntry(b, att, 4), 5), VerifyError.fieldBounds],
    ['body offset 0', (b) => w32(b, field(b, cm, 8), 0), VerifyError.offsetBounds],
    ['body offset negative', (b) => w32(b, field(b, cm, 8), -4), VerifyError.offsetBounds],
    ['body offset past the end', (b) => w32(b, field(b, cm, 8), 4096), VerifyError.offsetBounds],
    ['misaligned body table', (b) => w32(b, field(b, cm, 8), i32(b, field(b, cm, 8)) + 1), VerifyError.tableAlign],
  ];
  for (const [what, patch, code] of cases) {
    const b = copy(base);
    patch(b);
    assert.equal(name(verify(b)), name(code), what);
  }
});

test('arguments, total size, depth', () => {
  const m = cb.move(1, 1, 1);
  assert.equal(verifyClientMessage(m, 0, m.length + 1, limits), VerifyError.badRange);
  assert.equal(verifyClientMessage(m, -1, m.length, limits), VerifyError.badRange);
  assert.equal(verifyClientMessage(m, Number.NaN, m.length, limits), VerifyError.badRange);
  assert.equal(verifyClientMessage(m, 0.5, 4, limits), VerifyError.badRange);
  assert.equal(verifyClientMessage(m, 0, 11, limits), VerifyError.tooSmall);
  assert.equal(verifyClientMessage(new Uint8Array(0), 0, 0, limits), VerifyError.tooSmall);
  assert.equal(verify(m, clientVerifyLimits({ maxBytes: m.length })), 0);
  assert.equal(verify(m, clientVerifyLimits({ maxBytes: m.length - 1 })), VerifyError.tooLarge);
  assert.equal(verify(m, clientVerifyLimits({ maxDepth: 1 })), VerifyError.tooDeep);
  assert.equal(verify(m, clientVerifyLimits({ maxDepth: 2 })), 0);

  // A snapshot inside a frame is 4 deep with its entities.
  const d = new DeltaBuilder();
  d.begin(1);
  d.addEnter(1, 0, 1, 1, 1, 1, 1, 'a', 0);
  const delta = d.finish();
  const fw = new FrameWriter();
  fw.begin(1, 0);
  fw.add(delta, 0, delta.length);
  const frame = fw.finish();
  assert.equal(verifyServerFrame(frame, 0, frame.length, serverVerifyLimits({ maxDepth: 4 })), 0);
  assert.equal(verifyServerFrame(frame, 0, frame.length, serverVerifyLimits({ maxDepth: 3 })), VerifyError.tooDeep);
  assert.notEqual(verifyServerMessage(frame, 0, frame.length, serverLimits), 0, 'a frame is not a message');
});

test('sharing one table or string through many offsets cannot buy super-linear work', () => {
  // A Delta whose enters vector points 200 times at one EntityEnter with a 300-byte name.
  const fb = new Builder(1024);
  const nameOff = fb.createString('n'.repeat(300));
  EntityEnter.startEntityEnter(fb);
  EntityEnter.addId(fb, 1);
  EntityEnter.addName(fb, nameOff);
  const enter = EntityEnter.endEntityEnter(fb);
  const n = 200;
  fb.startVector(4, n, 4);
  for (let i = 0; i < n; i++) fb.addOffset(enter);
  const vec = fb.endVector();
  Delta.startDelta(fb);
  Delta.addEnters(fb, vec);
  const delta = Delta.endDelta(fb);
  fb.finish(ServerMessage.createServerMessage(fb, ServerBody.Delta, delta));
  const shared = fb.asUint8Array();
  assert.equal(verifyServerMessage(shared, 0, shared.length, serverLimits), VerifyError.tooComplex);

  // Tables alone: a frame of 300 offsets to one message holding 300 offsets to one entity.
  fb.clear();
  EntityEnter.startEntityEnter(fb);
  EntityEnter.addId(fb, 1);
  const e = EntityEnter.endEntityEnter(fb);
  fb.startVector(4, 300, 4);
  for (let i = 0; i < 300; i++) fb.addOffset(e);
  const v2 = fb.endVector();
  Delta.startDelta(fb);
  Delta.addEnters(fb, v2);
  const d2 = Delta.endDelta(fb);
  const msg = ServerMessage.createServerMessage(fb, ServerBody.Delta, d2);
  fb.startVector(4, 300, 4);
  for (let i = 0; i < 300; i++) fb.addOffset(msg);
  const msgs = fb.endVector();
  ServerFrame.startServerFrame(fb);
  ServerFrame.addMessages(fb, msgs);
  fb.finish(ServerFrame.endServerFrame(fb));
  const dag = fb.asUint8Array();
  assert.equal(verifyServerFrame(dag, 0, dag.length, serverLimits), VerifyError.tooComplex);
});

test('verifies in place: inside a larger SharedArrayBuffer, at an offset, with garbage around', () => {
  const sab = new SharedArrayBuffer(4096);
  const view = new Uint8Array(sab, 8, 4000);
  fc.assert(
    fc.property(clientSpecArb, fc.integer({ min: 0, max: 500 }), (spec, at) => {
      const m = buildClient(cb, spec);
      view.fill(0xa5);
      view.set(m, at * 4);
      assert.equal(verifyClientMessage(view, at * 4, m.length, limits), 0);
    }),
    { numRuns: 300 },
  );
});

test('the verifier reads nothing outside [offset, offset + length)', () => {
  // A proxy records every index read; inputs are valid messages and random mutations of them.
  fc.assert(
    fc.property(clientSpecArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -8, max: 8 }), (spec, flips, dl) => {
      const m = buildClient(cb, spec);
      const len = Math.max(0, Math.min(m.length + 16, m.length + dl));
      const buf = new Uint8Array(len + 64).fill(0xff);
      buf.set(m.subarray(0, Math.min(m.length, len)), 32);
      for (const [p, v] of flips) if (len > 0) buf[32 + (p % len)] = v;
      let lo = Infinity;
      let hi = -Infinity;
      const spy = new Proxy(buf, {
        get(t, k) {
          if (typeof k === 'string' && /^\d+$/.test(k)) {
            const i = Number(k);
            lo = Math.min(lo, i);
            hi = Math.max(hi, i);
            return t[i];
          }
          const v = Reflect.get(t, k, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
      verifyClientMessage(spy, 32, len, limits);
      if (hi >= lo) {
        assert.ok(lo >= 32 && hi < 32 + len, `read [${lo}, ${hi}] outside [32, ${32 + len})`);
      }
    }),
    { numRuns: 1500 },
  );
});

test('limits are validated when compiled', () => {
  assert.throws(() => compileVerifyLimits(4096, 8, 10, 10, { 'Chat.nope': 3 }), { code: 'MMO_ERR_VERIFY_LIMITS' });
  assert.throws(() => compileVerifyLimits(4096, 8, 10, 10, { 'Move.x': 3 }), { code: 'MMO_ERR_VERIFY_LIMITS' });
  assert.throws(() => clientVerifyLimits({ maxBytes: 4 }), { code: 'MMO_ERR_VERIFY_LIMITS' });
  assert.throws(() => clientVerifyLimits({ chatTextBytes: -1 }), { code: 'MMO_ERR_VERIFY_LIMITS' });
  assert.throws(() => serverVerifyLimits({ maxDepth: 0 }), { code: 'MMO_ERR_VERIFY_LIMITS' });
  assert.equal(describeVerifyError(VerifyError.stringUtf8), 'stringUtf8');
  assert.equal(describeVerifyError(9999), 'unknown(9999)');
});
