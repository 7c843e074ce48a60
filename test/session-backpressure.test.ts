// Slow consumers: a client that stops reading never makes the server buffer
// without bound. Past sessions.lagBytes its position deltas are dropped (and
// replaced by one snapshot when it catches up) while everything else still
// reaches it exactly once; past net.maxBackpressure its socket is closed with
// 4201 and its session waits as a zombie to be resumed.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket as NetSocket } from 'node:net';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';
import { connect, ChatChannel } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { waitFor } from './helpers/wait.js';
import { setTimeout as sleep } from 'node:timers/promises';

const LIMITS = [
  '--zones.count=1',
  '--zones.size=128',
  '--zones.npcsPerZone=0',
  '--world.movement.maxSpeed=200',
  '--world.movement.teleportDistance=100',
  '--sessions.chatPerSec=1000',
  '--sessions.chatBurst=10000',
  '--sessions.inputsPerSec=10000',
  '--sessions.inputBurst=100000',
  '--sessions.floodStrikes=1000000',
  // The cost budgets would stop the floods this file needs to back a socket up.
  '--admission.budgetPerSec=100000000',
  '--admission.budgetBurst=1000000000',
  '--admission.accountBudgetPerSec=100000000',
  '--admission.accountBudgetBurst=1000000000',
];
const TEXT = 'x'.repeat(480);

function tcp(c: RawClient): NetSocket {
  return (c.ws as unknown as { _socket: NetSocket })._socket;
}

/** The entities a raw client's frames describe (snapshots reset, deltas apply), positions in world units. */
function model(c: RawClient): Map<number, { x: number; y: number }> {
  const m = new Map<number, { x: number; y: number }>();
  for (const f of c.frames) {
    for (const msg of f.messages) {
      if (msg.type === 'snapshot') {
        m.clear();
        for (const e of msg.entities) m.set(e.id, { x: e.x, y: e.y });
      } else if (msg.type === 'delta') {
        for (const e of msg.enters) m.set(e.id, { x: e.x, y: e.y });
        for (const u of msg.updates) {
          const v = m.get(u.id);
          if (v) {
            v.x = u.x;
            v.y = u.y;
          }
        }
        for (const id of msg.leaves) m.delete(id);
      }
    }
  }
  return m;
}

describe('past lagBytes: deltas are coalesced, everything else arrives, a snapshot brings the view back', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: [...LIMITS, '--sessions.lagBytes=16384', '--net.maxBackpressure=268435456'] });
  });
  after(async () => {
    await s.stop();
  });

  test('a client that stops reading, then reads again', { timeout: 90_000 }, async () => {
    const slow = await RawClient.open(s.wsUrl);
    slow.hello('slowpoke');
    const w = await slow.welcome();
    await slow.until(() => slow.find('snapshot') !== undefined);
    const me = slow.find('snapshot')!.self!;
    const mover = connect(s.wsUrl, { guestName: 'mover' });
    const moverErrors: string[] = [];
    mover.on('error', (e) => moverErrors.push(`${e.code} ${e.reason ?? ""} (seq ${e.refSeq})`));
    await mover.once('snapshot');
    // The mover walks next to the slow client (speed limit raised for the test).
    let x = mover.self!.x;
    let y = mover.self!.y;
    while (Math.hypot(x - me.x, y - me.y) > 4) {
      const d = Math.hypot(me.x - x, me.y - y);
      const step = Math.min(8, d - 3);
      x += ((me.x - x) / d) * step;
      y += ((me.y - y) / d) * step;
      mover.move(x, y);
      await sleep(60);
    }
    await waitFor(() => model(slow).has(mover.entityId), 5000, 'the slow client sees the mover');

    tcp(slow).pause();
    const coalescedBefore = (await metricValue(s.url, 'mmo_net_deltas_coalesced_total')) ?? 0;
    let sent = 0;
    // Large whispers fill the kernel's buffers and then uWS's; the mover keeps moving.
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 25; i++) mover.chat(ChatChannel.Whisper, `${++sent} ${TEXT}`, w.name);
      x = me.x + 2 + (round % 2);
      mover.move(x, y);
      await sleep(20);
      if (round % 20 === 19 && ((await metricValue(s.url, 'mmo_net_deltas_coalesced_total')) ?? 0) > coalescedBefore + 20) break;
    }
    assert.ok(((await metricValue(s.url, 'mmo_net_deltas_coalesced_total')) ?? 0) > coalescedBefore, 'deltas were coalesced while the client was backed up');
    assert.equal(slow.closed, null);
    // The mover settles somewhere new, then the slow client reads again.
    x = me.x + 3.5;
    y = me.y + 1.25;
    mover.move(x, y);
    await sleep(300);
    tcp(slow).resume();
    const heard = () => slow.messages().flatMap((m) => (m.type === 'chat' ? [Number((m.text ?? '').split(' ')[0])] : []));
    await waitFor(() => heard().length >= sent, 60_000, () => {
      const got = new Set(heard());
      const missing = Array.from({ length: sent }, (_, i) => i + 1).filter((n) => !got.has(n));
      return `${sent} whispers: ${got.size} arrived, missing ${missing.length} (first ${missing.slice(0, 10).join(', ')}); slow closed ${JSON.stringify(slow.closed)}; mover errors ${moverErrors.length} ${moverErrors.slice(0, 5).join('; ')}; mover stats ${JSON.stringify(mover.stats)}`;
    });
    const whispers = slow.messages().flatMap((m) => (m.type === 'chat' ? [Number((m.text ?? '').split(' ')[0])] : []));
    assert.deepEqual(whispers, Array.from({ length: sent }, (_, i) => i + 1), 'every whisper exactly once, in order');
    await waitFor(() => {
      const v = model(slow).get(mover.entityId);
      return v !== undefined && Math.abs(v.x - x) < 0.07 && Math.abs(v.y - y) < 0.07;
    }, 10_000, 'the slow client sees the mover where it really is');
    assert.equal(slow.closed, null, 'never disconnected');
    mover.close();
    slow.close();
  });
});

describe('past net.maxBackpressure: the socket is closed (4201), the session waits to be resumed', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: [...LIMITS, '--sessions.lagBytes=16384', '--net.maxBackpressure=65536'] });
  });
  after(async () => {
    await s.stop();
  });

  test('a client that never reads is cut off, not buffered for without limit', { timeout: 90_000 }, async () => {
    const slow = await RawClient.open(s.wsUrl);
    slow.hello('stuck');
    const w = await slow.welcome();
    const talker = connect(s.wsUrl, { guestName: 'talker' });
    await talker.once('snapshot');
    tcp(slow).pause();
    let sent = 0;
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 25; i++) talker.chat(ChatChannel.Whisper, `${++sent} ${TEXT}`, w.name);
      await sleep(20);
      if (round % 10 === 9 && ((await metricValue(s.url, 'mmo_ws_closes_total{reason="slowConsumer"}')) ?? 0) > 0) break;
    }
    await waitFor(async () => ((await metricValue(s.url, 'mmo_ws_closes_total{reason="slowConsumer"}')) ?? 0) === 1, 10_000, 'slow consumer closed');
    assert.equal(await metricValue(s.url, 'mmo_sessions{state="zombie"}'), 1, 'the session lives on as a zombie');
    // The client eventually learns why, and comes back on its session.
    tcp(slow).resume();
    await slow.until(() => slow.closed !== null, 30_000, 'close');
    assert.ok([CloseCode.slowConsumer, 1006].includes(slow.closed!.code), `closed with ${slow.closed!.code}`);
    const back = await RawClient.open(s.wsUrl);
    back.resume(w.sessionId, Uint8Array.from(w.resumeToken), slow.lastSeq);
    const w2 = await back.welcome();
    assert.equal(w2.resumed, true);
    assert.equal(w2.entityId, w.entityId);
    talker.close();
    back.close();
  });
});
