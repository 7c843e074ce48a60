// A session moving between two owners (SessionCore), without threads: the
// test plays the service (it relays the export to the new owner) and the
// zone (it records what each owner writes to it and feeds each owner the
// zone's records). What must hold is the contract in core.ts: the client
// resumes on the new owner with exactly the frames it missed, in order,
// numbered on from the old owner's, including what the zone sent meanwhile;
// its inputs go on from the same seq (a resent one is a duplicate); and the
// portal state and held inputs travel with it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SessionCore, type CoreConfig } from '../src/session/core.js';
import { createSessionMetrics } from '../src/session/metrics.js';
import type { ControlPort, ZoneLinks } from '../src/session/ports.js';
import type { Socket } from '../src/net/gateway.js';
import { FakeSocket } from './helpers/fake-socket.js';
import type { CloseReasonIndex } from '../src/net/stats.js';
import { NetStats } from '../src/net/stats.js';
import { BufferPool } from '../src/pool/index.js';
import { ClientMessageBuilder, ServerMessageBuilder } from '../src/protocol/build.js';
import { ChatChannel } from '../src/protocol/generated/mmo/chat-channel.js';
import { clientVerifyLimits } from '../src/protocol/verify.js';
import { FromZone, ToZone, JoinedRecord, HandoffRecord, RebindRecord } from '../src/zone/records.js';
import { SessionExport } from '../src/session/export.js';
import { createWorkerLogger } from '../src/log/logger.js';

const CFG: CoreConfig = {
  replay: { maxBytes: 1 << 20, maxAgeMs: 60_000, maxFrames: 1024 },
  limits: { chatPerSec: 1000, chatBurst: 1000, inputsPerSec: 1000, inputBurst: 1000 },
  floodStrikes: 1000,
  heldInputsMax: 64,
  lagBytes: 1 << 20,
  closeBytes: 1 << 22,
};

interface ZoneWrite {
  owner: number;
  zone: number;
  type: number;
  session: number;
  bytes: Uint8Array;
}

/** Two owners, a zone that records what they write, and a service that relays exports. */
function setup() {
  const writes: ZoneWrite[] = [];
  const serviceRecords: Array<{ type: number; session: number }> = [];
  const reg = new Registry();
  const stats = new NetStats(reg);
  const metrics = createSessionMetrics(reg);
  const cores: SessionCore[] = [];
  const links = (owner: number): ZoneLinks => ({
    send: (zone, type, session, src, offset, length) => {
      writes.push({ owner, zone, type, session, bytes: src ? src.slice(offset, offset + length) : new Uint8Array(0) });
      return true;
    },
    isUp: () => true,
    commit: () => {},
  });
  const control = (owner: number): ControlPort => ({
    open: () => {},
    close: () => {},
    message: () => {},
    zoneRecord: (_zone, type, session) => void serviceRecords.push({ type, session }),
    whisper: () => {},
    tokenConfirmed: () => {},
    // The service passes an export on to the other owner, record by record, in order.
    exported: (type, id, data, offset, length) => cores[1 - owner]!.adopt(type, id, data, offset, length),
    rejoined: () => {},
    remoteZone: () => {},
  });
  for (let owner = 0; owner < 2; owner++) {
    const core = new SessionCore({
      owner,
      cfg: CFG,
      verify: clientVerifyLimits(),
      zones: links(owner),
      zoneNames: [{ id: 1, name: 'One' }, { id: 2, name: 'Two' }],
      pool: new BufferPool({ pageSize: 16384, pagesPerSet: 4, minPages: 4, maxPages: 64 }),
      stats,
      metrics,
      admission: { spendInput: () => true, addressKey: () => -1 },
      close: (ws: Socket, reason: CloseReasonIndex, code: number, text: string) => {
        ws.getUserData().closeReason = reason;
        ws.end(code, text);
      },
      log: createWorkerLogger('silent', {}),
      tickHz: 20,
    });
    core.control = control(owner);
    cores.push(core);
  }
  const msg = new ServerMessageBuilder();
  /** The zone says `text` to `session` through owner `core`'s ring. */
  const say = (core: SessionCore, session: number, text: string, zone = 0) => {
    msg.chatMessage(ChatChannel.Zone, 7, 'npc', text);
    core.zoneRecord(zone, FromZone.out, session, msg.bytes, msg.start, msg.length);
  };
  const joined = (core: SessionCore, session: number, entity: number, zone = 0) => {
    const d = new Uint8Array(JoinedRecord.size);
    JoinedRecord.write(d, 0, entity, 0);
    core.zoneRecord(zone, FromZone.joined, session, d, 0, d.length);
  };
  return { cores, writes, serviceRecords, say, joined, metrics };
}

const S = 4242;
const TOKEN_A = new Uint8Array(16).fill(1);
const TOKEN_B = new Uint8Array(16).fill(2);

test('a session moved to another owner resumes with exactly the frames its client missed, in order, and its inputs go on from the same seq', () => {
  const { cores, writes, say, joined, metrics } = setup();
  const [a, b] = cores as [SessionCore, SessionCore];
  const cmb = new ClientMessageBuilder();

  // Logged in on owner a: joined, Welcome, then chat lines in frames.
  const ws1 = new FakeSocket(1);
  a.open(ws1);
  const join = new Uint8Array([9, 9, 9]);
  a.login(1, S, { name: 'alice', accountId: 5, guest: false }, 0, TOKEN_A, join, 0, join.length);
  assert.deepEqual(writes.map((w) => [w.owner, w.type, w.session]), [[0, ToZone.join, S]]);
  joined(a, S, 77);
  for (let i = 1; i <= 3; i++) {
    say(a, S, `line ${i}`);
    a.flush();
  }
  assert.equal(ws1.frames[0]!.messages[0]!.type, 'welcome');
  assert.deepEqual(ws1.chats(), ['line 1', 'line 2', 'line 3']);
  const seen = Math.max(...ws1.frames.map((f) => f.seq));
  // Two inputs accepted on a.
  for (let seq = 1; seq <= 2; seq++) {
    const m = cmb.chat(seq, ChatChannel.Zone, `in ${seq}`);
    a.message(ws1, m, 0, m.length, true);
  }

  // The link drops: a zombie on a, which keeps what the zone sends.
  a.close(ws1, 1006, 1 as CloseReasonIndex);
  say(a, S, 'line 4');
  say(a, S, 'line 5');
  a.flush();

  // The client comes back on a connection owner b serves: b expects the session, a is asked to move it.
  const ws2 = new FakeSocket(2);
  b.open(ws2);
  b.expect(S);
  writes.length = 0;
  a.migrate(S, 1);
  // a wrote the rebind to the zone after its inputs; the zone now writes to b (kept until the session arrives) ...
  assert.deepEqual(writes.map((w) => [w.owner, w.type, w.session, w.type === ToZone.rebind ? RebindRecord.owner(w.bytes, 0) : -1]), [[0, ToZone.rebind, S, 1]]);
  say(b, S, 'line 6');
  // ... and a hears `moved` as its last record of the session: it exports, b adopts.
  a.zoneRecord(0, FromZone.moved, S, new Uint8Array(0), 0, 0);
  assert.equal(a.sessions.has(S), false, 'a forgot it');
  assert.equal(b.sessions.has(S), true, 'b has it');

  b.resume(2, S, seen, TOKEN_B);
  b.flush();
  const welcome = ws2.frames[0]!.messages[0]!;
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.type === 'welcome' && welcome.resumed, true);
  assert.deepEqual(Array.from(welcome.type === 'welcome' ? welcome.resumeToken : []), Array.from(TOKEN_B));
  const seqs = ws2.frames.filter((f) => f.seq !== 0).map((f) => f.seq);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seen + 1 + i), 'numbered on from what the client saw, no gap, none twice');
  assert.deepEqual(ws2.chats(), ['line 4', 'line 5', 'line 6'], 'exactly what it missed, then what the zone sent during the move, in order');
  assert.equal(welcome.type === 'welcome' && welcome.replayed, seqs.length, 'the Welcome counts the replayed frames');
  assert.equal(metrics.resumeOutcome.total(), 1);

  // Inputs go on from the same seq on b: the resent #2 is a duplicate, #3 reaches the zone from b.
  writes.length = 0;
  const dup = cmb.chat(2, ChatChannel.Zone, 'in 2');
  b.message(ws2, dup, 0, dup.length, true);
  const next = cmb.chat(3, ChatChannel.Zone, 'in 3');
  b.message(ws2, next, 0, next.length, true);
  assert.deepEqual(writes.map((w) => [w.owner, w.type, w.session]), [[1, ToZone.input, S]]);
  assert.equal(metrics.duplicates.total(), 1);
  // And frames acknowledge it.
  say(b, S, 'line 7');
  b.flush();
  assert.equal(ws2.frames.at(-1)!.ack, 3);
});

test('a session moving while it crosses a portal carries its held inputs and its crossing, and finishes it on the new owner', () => {
  const { cores, writes, serviceRecords, joined } = setup();
  const [a, b] = cores as [SessionCore, SessionCore];
  const cmb = new ClientMessageBuilder();
  const ws1 = new FakeSocket(1);
  a.open(ws1);
  a.login(1, S, { name: 'bob', accountId: 6, guest: false }, 0, TOKEN_A, new Uint8Array(1), 0, 1);
  joined(a, S, 77);
  a.flush();
  // Zone 0 hands the player off through a portal; a fences it and holds the next input.
  const h = new Uint8Array(HandoffRecord.header);
  HandoffRecord.write(h, 0, 2);
  a.zoneRecord(0, FromZone.handoff, S, h, 0, h.length);
  assert.deepEqual(serviceRecords.map((r) => r.type), [FromZone.joined, FromZone.handoff], 'the service hears the join and the handoff');
  const in1 = cmb.move(1, 10, 10);
  a.message(ws1, in1, 0, in1.length, true);
  // The old zone bounces an input it had.
  const old = cmb.move(0, 9, 9);
  a.zoneRecord(0, FromZone.bounce, S, old, 0, old.length);
  assert.equal(writes.filter((w) => w.type === ToZone.input).length, 0, 'nothing goes to a zone mid-crossing');

  // A move asked now waits for the crossing (no rebind yet) ...
  writes.length = 0;
  const ws2 = new FakeSocket(2);
  b.open(ws2);
  b.expect(S);
  a.migrate(S, 1);
  assert.equal(writes.length, 0, 'no rebind while crossing');
  // ... the crossing completes on a (fence answered, target named), then the move happens.
  a.zoneRecord(0, FromZone.fenceAck, S, new Uint8Array(0), 0, 0);
  a.moveZone(S, 1, 5, 6, new Uint8Array(2), 0, 2);
  assert.deepEqual(
    writes.map((w) => [w.owner, w.zone, w.type]),
    [
      [0, 1, ToZone.join],
      [0, 1, ToZone.input],
      [0, 1, ToZone.input],
      [0, 1, ToZone.rebind],
    ],
    'the join, the bounced input then the held one, then the rebind, all to the new zone from a',
  );
  a.zoneRecord(1, FromZone.moved, S, new Uint8Array(0), 0, 0);
  b.resume(2, S, 0, TOKEN_B);
  b.flush();
  assert.equal(b.sessions.get(S)!.zone, 1, 'in its new zone on b');
  assert.equal(b.sessions.get(S)!.inTransit, false);
});

test('export records round-trip the numbers and frames a session owner needs', () => {
  const { cores, say, joined } = setup();
  const [a] = cores as [SessionCore, SessionCore];
  const ws = new FakeSocket(1);
  a.open(ws);
  a.login(1, S, { name: 'çava', accountId: -3, guest: true }, 0, TOKEN_A, new Uint8Array(1), 0, 1);
  joined(a, S, 99);
  say(a, S, 'x');
  a.flush();
  say(a, S, 'y');
  a.flush();
  const records: Array<{ type: number; bytes: Uint8Array }> = [];
  a.control = { ...a.control, exported: (type, _id, d, o, l) => void records.push({ type, bytes: d.slice(o, o + l) }) };
  a.exportSession(a.sessions.get(S)!);
  assert.deepEqual(records.map((r) => r.type), [SessionExport.begin, SessionExport.frame, SessionExport.frame, SessionExport.end]);
  const fresh = setup().cores[1]!;
  for (const r of records) fresh.adopt(r.type, S, r.bytes, 0, r.bytes.length);
  const s = fresh.sessions.get(S)!;
  assert.equal(s.identity.name, 'çava');
  assert.equal(s.identity.accountId, -3);
  assert.equal(s.identity.guest, true);
  assert.equal(s.entity, 99);
  assert.equal(s.outSeq, 2);
  assert.equal(s.replay.frames, 2);
  assert.deepEqual(Array.from(s.token), Array.from(TOKEN_A));
});
