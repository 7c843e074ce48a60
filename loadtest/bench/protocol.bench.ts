// Wire protocol costs. For each typical inbound message: verifying it against
// decoding it (the baseline: reading every field once with the generated
// accessors over a reused ByteBuffer, strings included). Target: verify costs
// no more than that decode. Then the outbound path: FrameWriter composing
// frames, DeltaBuilder and SnapshotBuilder per entity.

import type { ByteBuffer } from 'flatbuffers';
import { heapBytesPerOp, measureSync, median, report } from './harness.js';
import { ClientMessageBuilder, DeltaBuilder, ServerMessageBuilder, SnapshotBuilder } from '../../src/protocol/build.js';
import { FrameWriter } from '../../src/protocol/frame.js';
import { clientVerifyLimits, serverVerifyLimits, verifyClientMessage, verifyServerFrame } from '../../src/protocol/verify.js';
import { rebindByteBuffer, reusableByteBuffer } from '../../src/protocol/read.js';
import * as G from '../../src/protocol/generated/mmo_generated.js';

let sink = 0;
const limits = clientVerifyLimits();
const cb = new ClientMessageBuilder();
const bb: ByteBuffer = reusableByteBuffer();
const cm = new G.ClientMessage();

// Reused accessor objects: decode allocates nothing but strings.
const move = new G.Move();
const attack = new G.Attack();
const chat = new G.Chat();
const hello = new G.Hello();
const ping = new G.Ping();

function decode(b: Uint8Array): void {
  const m = G.ClientMessage.getRootAsClientMessage(rebindByteBuffer(bb, b, 0), cm);
  sink += m.seq();
  switch (m.bodyType()) {
    case G.ClientBody.Move: {
      const v = m.body(move) as G.Move;
      sink += v.x() + v.y();
      break;
    }
    case G.ClientBody.Attack:
      sink += (m.body(attack) as G.Attack).target();
      break;
    case G.ClientBody.Chat: {
      const c = m.body(chat) as G.Chat;
      sink += c.channel() + (c.text()?.length ?? 0) + (c.to()?.length ?? 0);
      break;
    }
    case G.ClientBody.Hello: {
      const h = m.body(hello) as G.Hello;
      sink += h.protocolVersion() + (h.token()?.length ?? 0) + (h.guestName()?.length ?? 0) + (h.clientName()?.length ?? 0);
      break;
    }
    case G.ClientBody.Ping:
      sink += (m.body(ping) as G.Ping).clientTime();
      break;
  }
}

const inbound: [string, Uint8Array][] = [
  ['move', cb.move(1234, 1021.5, 388.25).slice()],
  ['attack', cb.attack(1235, 40123).slice()],
  ['chat', cb.chat(1236, 1, 'anyone up for the dungeon run? need a healer, meet at the north gate', null).slice()],
  ['hello', cb.hello(1, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU', null, 'mmo-sdk node').slice()],
  ['ping', cb.ping(123456.789).slice()],
];

/**
 * Times a and b in alternating rounds (a, b, a, b...) so that load from other
 * processes on this shared machine hits both alike; returns each one's median
 * ns per op and the median of the per-round ratios a/b.
 */
function interleaved(a: () => void, b: () => void, rounds = 15, roundMs = 120): { aNs: number; bNs: number; ratio: number } {
  const time = (fn: () => void): number => {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < roundMs) {
      for (let i = 0; i < 256; i++) fn();
      n += 256;
      t = performance.now();
    }
    return ((t - t0) * 1e6) / n;
  };
  for (let i = 0; i < 3; i++) {
    time(a);
    time(b);
  }
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = time(a);
    const y = time(b);
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  return { aNs: median(as), bNs: median(bs), ratio: median(ratios) };
}

const opts = { rounds: 7, roundMs: 250, warmupMs: 300 };
for (const [name, b] of inbound) {
  if (verifyClientMessage(b, 0, b.length, limits) !== 0) throw new Error(`${name} does not verify`);
  const verify = (): void => {
    sink += verifyClientMessage(b, 0, b.length, limits);
  };
  const read = (): void => decode(b);
  const m = interleaved(verify, read);
  report({
    name: `protocol.verify.${name}`,
    opsPerSec: 1e9 / m.aNs,
    bytes: b.length,
    nsPerOp: m.aNs,
    decodeNsPerOp: m.bNs,
    verifyOverDecode: m.ratio,
    heapBytesPerOp: heapBytesPerOp(verify, 2_000_000),
  });
  report({ name: `protocol.decode.${name}`, opsPerSec: 1e9 / m.bNs, bytes: b.length, nsPerOp: m.bNs });
}

// ---------------------------------------------------------------- outbound

// A typical frame: one player's Delta (30 updates, 2 enters, 1 leave, 2 damages), a chat line, a pong.
const sm = new ServerMessageBuilder();
const db = new DeltaBuilder();
db.begin(100);
for (let i = 0; i < 30; i++) db.addUpdate(1000 + i, 100 + i, 200 - i, 80, 8, i);
db.addEnter(2000, 1, 50, 60, 100, 100, 5, 'wolf', 0);
db.addEnter(2001, 0, 51, 61, 100, 100, 9, 'Aelith', 0);
db.addLeave(1999);
db.addDamage(2000, 1000, 12, 68);
db.addDamage(1000, 2000, 30, 70);
const delta = db.finish().slice();
const chatMsg = sm.chatMessage(1, 1001, 'Aelith', 'anyone up for the dungeon run?').slice();
const pong = sm.pong(1234.5, 1_700_000_000_000).slice();
// The messages sit in one shared buffer, as in the zone -> gateway ring.
const ring = new Uint8Array(new SharedArrayBuffer(64 * 1024));
const at: [number, number][] = [];
let cursor = 0;
for (const m of [delta, chatMsg, pong]) {
  ring.set(m, cursor);
  at.push([cursor, m.length]);
  cursor = (cursor + m.length + 7) & ~7;
}
const messages = at;
const fw = new FrameWriter();
const page = new Uint8Array(64 * 1024);
let frameBytes = 0;
const compose = (): void => {
  fw.begin(77, 1234);
  for (let i = 0; i < at.length; i++) fw.add(ring, at[i]![0], at[i]![1]);
  frameBytes = fw.finishInto(page, 0);
};
compose();
const serverLimits = serverVerifyLimits();
if (verifyServerFrame(page, 0, frameBytes, serverLimits) !== 0) throw new Error('frame does not verify');
const f = measureSync(compose, opts);
report({
  name: 'protocol.frame.compose',
  opsPerSec: f.opsPerSec,
  messagesPerFrame: messages.length,
  frameBytes,
  mbPerSec: (f.opsPerSec * frameBytes) / 1e6,
  heapBytesPerOp: heapBytesPerOp(compose, 1_000_000),
});
const fv = measureSync(() => {
  sink += verifyServerFrame(page, 0, frameBytes, serverLimits);
}, opts);
report({ name: 'protocol.verify.frame', opsPerSec: fv.opsPerSec, frameBytes, nsPerOp: 1e9 / fv.opsPerSec });

// DeltaBuilder: per entity, steady state (same ids and names every tick, as a zone's AOI mostly is).
const ENTITIES = 100;
const names = Array.from({ length: ENTITIES }, (_, i) => `npc-${i}`);
const deltaTick = (): void => {
  db.begin(101);
  for (let i = 0; i < ENTITIES; i++) db.addUpdate(1000 + i, 100 + i * 0.5, 200 - i * 0.25, 80, 8, i & 255);
  for (let i = 0; i < 5; i++) db.addEnter(3000 + i, 1, 10, 10, 50, 50, 3, names[i]!, 0);
  db.addLeave(2999);
  sink += db.finish().length;
};
const dt = measureSync(deltaTick, { ...opts, opsPerCall: ENTITIES + 6 });
report({
  name: 'protocol.delta.perEntity',
  opsPerSec: dt.opsPerSec,
  nsPerEntity: 1e9 / dt.opsPerSec,
  entitiesPerDelta: ENTITIES + 6,
  heapBytesPerEntity: heapBytesPerOp(deltaTick, 100_000 * (ENTITIES + 6), ENTITIES + 6),
});

const sb = new SnapshotBuilder();
const SNAP = 200;
const snapshot = (): void => {
  sb.begin(5, 1, 1000);
  for (let i = 0; i < SNAP; i++) sb.addEntity(1000 + i, i % 3, i, i, 100, 100, 10, names[i % ENTITIES]!, 0);
  sb.setSelf(100, 100, 10, 12345, 1, 1);
  for (let i = 0; i < 20; i++) sb.addItem(i, 1);
  sink += sb.finish().length;
};
const st = measureSync(snapshot, { ...opts, opsPerCall: SNAP });
report({
  name: 'protocol.snapshot.perEntity',
  opsPerSec: st.opsPerSec,
  nsPerEntity: 1e9 / st.opsPerSec,
  entitiesPerSnapshot: SNAP,
  heapBytesPerEntity: heapBytesPerOp(snapshot, 20_000 * SNAP, SNAP),
});

if (sink === 42) console.log('');
