// The lean bots' FlatBuffers peek (loadtest/lean/peek.ts) against frames made
// by the server's own builders and FrameWriter: every field a bot reads comes
// back as written, at any offset inside a larger buffer; and truncated or
// corrupted frames are flagged `bad` instead of read past their end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerMessageBuilder, DeltaBuilder, SnapshotBuilder } from '../src/protocol/build.js';
import { FrameWriter } from '../src/protocol/frame.js';
import { ServerBody } from '../src/protocol/generated/mmo/server-body.js';
import { EntityKind } from '../src/protocol/generated/mmo/entity-kind.js';
import { FramePeek } from '../loadtest/lean/peek.js';
import { mulberry32 } from '../loadtest/netfault/proxy.js';

/** Builds a frame of copies of the given messages at offset `at` of a larger buffer. */
function frameOf(seq: number, ack: number, msgs: Uint8Array[], at = 0): { buf: Buffer; off: number; len: number } {
  const w = new FrameWriter();
  w.begin(seq, ack);
  const copies = msgs.map((m) => m.slice());
  for (const m of copies) w.add(m, 0, m.length);
  const f = w.finish();
  const buf = Buffer.alloc(at + f.length + 16, 0xcc);
  buf.set(f, at);
  return { buf, off: at, len: f.length };
}

const token = Uint8Array.from({ length: 16 }, (_, i) => i * 7 + 1);

function messages(): Uint8Array[] {
  const s = new ServerMessageBuilder();
  const out: Uint8Array[] = [];
  out.push(s.welcome({ protocolVersion: 1, sessionId: 0xdeadbeef, resumeToken: token, entityId: 4242, name: 'guest_b7', zone: 3, tickRate: 20, serverTime: 1.7e12, resumed: true, replayed: 17 }).slice());
  out.push(s.pong(12345.678901, 99).slice());
  out.push(s.kicked(4103, 'bye').slice());
  out.push(s.error(105, 'cooldown', 9).slice());
  out.push(s.moveRejected(77, 100.5, 200.25, 3).slice());
  out.push(s.respawn(10.5, 20.75, 100).slice());
  out.push(s.zoneChanged(2, 'Stonereach', 512.5, 64.25).slice());
  out.push(s.selfState(90, 100, 3, 1234, 333.5, 444.25, null).slice());
  const d = new DeltaBuilder();
  d.begin(55);
  d.addEnter(900, EntityKind.Loot, 10, 11, 1, 1, 1, 'pelt', 0);
  d.addEnter(901, EntityKind.Npc, 12, 13, 50, 50, 2, 'wolf', 1);
  d.addUpdate(902, 30, 31, 40, 8, 0);
  d.addUpdate(903, 40.5, 41, 40, 1, 0);
  d.addDamage(1, 902, 5, 35);
  d.addDamage(2, 903, 5, 0);
  d.addDeath(903, 2);
  out.push(d.finish().slice());
  const sn = new SnapshotBuilder();
  sn.begin(56, 1, 4242);
  sn.addEntity(4242, EntityKind.Player, 16, 16, 100, 100, 1, 'me', 0);
  sn.setSelf(100, 100, 1, 0, 123.5, 456.75);
  out.push(sn.finish().slice());
  return out;
}

test('peek: every field a bot reads comes back as the builders wrote it, at any offset', () => {
  const p = new FramePeek();
  for (const at of [0, 3, 8, 101]) {
    const { buf, off, len } = frameOf(1001, 77, messages(), at);
    assert.equal(p.read(buf, off, len), true, `read at ${at}`);
    assert.equal(p.seq, 1001);
    assert.equal(p.ack, 77);
    assert.equal(p.count, 10);
    const types = Array.from({ length: p.count }, (_, i) => p.type(i));
    assert.deepEqual(types, [ServerBody.Welcome, ServerBody.Pong, ServerBody.Kicked, ServerBody.Error, ServerBody.MoveRejected, ServerBody.Respawn, ServerBody.ZoneChanged, ServerBody.SelfState, ServerBody.Delta, ServerBody.Snapshot]);
    const w = p.body(0);
    assert.equal(p.welcomeSession(w), 0xdeadbeef);
    assert.equal(p.welcomePlayer(w), 4242);
    assert.equal(p.welcomeResumed(w), true);
    assert.equal(p.welcomeReplayed(w), 17);
    assert.equal(p.welcomeName(w), 'guest_b7');
    const into = new Uint8Array(64);
    assert.equal(p.welcomeToken(w, into), 16);
    assert.deepEqual([...into.subarray(0, 16)], [...token]);
    assert.equal(p.welcomeToken(w, new Uint8Array(8)), -1, 'a token longer than the room for it');
    assert.equal(p.pongClientTime(p.body(1)), 12345.678901);
    assert.equal(p.kickedCode(p.body(2)), 4103);
    assert.equal(p.errorCode(p.body(3)), 105);
    const mr = p.body(4);
    assert.deepEqual([p.rejectX(mr), p.rejectY(mr), p.rejectReason(mr)], [100.5, 200.25, 3]);
    assert.deepEqual([p.respawnX(p.body(5)), p.respawnY(p.body(5))], [10.5, 20.75]);
    assert.deepEqual([p.zoneX(p.body(6)), p.zoneY(p.body(6))], [512.5, 64.25]);
    assert.deepEqual([p.selfX(p.body(7)), p.selfY(p.body(7))], [333.5, 444.25]);
    const d = p.body(8);
    const en = p.deltaEnters(d);
    assert.equal(p.vectorLength(en), 2);
    const e0 = p.enter(en, 0);
    const e1 = p.enter(en, 1);
    assert.deepEqual([p.enterId(e0), p.enterKind(e0), p.enterX(e0), p.enterY(e0), p.enterFlags(e0)], [900, EntityKind.Loot, 160, 176, 0]);
    assert.deepEqual([p.enterId(e1), p.enterKind(e1), p.enterX(e1), p.enterY(e1), p.enterFlags(e1)], [901, EntityKind.Npc, 192, 208, 1]);
    const up = p.deltaUpdates(d);
    assert.equal(p.vectorLength(up), 2);
    assert.deepEqual([p.updateId(up, 0), p.updateX(up, 0), p.updateY(up, 0), p.updateFlags(up, 0)], [902, 480, 496, 8]);
    assert.deepEqual([p.updateId(up, 1), p.updateX(up, 1), p.updateY(up, 1), p.updateFlags(up, 1)], [903, 648, 656, 1]);
    assert.equal(p.vectorLength(p.deltaDamages(d)), 2);
    const dv = p.deltaDeaths(d);
    assert.equal(p.vectorLength(dv), 1);
    assert.equal(p.deathEntity(dv, 0), 903);
    const self = p.snapshotSelf(p.body(9));
    assert.notEqual(self, 0);
    assert.deepEqual([p.selfX(self), p.selfY(self)], [123.5, 456.75]);
    assert.equal(p.bad, false, 'no read went out of bounds');
  }
});

test('peek: an empty delta frame and an unsequenced frame read as such', () => {
  const p = new FramePeek();
  const { buf, off, len } = frameOf(0, 0, []);
  assert.equal(p.read(buf, off, len), true);
  assert.deepEqual([p.seq, p.ack, p.count], [0, 0, 0]);
  const d = new DeltaBuilder();
  d.begin(1);
  const f = frameOf(5, 0, [d.finish().slice()]);
  assert.equal(p.read(f.buf, f.off, f.len), true);
  const body = p.body(0);
  assert.equal(p.vectorLength(p.deltaUpdates(body)), 0);
  assert.equal(p.vectorLength(p.deltaDeaths(body)), 0);
  assert.equal(p.bad, false);
});

/** Reads everything a bot may read from a frame: the values read, then whether the peek flagged the frame. */
function readAll(p: FramePeek, buf: Buffer, off: number, len: number): { values: number[]; bad: boolean } {
  const v: number[] = [];
  if (!p.read(buf, off, len)) return { values: v, bad: true };
  v.push(p.seq, p.ack, p.count);
  const into = new Uint8Array(64);
  for (let i = 0; i < Math.min(p.count, 64); i++) {
    const t = p.body(i);
    v.push(t, p.type(i), p.welcomeSession(t), p.welcomeToken(t, into), p.welcomeName(t).length, p.pongClientTime(t), p.selfX(t), p.rejectY(t));
    const up = p.deltaUpdates(t);
    const n = Math.min(p.vectorLength(up), 1000);
    for (let k = 0; k < n; k++) v.push(p.updateId(up, k), p.updateX(up, k));
    const en = p.deltaEnters(t);
    const m = Math.min(p.vectorLength(en), 1000);
    for (let k = 0; k < m; k++) v.push(p.enterKind(p.enter(en, k)));
  }
  return { values: v, bad: p.bad };
}

test('peek: truncated frames are flagged, never read past their end', () => {
  const p = new FramePeek();
  const { buf, off, len } = frameOf(9, 1, messages(), 16);
  let flagged = 0;
  for (let cut = 0; cut < len; cut++) {
    // The bytes after the cut are poison: a read there would see 0xcc, not the frame's own bytes.
    const b = Buffer.from(buf);
    b.fill(0xcc, off + cut);
    if (readAll(p, b, off, cut).bad) flagged++;
  }
  // Every truncation loses at least the last message's tail: all are flagged.
  assert.equal(flagged, len, `${flagged} of ${len} truncations flagged`);
});

test("peek: random corruption never throws, and what is read depends only on the frame's own bytes", () => {
  const p = new FramePeek();
  const rnd = mulberry32(77);
  const { buf, off, len } = frameOf(9, 1, messages(), 8);
  let flagged = 0;
  for (let round = 0; round < 3000; round++) {
    const b = Buffer.from(buf);
    const flips = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < flips; k++) b[off + Math.floor(rnd() * len)] = Math.floor(rnd() * 256);
    // The same corrupted frame between guard bytes of 0x00 and of 0xff: a read outside the frame would differ.
    b.fill(0x00, 0, off);
    b.fill(0x00, off + len);
    const r0 = readAll(p, b, off, len);
    b.fill(0xff, 0, off);
    b.fill(0xff, off + len);
    const r1 = readAll(p, b, off, len);
    assert.deepEqual(r1, r0, `round ${round}`);
    if (r0.bad) flagged++;
  }
  assert.ok(flagged > 0, 'some corruptions were caught as out-of-bounds');
});
