// drop() / savedSession() / connect({ resume }) against a real server: a
// client that restarts (a tab reload) continues its session in a brand-new
// client object from the saved JSON: the same entity, the model it had, input
// seqs that continue (a count restarted at 1 would be dropped by the server
// as duplicates), its unacknowledged input delivered once, nothing doubled.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatChannel, CloseCode, connect, type ClientEvents, type MmoClient, type SavedSession } from '../../src/client/index.js';
import { nextEvent } from '../helpers/client-events.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Chat is rate-limited to 1/s after a burst of 5: these tests chat faster.
const ARGS = ['--zones.count=1', '--zones.npcsPerZone=0', '--sessions.chatPerSec=100', '--sessions.chatBurst=100'];
const servers: TestServer[] = [];
const clients: MmoClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

/** The next `event` matching pred, or a rejection after `ms` (15_000 ms here). */
function next<K extends keyof ClientEvents>(c: MmoClient, event: K, pred: (p: ClientEvents[K]) => boolean = () => true, ms = 15_000): Promise<ClientEvents[K]> {
  return nextEvent(c, event, pred, ms);
}

function client(url: string, opts: Parameters<typeof connect>[1]): MmoClient {
  const c = connect(url, { backoffBaseMs: 20, backoffCapMs: 100, ...opts });
  clients.push(c);
  return c;
}

test('a dropped client is continued by a new client object from its saved JSON: same entity, no doubled or lost input', { timeout: 60_000 }, async () => {
  const s = await startServer({ args: ARGS });
  servers.push(s);
  const watcher = client(s.wsUrl, { guestName: 'watcher' });
  await next(watcher, 'snapshot');
  const a = client(s.wsUrl, { guestName: 'player' });
  const snapA = next(a, 'snapshot');
  const wa = await next(a, 'welcome');
  await snapA;
  const heard: string[] = [];
  watcher.on('chat', (c) => {
    if (c.fromName === wa.name) heard.push(c.text ?? '');
  });
  const said = (text: string) => next(watcher, 'chat', (c) => c.fromName === wa.name && c.text === text);

  const one = said('one');
  a.chat(ChatChannel.Zone, 'one');
  await one;
  // 'two' leaves with the drop, before its ack can come back: it is pending in the saved session.
  const seqTwo = a.chat(ChatChannel.Zone, 'two');
  const closedA = next(a, 'close');
  const saved = a.drop();
  assert.ok(saved);
  assert.equal((await closedA).code, CloseCode.clientDropped);
  assert.ok(a.closed);
  assert.equal(saved.inputSeq, seqTwo);
  assert.equal(saved.entityId, wa.entityId);
  assert.equal(saved.sessionId, wa.sessionId);
  assert.ok(saved.pending.some((p) => p.seq === seqTwo), 'the unacknowledged input travels with the session');
  assert.ok(saved.entities.some((e) => e.id === watcher.entityId), 'the model travels with the session');

  // A tab reload: only the JSON survives.
  const json = JSON.stringify(saved);
  const b = client(s.wsUrl, { resume: JSON.parse(json) as SavedSession });
  const wb = await next(b, 'welcome');
  assert.equal(wb.resumed, true);
  assert.equal(wb.sessionId, wa.sessionId);
  assert.equal(b.entityId, wa.entityId, 'the same entity');
  assert.equal(b.stats.resumes, 1);
  assert.ok(b.entities.has(watcher.entityId), 'the new object sees what the old one saw');
  assert.ok(b.self !== null);

  const seqThree = b.chat(ChatChannel.Zone, 'three');
  assert.equal(seqThree, seqTwo + 1, 'input seqs continue from the saved counter');
  await said('three');
  const four = said('four');
  b.chat(ChatChannel.Zone, 'four');
  await four;
  assert.deepEqual(heard, ['one', 'two', 'three', 'four']);
});

test('a saved session with a restarted input count loses its inputs: why inputSeq travels (control)', { timeout: 60_000 }, async () => {
  const s = await startServer({ args: ARGS });
  servers.push(s);
  const watcher = client(s.wsUrl, { guestName: 'watcher2' });
  await next(watcher, 'snapshot');
  const a = client(s.wsUrl, { guestName: 'player2' });
  const snapA = next(a, 'snapshot');
  const wa = await next(a, 'welcome');
  await snapA;
  const heard: string[] = [];
  watcher.on('chat', (c) => {
    if (c.fromName === wa.name) heard.push(c.text ?? '');
  });
  for (const t of ['a', 'b', 'c']) {
    const got = next(watcher, 'chat', (c) => c.text === t);
    a.chat(ChatChannel.Zone, t);
    await got;
  }
  const saved = a.drop()!;
  // What a client that forgot the counter would do: number from 1 again.
  const forgot = client(s.wsUrl, { resume: { ...saved, inputSeq: 0, ackedInput: 0, pending: [] } });
  await next(forgot, 'welcome');
  forgot.chat(ChatChannel.Zone, 'lost'); // seq 1: at or below the last accepted (3), dropped
  const kept = next(watcher, 'chat', (c) => c.text === 'found');
  for (let i = 0; i < 3; i++) forgot.chat(ChatChannel.Zone, 'x'); // seqs 2..4: only 4 is new
  forgot.chat(ChatChannel.Zone, 'found'); // seq 5
  await kept;
  assert.deepEqual(heard, ['a', 'b', 'c', 'x', 'found']);
});

test('options.resume is checked: a bad saved session is refused naming the field', () => {
  assert.throws(() => connect('ws://127.0.0.1:1/ws', { resume: { v: 1 } as unknown as SavedSession, reconnect: false }), /options\.resume: sessionId must be a non-negative integer/);
  assert.throws(() => connect('ws://127.0.0.1:1/ws', { resume: null as unknown as SavedSession }), /options\.resume: must be the object/);
});
