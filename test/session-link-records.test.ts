// The link records between the main thread and a gateway thread's owner
// (session/link-records.ts): every CorePort call RemoteCore encodes comes
// out of deliverToOwner as the same call, every ControlPort call
// RemoteControl encodes comes out of deliverToService, through a real ring;
// and the producer that never refuses (ring/spill.ts) keeps their order when
// the ring is full.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpscRing, SpillingProducer } from '../src/ring/index.js';
import { RemoteCore, RemoteControl, deliverToOwner, deliverToService } from '../src/session/link-records.js';
import type { ControlPort, CorePort } from '../src/session/ports.js';
import type { Socket } from '../src/net/gateway.js';
import { SessionExport } from '../src/session/export.js';
import { ToCore, readLatin1, readCloseCode } from '../src/net/gateway-records.js';

type Call = [string, ...unknown[]];
const b = (d: Uint8Array, o: number, l: number): number[] => Array.from(d.subarray(o, o + l));

/** A CorePort that writes down each call with its arguments (bytes as arrays). */
function recordingCore(calls: Call[]): CorePort {
  return {
    login: (conn, id, who, zone, token, join, o, l) => void calls.push(['login', conn, id, who.name, who.accountId, who.guest, zone, Array.from(token), b(join, o, l)]),
    resume: (conn, id, last, token) => void calls.push(['resume', conn, id, last, Array.from(token)]),
    takeover: (conn, id, token) => void calls.push(['takeover', conn, id, Array.from(token)]),
    migrate: (id, to) => void calls.push(['migrate', id, to]),
    expect: (id) => void calls.push(['expect', id]),
    cancel: (id) => void calls.push(['cancel', id]),
    adopt: (type, id, d, o, l) => void calls.push(['adopt', type, id, b(d, o, l)]),
    end: (id, code, reason, text) => void calls.push(['end', id, code, reason, text]),
    stage: (id, d, o, l, unseq) => void calls.push(['stage', id, b(d, o, l), unseq]),
    toZone: (id, type, d, o, l) => void calls.push(['toZone', id, type, d ? b(d, o, l) : null]),
    moveZone: (id, zone, x, y, d, o, l) => void calls.push(['moveZone', id, zone, x, y, b(d, o, l)]),
    rejoin: (id, d, o, l) => void calls.push(['rejoin', id, b(d, o, l)]),
    rejoinBarrier: (zone) => void calls.push(['rejoinBarrier', zone]),
    mute: (id, on) => void calls.push(['mute', id, on]),
    fencesLost: (zone) => void calls.push(['fencesLost', zone]),
    zoneRecord: (zone, type, id, d, o, l) => void calls.push(['zoneRecord', zone, type, id, b(d, o, l)]),
  };
}

function link(capacity = 1 << 16) {
  const ring = SpscRing.create(capacity);
  const producer = new SpillingProducer(ring);
  const reader = new SpscRing(ring.buffer, 0);
  return { producer, reader };
}

test('every CorePort call crosses the ring as the same call', () => {
  const { producer, reader } = link();
  const rc = new RemoteCore(3);
  rc.attach({ sink: producer, commitSoon: () => {}, commitNow: () => producer.commit() });
  const token = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  rc.login(77, 1001, { name: 'Zoë', accountId: -5, guest: true }, 2, token, Uint8Array.of(9, 8, 7, 6), 1, 2);
  rc.resume(78, 1001, 123456, token);
  rc.takeover(79, 1001, token);
  rc.migrate(1001, 2);
  rc.expect(1002);
  rc.cancel(1003);
  rc.adopt(SessionExport.frame, 1001, Uint8Array.of(1, 2, 3), 0, 3);
  rc.end(1001, 4103, 9, 'kicked by an operator');
  rc.stage(1001, Uint8Array.of(5, 5, 5), 1, 2, true);
  rc.toZone(1001, 7, Uint8Array.of(1, 0, 0, 0), 0, 4);
  rc.toZone(1001, 5, null, 0, 0);
  rc.moveZone(1001, 3, 12.5, -4.25, Uint8Array.of(4, 4), 0, 2);
  rc.rejoin(1001, Uint8Array.of(6), 0, 1);
  rc.mute(1001, true);
  rc.fencesLost(2);
  rc.zoneRecord(1, 13, 1001, new Uint8Array(0), 0, 0);
  rc.alive = true;
  rc.rejoinBarrier(4);
  producer.commit();
  const calls: Call[] = [];
  const core = recordingCore(calls);
  reader.drain((type, session, d, o, l) => assert.ok(deliverToOwner(core, type, session, d, o, l), `record ${type} delivered`));
  const t = Array.from(token);
  assert.deepEqual(calls, [
    ['login', 77, 1001, 'Zoë', -5, true, 2, t, [8, 7]],
    ['resume', 78, 1001, 123456, t],
    ['takeover', 79, 1001, t],
    ['migrate', 1001, 2],
    ['expect', 1002],
    ['cancel', 1003],
    ['adopt', SessionExport.frame, 1001, [1, 2, 3]],
    ['end', 1001, 4103, 9, 'kicked by an operator'],
    ['stage', 1001, [5, 5], true],
    ['toZone', 1001, 7, [1, 0, 0, 0]],
    ['toZone', 1001, 5, null],
    ['moveZone', 1001, 3, 12.5, -4.25, [4, 4]],
    ['rejoin', 1001, [6]],
    ['mute', 1001, true],
    ['fencesLost', 2],
    ['zoneRecord', 1, 13, 1001, []],
    ['rejoinBarrier', 4],
  ]);
});

test('a barrier sent to a thread that is not up is answered at once; calls before its rings exist are dropped, not thrown', () => {
  const rc = new RemoteCore(0);
  const answered: number[] = [];
  rc.onDeadBarrier = (z) => answered.push(z);
  rc.rejoinBarrier(5);
  assert.deepEqual(answered, [5]);
  assert.doesNotThrow(() => rc.migrate(1, 2));
});

test('every ControlPort call crosses the ring as the same call, connections through gateway-records', () => {
  const { producer, reader } = link();
  const ctl = new RemoteControl({ sink: producer, commitSoon: () => {}, commitNow: () => producer.commit() });
  const ws = { getUserData: () => ({ id: 33, ip: '10.1.2.3', closeReason: -1, open: true, attachment: null, service: null }) } as unknown as Socket;
  ctl.open(ws);
  ctl.message(ws, Uint8Array.of(0, 1, 2, 3), 1, 2, true);
  ctl.zoneRecord(-1, 5, 1001, Uint8Array.of(7, 7), 0, 2);
  ctl.zoneRecord(3, 6, 1001, Uint8Array.of(8), 0, 1);
  ctl.whisper(1001, Uint8Array.of(1, 2), 0, 2);
  ctl.tokenConfirmed(1001);
  ctl.exported(SessionExport.end, 1001, new Uint8Array(0), 0, 0);
  ctl.rejoined(2);
  ctl.remoteZone(4, 2, 1001, Uint8Array.of(3), 0, 1);
  ctl.close(ws, 1006, 1);
  producer.commit();
  const calls: Call[] = [];
  const control: ControlPort = {
    open: () => calls.push(['open']),
    close: () => calls.push(['close']),
    message: () => calls.push(['message']),
    zoneRecord: (zone, type, id, d, o, l) => void calls.push(['zoneRecord', zone, type, id, b(d, o, l)]),
    whisper: (id, d, o, l) => void calls.push(['whisper', id, b(d, o, l)]),
    tokenConfirmed: (id) => void calls.push(['tokenConfirmed', id]),
    exported: (type, id, d, o, l) => void calls.push(['exported', type, id, b(d, o, l)]),
    rejoined: (zone) => void calls.push(['rejoined', zone]),
    remoteZone: (zone, type, id, d, o, l) => void calls.push(['remoteZone', zone, type, id, b(d, o, l)]),
  };
  reader.drain((type, session, d, o, l) => {
    if (deliverToService(control, type, session, d, o, l)) return;
    // The connections' own records (open, message, close) are the gateway's to decode.
    if (type === ToCore.open) calls.push(['conn open', session, readLatin1(d, o, l)]);
    else if (type === ToCore.message) calls.push(['conn message', session, b(d, o, l)]);
    else if (type === ToCore.close) calls.push(['conn close', session, readCloseCode(d, o)]);
    else assert.fail(`unknown record ${type}`);
  });
  assert.deepEqual(calls, [
    ['conn open', 33, '10.1.2.3'],
    ['conn message', 33, [1, 2]],
    ['zoneRecord', -1, 5, 1001, [7, 7]],
    ['zoneRecord', 3, 6, 1001, [8]],
    ['whisper', 1001, [1, 2]],
    ['tokenConfirmed', 1001],
    ['exported', SessionExport.end, 1001, []],
    ['rejoined', 2],
    ['remoteZone', 4, 2, 1001, [3]],
    ['conn close', 33, 1006],
  ]);
});

test('a full ring keeps every record, in order: they wait and go in as the reader makes room', () => {
  const { producer, reader } = link(4096);
  const sent: number[] = [];
  for (let i = 0; i < 200; i++) {
    const off = producer.reserve(1, i, 60);
    assert.ok(off >= 0);
    producer.data.fill(i & 0xff, off, off + 60);
    sent.push(i);
  }
  assert.ok(producer.waiting > 0, 'some had to wait');
  const got: number[] = [];
  for (let round = 0; round < 100 && got.length < sent.length; round++) {
    producer.commit();
    reader.drain((_type, session, d, o, l) => {
      assert.ok(d.subarray(o, o + l).every((x) => x === (session & 0xff)), `record ${session} intact`);
      got.push(session);
    });
  }
  assert.deepEqual(got, sent);
  assert.equal(producer.waiting, 0);
  assert.equal(producer.reserve(1, 0, 1 << 20), -1, 'a record the ring could never hold is refused, not queued forever');
});
