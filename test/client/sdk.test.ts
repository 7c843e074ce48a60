// The client SDK against the protocol-speaking test double (test/helpers/fake-server.ts):
// commands and events, the local model, reconnect with full-jitter backoff,
// resume with replay dedupe and input re-send, retry hints, and the close codes
// that end a client.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { connect, type ClientEvents, type MmoClient, type ReconnectingEvent, type WebSocketConstructor } from '../../src/client/index.js';
import { nextEvent } from '../helpers/client-events.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { FakeServer } from '../helpers/fake-server.js';
import { DeltaBuilder, ServerMessageBuilder } from '../../src/protocol/build.js';
import { ErrorCode, MoveReject } from '../../src/protocol/codes.js';
import { waitFor } from '../helpers/wait.js';

const clients: MmoClient[] = [];
const servers: FakeServer[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

async function server(): Promise<FakeServer> {
  const s = await FakeServer.start();
  servers.push(s);
  return s;
}

function client(url: string, opts: Parameters<typeof connect>[1] = {}): MmoClient {
  const c = connect(url, { guestName: 'tester', backoffBaseMs: 10, backoffCapMs: 50, ...opts });
  clients.push(c);
  return c;
}

/** The next `event` matching pred, or a rejection after `ms` (5000 ms here). */
function next<K extends keyof ClientEvents>(c: MmoClient, event: K, pred: (p: ClientEvents[K]) => boolean = () => true, ms = 5000): Promise<ClientEvents[K]> {
  return nextEvent(c, event, pred, ms);
}

/** Against the in-process fake server: poll every 5 ms. */
const until = (cond: () => boolean, ms = 5000): Promise<void> => waitFor(cond, ms, 'the condition', 5);

test('connect, welcome and snapshot, a round of every command, ping, clean close', async () => {
  const srv = await server();
  const c = client(srv.url);
  const snapshot = next(c, 'snapshot');
  const w = await next(c, 'welcome');
  assert.equal(w.resumed, false);
  assert.equal(w.name, 'tester');
  assert.equal(w.tickRate, 20);
  assert.equal(c.entityId, w.entityId);
  assert.equal(c.playerId, c.entityId, 'the deprecated alias still answers');
  const snap = await snapshot;
  assert.equal(snap.zone, 3);
  assert.equal(c.entities.get(7)?.name, 'wolf');
  assert.equal(c.self?.inventory[0]?.count, 2);

  const rtt = await c.ping();
  assert.ok(rtt >= 0 && rtt < 5000, `rtt ${rtt}`);

  const moved = next(c, 'update', (v) => v.id === c.entityId);
  const seq = c.move(12.5, 30.25);
  const me = await moved;
  assert.equal(me.x, 12.5);
  assert.equal(me.y, 30.25);
  assert.equal(c.entities.get(c.entityId)!.x, 12.5, 'the model is updated in place');

  const dmg = next(c, 'damage');
  c.attack(7);
  const d = await dmg;
  assert.deepEqual({ ...d }, { attacker: c.entityId, target: 7, amount: 10, hpLeft: 40 });
  assert.equal(c.entities.get(7)!.hp, 40);

  const item = next(c, 'item');
  c.interact(7, 1);
  assert.deepEqual(await item, { item: 5, count: 1, total: 1 });

  const chat = next(c, 'chat');
  const last = c.chat(1, 'héllo 🌍');
  assert.deepEqual(await chat, { channel: 1, fromId: c.entityId, fromName: 'tester', text: 'héllo 🌍' });

  assert.equal(last, seq + 3, 'inputs carry increasing seq');
  await until(() => c.ackedInput === last);
  assert.equal(c.pendingInputs, 0, 'acknowledged inputs are forgotten');
  assert.deepEqual(
    srv.inputs.map((i) => i.type),
    ['move', 'attack', 'interact', 'chat'],
  );

  const closed = next(c, 'close');
  c.close();
  assert.deepEqual(await closed, { code: 1000, reason: 'client closed' });
  assert.ok(c.closed);
  await until(() => srv.onlySession.ws === null);
  await assert.rejects(c.ping(), { code: 'MMO_ERR_NOT_CONNECTED' });
});

test('a dropped connection resumes: replay after last_seq, overlap ignored, unacknowledged inputs re-sent once', async () => {
  const srv = await server();
  const c = client(srv.url);
  await next(c, 'snapshot');
  const chats: string[] = [];
  c.on('chat', (m) => chats.push(m.text ?? ''));
  const s = srv.onlySession;
  srv.pushChat(s, ['a']);
  srv.pushChat(s, ['b']);
  await until(() => chats.length === 2);
  const seqBefore = c.lastSeq;

  // Inputs the server accepts but whose ack the client never sees...
  srv.freezeAcks = true;
  const m1 = c.move(1, 1);
  await until(() => srv.inputs.length === 1);
  // ...then the network fails; while it is down the server queues frames and the player keeps moving.
  const reconnecting = next(c, 'reconnecting');
  srv.dropAll();
  const r = await reconnecting;
  assert.equal(r.code, 1006);
  assert.equal(r.attempt, 1);
  srv.pushChat(s, ['c', 'd']);
  const m2 = c.move(2, 2);
  srv.freezeAcks = false;
  srv.replayOverlap = 2; // the server also replays 2 frames the client already has

  const resumed = next(c, 'resumed');
  const w = await next(c, 'welcome');
  assert.equal(w.resumed, true);
  assert.equal(w.sessionId, s.id);
  assert.deepEqual(await resumed, { replayed: 1 });
  await until(() => chats.length === 4 && c.ackedInput === m2);
  assert.deepEqual(chats, ['a', 'b', 'c', 'd'], 'each frame processed once, in order');
  assert.ok(c.stats.duplicateFrames >= 2, `duplicates ${c.stats.duplicateFrames}`);
  assert.ok(c.lastSeq > seqBefore);
  assert.deepEqual(
    srv.inputs.map((i) => i.seq),
    [m1, m2],
    'each input accepted exactly once',
  );
  assert.equal(srv.duplicates, 1, 'the re-sent m1 was a duplicate the server dropped');
  assert.equal(c.stats.resumes, 1);
  assert.equal(srv.upgrades, 2);
});

test('backoff is full jitter: random(0, min(cap, base * 2^attempt)) per consecutive failure', async () => {
  const srv = await server();
  srv.refuseNext(5, 503);
  const events: ReconnectingEvent[] = [];
  const c = client(srv.url, { backoffBaseMs: 8, backoffCapMs: 50, random: () => 0.999999 });
  c.on('reconnecting', (e) => events.push(e));
  await next(c, 'welcome');
  assert.deepEqual(
    events.map((e) => e.delayMs),
    [7, 15, 31, 49, 49],
  );
  assert.deepEqual(
    events.map((e) => e.attempt),
    [1, 2, 3, 4, 5],
  );
  assert.ok(events.every((e) => e.reason === 'upgrade refused: HTTP 503' && e.hintMs === 0));

  // After a Welcome the attempt count starts over; random() = 0.5 halves the ceiling.
  const c2 = client(srv.url, { backoffBaseMs: 100, backoffCapMs: 1000, random: () => 0.5 });
  await next(c2, 'welcome');
  const r = next(c2, 'reconnecting');
  srv.dropAll();
  assert.equal((await r).delayMs, 50);
});

test('retry hints: 429 x-retry-after-ms and retry-after, and a 4200 close reason, delay the next attempt', async () => {
  const srv = await server();
  srv.refuseNext(1, 429, { 'retry-after': '1', 'x-retry-after-ms': '120' });
  const c = client(srv.url, { random: () => 0 });
  const r1 = await next(c, 'reconnecting');
  assert.deepEqual({ delayMs: r1.delayMs, hintMs: r1.hintMs, reason: r1.reason }, { delayMs: 120, hintMs: 120, reason: 'upgrade refused: HTTP 429' });
  const t0 = Date.now();
  await next(c, 'welcome');
  assert.ok(Date.now() - t0 >= 100, 'the attempt waited for the hint');

  srv.refuseNext(1, 429, { 'retry-after': '2' });
  const r2 = next(c, 'reconnecting', (e) => e.hintMs > 0);
  srv.dropAll();
  assert.equal((await r2).hintMs, 2000);
  c.close();

  const c2 = client(srv.url, { random: () => 0 });
  await next(c2, 'welcome');
  const r3 = next(c2, 'reconnecting');
  srv.closeAll(CloseCode.tryAgainLater, 'busy; retry-after-ms=75');
  const e3 = await r3;
  assert.equal(e3.code, 4200);
  assert.equal(e3.delayMs, 75);
  await next(c2, 'resumed');
});

test('close codes that are not retryable end the client without reconnecting', async () => {
  const srv = await server();
  for (const code of [CloseCode.authFailed, CloseCode.malformed, CloseCode.takenOver]) {
    const c = client(srv.url);
    await next(c, 'welcome');
    let reconnects = 0;
    c.on('reconnecting', () => reconnects++);
    const closed = next(c, 'close');
    for (const s of srv.sessions.values()) if (s.ws) s.ws.close(code, 'bye');
    assert.deepEqual(await closed, { code, reason: 'bye' });
    assert.equal(reconnects, 0);
    assert.ok(c.closed);
  }
  const before = srv.upgrades;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.upgrades, before, 'nobody came back');

  // Kicked: the message, then the close.
  const k = client(srv.url);
  await next(k, 'welcome');
  const kicked = next(k, 'kicked');
  const closed = next(k, 'close');
  srv.kickAll(CloseCode.kicked, 'banned');
  assert.deepEqual(await kicked, { code: 4103, reason: 'banned' });
  assert.equal((await closed).code, 4103);

  // An unsupported protocol version.
  const v = client(srv.url, { protocolVersion: 99 });
  assert.equal((await next(v, 'close')).code, CloseCode.versionMismatch);

  // A refused resume.
  const rr = client(srv.url);
  await next(rr, 'welcome');
  srv.refuseResume = true;
  const rc = next(rr, 'close');
  for (const s of srv.sessions.values()) if (s.ws) s.ws.terminate();
  assert.equal((await rc).code, CloseCode.resumeRefused);
  srv.refuseResume = false;
});

test('gives up after maxAttempts consecutive failures', async () => {
  const srv = await server();
  srv.refuseNext(100, 503);
  const c = client(srv.url, { maxAttempts: 3, backoffBaseMs: 1, backoffCapMs: 2 });
  const closed = await next(c, 'close');
  assert.equal(closed.reason, 'upgrade refused: HTTP 503');
  assert.equal(srv.refusedUpgrades, 4, 'the first try and 3 retries');
  assert.equal(c.stats.reconnects, 3);
});

test('a malformed or text frame from the server drops that connection and resumes', async () => {
  const srv = await server();
  const c = client(srv.url);
  await next(c, 'snapshot');
  const r = next(c, 'reconnecting');
  srv.sendRaw(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
  assert.match((await r).reason, /^malformed frame: /);
  await next(c, 'resumed');
  const r2 = next(c, 'reconnecting');
  srv.sendRaw('hello');
  assert.equal((await r2).reason, 'text frame');
  await next(c, 'resumed');
  assert.equal(c.stats.malformedFrames, 2);
  assert.equal(await c.ping().then((ms) => typeof ms), 'number');
});

test('options: localAddress binds the source address; a WebSocket implementation override is used', async () => {
  const srv = await server();
  let made = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: Record<string, unknown>) {
      super(url, protocols, options);
      made++;
    }
  }
  const c = client(srv.url, { localAddress: '127.0.0.7', WebSocket: Counting as unknown as WebSocketConstructor });
  await next(c, 'welcome');
  assert.equal(made, 1);
  assert.equal(srv.remoteAddresses.at(-1), '127.0.0.7');
});

test('inputs queued before the welcome are sent once it arrives; the pending list is bounded', async () => {
  const srv = await server();
  const c = client(srv.url, { maxPendingInputs: 3 });
  c.move(1, 1);
  c.move(2, 2);
  c.move(3, 3);
  c.move(4, 4); // drops the oldest
  assert.equal(c.pendingInputs, 3);
  assert.equal(c.stats.inputsDropped, 1);
  await next(c, 'welcome');
  await until(() => srv.inputs.length === 3);
  assert.deepEqual(
    srv.inputs.map((i) => i.seq),
    [2, 3, 4],
  );
});

test('every server message type reaches the SDK as its event, and the model follows', async () => {
  const srv = await server();
  const c = client(srv.url);
  await next(c, 'snapshot');
  const s = srv.onlySession;
  const sm = new ServerMessageBuilder();
  const db = new DeltaBuilder();
  const seen: string[] = [];
  for (const ev of ['enter', 'update', 'leave', 'damage', 'death', 'respawn', 'zone', 'self', 'levelUp', 'item', 'moveRejected', 'error', 'tick'] as const) {
    c.on(ev, () => seen.push(ev));
  }
  db.begin(50);
  db.addEnter(90, 1, 5, 6, 30, 30, 2, 'boar', 0);
  db.addUpdate(90, 7, 8, 25, 2, 64);
  db.addDamage(c.entityId, 90, 25, 0);
  db.addDeath(90, c.entityId);
  const d1 = db.finish().slice();
  db.begin(51);
  db.addLeave(7);
  const d2 = db.finish().slice();
  const ticks: number[] = [];
  c.on('tick', (t) => ticks.push(t.tick));
  const deaths: { entity: number; killer: number }[] = [];
  c.on('death', (d) => deaths.push({ ...d }));
  const left: number[] = [];
  c.on('leave', (v) => left.push(v.id));
  srv.push(s, [d1]);
  await until(() => ticks.includes(50));
  const boar = c.entities.get(90)!;
  assert.deepEqual({ ...boar }, { id: 90, kind: 1, x: 7, y: 8, hp: 0, maxHp: 30, level: 2, name: 'boar', flags: 3, dir: 64 });
  assert.deepEqual(deaths, [{ entity: 90, killer: c.entityId }]);
  srv.push(s, [d2]);
  await until(() => ticks.includes(51));
  assert.deepEqual(left, [7]);
  assert.equal(c.entities.has(7), false);

  const zone = next(c, 'zone');
  const err = next(c, 'error');
  const rejected = next(c, 'moveRejected');
  // 'self' hands out the live model: copy it in the listener to see it as it was at that event.
  let selfAtEvent: unknown = null;
  c.on('self', (v) => {
    selfAtEvent = structuredClone(v);
  });
  const level = next(c, 'levelUp');
  const respawn = next(c, 'respawn');
  srv.push(s, [
    sm.selfState(80, 120, 4, 900, 3.5, 4.5, [7, 1, 9, 3]).slice(),
    sm.levelUp(5, 1000).slice(),
    sm.respawn(1.25, 2.5, 120).slice(),
    sm.zoneChanged(4, 'Mines', 10.5, 11.5).slice(),
    sm.error(ErrorCode.cooldown, 'too soon', 12).slice(),
    sm.moveRejected(13, 2, 3, MoveReject.obstacle).slice(),
  ]);
  await respawn;
  assert.deepEqual(selfAtEvent, { hp: 80, maxHp: 120, level: 4, xp: 900, x: 3.5, y: 4.5, inventory: [{ item: 7, count: 1 }, { item: 9, count: 3 }] });
  assert.deepEqual(await level, { level: 5, xp: 1000 });
  assert.deepEqual(await respawn, { x: 1.25, y: 2.5, hp: 120 });
  assert.deepEqual(await zone, { zone: 4, name: 'Mines', x: 10.5, y: 11.5 });
  assert.deepEqual(await err, { code: ErrorCode.cooldown, reason: 'too soon', refSeq: 12 });
  assert.deepEqual(await rejected, { refSeq: 13, x: 2, y: 3, reason: MoveReject.obstacle });
  // Position: respawn, then the zone change, then MoveRejected (the last word: the client snaps to it).
  assert.deepEqual(c.self, { hp: 120, maxHp: 120, level: 5, xp: 1000, x: 2, y: 3, inventory: [{ item: 7, count: 1 }, { item: 9, count: 3 }] });
  assert.equal(c.zone, 4);
  assert.deepEqual(
    [...new Set(seen)].sort(),
    ['damage', 'death', 'enter', 'error', 'leave', 'levelUp', 'moveRejected', 'respawn', 'self', 'tick', 'update', 'zone'],
  );
});

test('processed frames are acknowledged about once per ackIntervalMs, never beyond what was processed', async () => {
  const srv = await server();
  const c = client(srv.url, { ackIntervalMs: 30 });
  await next(c, 'snapshot');
  for (let i = 0; i < 5; i++) {
    c.move(10 + i, 10);
    await next(c, 'update', (v) => v.id === c.entityId);
    await new Promise((r) => setTimeout(r, 40));
  }
  c.move(20, 10);
  await next(c, 'update', (v) => v.id === c.entityId);
  await until(() => srv.onlySession.clientAck > 0);
  assert.ok(srv.onlySession.clientAck <= c.lastSeq, `acked ${srv.onlySession.clientAck} > processed ${c.lastSeq}`);
  assert.ok(srv.onlySession.clientAck >= c.lastSeq - 1, `acks keep up: ${srv.onlySession.clientAck} vs ${c.lastSeq}`);
  const quiet = connect(srv.url, { guestName: 'quiet', ackIntervalMs: 0 });
  clients.push(quiet);
  await next(quiet, 'snapshot');
  quiet.move(11, 10);
  await next(quiet, 'update');
  await new Promise((r) => setTimeout(r, 50));
  const qs = [...srv.sessions.values()].find((x) => x.name === 'quiet')!;
  assert.equal(qs.clientAck, 0, 'ackIntervalMs 0 disables acks');
});

test('close() while the upgrade is still pending does not crash the process later', async () => {
  // A server that accepts TCP and never answers the upgrade.
  const net = await import('node:net');
  const srv = net.createServer(() => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const c = connect(`ws://127.0.0.1:${port}/ws`, { guestName: 'x' });
    const closed = c.once('close');
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    await closed;
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    srv.close();
  }
});
