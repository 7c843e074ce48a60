// Every message the builders produce passes the verifier and decodes, with the
// code flatc 2.0.8 generated and the pinned flatbuffers runtime, to exactly
// what was put in; frames composed by FrameWriter likewise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteBuffer } from 'flatbuffers';
import { ClientMessageBuilder, NameCache, DeltaBuilder } from '../../src/protocol/build.js';
import { FrameWriter } from '../../src/protocol/frame.js';
import { clientVerifyLimits, serverVerifyLimits, verifyClientMessage, verifyServerFrame, verifyServerMessage, lastVerifyFailure } from '../../src/protocol/verify.js';
import { describeVerifyError } from '../../src/protocol/codes.js';
import { rebindByteBuffer, reusableByteBuffer, stringField, fieldSlot } from '../../src/protocol/read.js';
import * as G from '../../src/protocol/generated/mmo_generated.js';
import {
  CheckedByteBuffer,
  buildClient,
  buildServer,
  clientSpecArb,
  decodeClient,
  decodeFrame,
  decodeServerMessage,
  frameSpecArb,
  serverBuilders,
  serverSpecArb,
} from '../helpers/protocol.js';

const clientLimits = clientVerifyLimits();
const serverLimits = serverVerifyLimits();

function why(code: number): string {
  const f = lastVerifyFailure();
  return `${describeVerifyError(code)} at ${f.offset} (${f.field ?? '-'})`;
}

test('every ClientMessage the builder produces verifies and decodes to its inputs', () => {
  const b = new ClientMessageBuilder(16); // small: exercises the builder growing
  const seen = new Set<string>();
  fc.assert(
    fc.property(clientSpecArb, (spec) => {
      const bytes = buildClient(b, spec);
      const code = verifyClientMessage(bytes, 0, bytes.length, clientLimits);
      assert.equal(code, 0, why(code));
      assert.deepEqual(decodeClient(new CheckedByteBuffer(bytes, 0, bytes.length)), spec);
      seen.add(spec.type);
    }),
    { numRuns: 3000 },
  );
  assert.deepEqual([...seen].sort(), ['ack', 'attack', 'chat', 'custom', 'hello', 'interact', 'move', 'ping', 'resume']);
});

test('every ServerMessage the builders produce verifies and decodes to its inputs', () => {
  const b = serverBuilders();
  const seen = new Set<string>();
  fc.assert(
    fc.property(serverSpecArb, (spec) => {
      const bytes = buildServer(b, spec);
      const code = verifyServerMessage(bytes, 0, bytes.length, serverLimits);
      assert.equal(code, 0, why(code));
      const bb = new CheckedByteBuffer(bytes, 0, bytes.length);
      assert.deepEqual(decodeServerMessage(G.ServerMessage.getRootAsServerMessage(bb)), spec);
      seen.add(spec.type);
    }),
    { numRuns: 3000 },
  );
  assert.equal(seen.size, 14);
});

test('FrameWriter: composed frames verify and decode to exactly the messages put in', () => {
  const b = serverBuilders();
  const fw = new FrameWriter({ initialBytes: 64 });
  fc.assert(
    fc.property(frameSpecArb, fc.integer({ min: 0, max: 7 }), (frame, shift) => {
      // Each message is copied out of its builder (as a gateway would hold it in a ring)
      // at an arbitrary offset inside a larger buffer.
      const held = frame.messages.map((m) => {
        const v = buildServer(b, m);
        const box = new Uint8Array(v.length + 16);
        box.set(v, shift);
        return { box, length: v.length };
      });
      fw.begin(frame.seq, frame.ack);
      for (const h of held) assert.ok(fw.add(h.box, shift, h.length));
      const out = fw.finish();
      assert.equal(out.length, fw.measure());
      assert.equal(out.length % 8, 0);
      const code = verifyServerFrame(out, 0, out.length, serverLimits);
      assert.equal(code, 0, why(code));
      assert.deepEqual(decodeFrame(new CheckedByteBuffer(out, 0, out.length)), frame);

      // finishInto a caller's buffer at an 8-aligned offset gives the same bytes.
      const page = new Uint8Array(out.length + 24).fill(0xee);
      assert.equal(fw.finishInto(page, 8), out.length);
      assert.deepEqual(page.subarray(8, 8 + out.length), out);
      assert.equal(verifyServerFrame(page, 8, out.length, serverLimits), 0);
      assert.equal(fw.finishInto(page, 32), -1, 'does not fit');
    }),
    { numRuns: 1000 },
  );
});

test('FrameWriter: messages straight from builders (word copy path), limits and reuse', () => {
  const b = serverBuilders();
  const fw = new FrameWriter({ maxMessages: 3 });
  fw.begin(7, 3);
  const pong = b.msg.pong(1.5, 2.5);
  assert.ok(fw.add(b.msg.bytes, b.msg.start, b.msg.length));
  assert.equal(pong.byteOffset, b.msg.start);
  const d = b.delta;
  d.begin(9);
  d.addUpdate(1, 10, 20, 30, 1, 2);
  d.finish();
  assert.ok(fw.add(d.bytes, d.start, d.length));
  assert.ok(fw.add(d.bytes, d.start, d.length), 'the same message twice');
  assert.equal(fw.add(d.bytes, d.start, d.length), false, 'maxMessages');
  const out = fw.finish();
  assert.equal(verifyServerFrame(out, 0, out.length, serverLimits), 0);
  const f = decodeFrame(new CheckedByteBuffer(out, 0, out.length));
  assert.equal(f.seq, 7);
  assert.equal(f.ack, 3);
  assert.deepEqual(
    f.messages.map((m) => m.type),
    ['pong', 'delta', 'delta'],
  );
  fw.begin(8, 4);
  const empty = fw.finish();
  assert.equal(verifyServerFrame(empty, 0, empty.length, serverLimits), 0);
  assert.deepEqual(decodeFrame(new ByteBuffer(empty)), { seq: 8, ack: 4, messages: [] });
});

test('DeltaBuilder: a reused id with a new name gets the new name (name cache)', () => {
  const names = new NameCache(2);
  const d = new DeltaBuilder({ names, initialRows: 1 });
  const read = () => {
    const v = d.finish();
    return decodeServerMessage(G.ServerMessage.getRootAsServerMessage(new ByteBuffer(v)));
  };
  d.begin(1);
  d.addEnter(5, 0, 1, 1, 10, 10, 1, 'alice', 0);
  d.addEnter(6, 1, 1, 1, 10, 10, 1, 'wolf', 0);
  d.addEnter(7, 1, 1, 1, 10, 10, 1, 'bear', 0); // past capacity: cache cleared
  let m = read();
  assert.ok(m.type === 'delta');
  assert.deepEqual(
    m.enters.map((e) => e.name),
    ['alice', 'wolf', 'bear'],
  );
  assert.ok(names.size <= 2);
  d.begin(2);
  d.addEnter(7, 0, 1, 1, 10, 10, 1, 'bob', 0); // id 7 reused by another entity
  d.addEnter(8, 0, 1, 1, 10, 10, 1, new TextEncoder().encode('ünïcode'), 0);
  d.addEnter(9, 0, 1, 1, 10, 10, 1, null, 0);
  m = read();
  assert.ok(m.type === 'delta');
  assert.deepEqual(
    m.enters.map((e) => e.name),
    ['bob', 'ünïcode', null],
  );
  assert.ok(d.empty === false);
  d.begin(3);
  assert.ok(d.empty);
});

test('rebindByteBuffer and stringField read a message in place inside a larger (shared) buffer', () => {
  const b = new ClientMessageBuilder();
  const msg = b.chat(42, 1, 'héllo wörld', 'bob');
  const sab = new SharedArrayBuffer(256);
  const view = new Uint8Array(sab);
  view.fill(0xff);
  view.set(msg, 40);
  assert.equal(verifyClientMessage(view, 40, msg.length, clientLimits), 0);
  const bb = rebindByteBuffer(reusableByteBuffer(), view, 40);
  const m = G.ClientMessage.getRootAsClientMessage(bb);
  assert.equal(m.seq(), 42);
  const chat = m.body(new G.Chat()) as G.Chat;
  assert.equal(stringField(chat, fieldSlot('Chat.text')), 'héllo wörld');
  assert.equal(stringField(chat, fieldSlot('Chat.to')), 'bob');
  const ping = b.ping(3.25);
  rebindByteBuffer(bb, ping, 0);
  assert.equal((G.ClientMessage.getRootAsClientMessage(bb).body(new G.Ping()) as G.Ping).clientTime(), 3.25);
  assert.throws(() => fieldSlot('Chat.nope'), { code: 'MMO_ERR_PROTOCOL_FIELD' });
});
