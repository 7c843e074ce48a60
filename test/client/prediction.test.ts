// client.self follows the player's own moves at once (prediction) and the
// server corrects it: the server's position replaces the prediction on an
// update, moves it has not acknowledged are reapplied over it, a move the
// server acknowledged but does not show gets one more update, then the
// server wins; MoveRejected, Respawn and ZoneChanged snap.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type MmoClient } from '../../src/client/index.js';
import { FakeServer, type FakeSession } from '../helpers/fake-server.js';
import { DeltaBuilder, ServerMessageBuilder } from '../../src/protocol/build.js';
import { MoveReject } from '../../src/protocol/codes.js';
import { waitFor } from '../helpers/wait.js';

const clients: MmoClient[] = [];
const servers: FakeServer[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

const until = (cond: () => boolean, ms = 5000): Promise<void> => waitFor(cond, ms, 'the condition', 5);

async function setup(): Promise<{ srv: FakeServer; c: MmoClient; s: FakeSession }> {
  const srv = await FakeServer.start();
  servers.push(srv);
  const c = connect(srv.url, { guestName: 'pred', backoffBaseMs: 10, backoffCapMs: 50 });
  clients.push(c);
  await until(() => c.self !== null);
  return { srv, c, s: srv.onlySession };
}

const db = new DeltaBuilder();
/** A sequenced frame stating the player at (x, y), carrying ack `ack`. */
function serverSays(srv: FakeServer, s: FakeSession, x: number, y: number, ack: number): void {
  s.frameAck = ack;
  db.begin(900);
  db.addUpdate(s.entityId, x, y, 100, 8, 0);
  srv.push(s, [db.finish().slice()]);
}

test('self follows the own move at once; the echoed update confirms it', async () => {
  const { srv, c } = await setup();
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 10, y: 10 });
  const seq = c.move(12.5, 30.25);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 12.5, y: 30.25 }, 'predicted before the server answers');
  await until(() => c.ackedInput === seq && c.serverPosition.x === 12.5);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 12.5, y: 30.25 });
  assert.equal(srv.inputs.length, 1);
});

test('the server position replaces the prediction; unacknowledged moves are reapplied over it', async () => {
  const { srv, c, s } = await setup();
  srv.freezeAcks = true; // moves accepted, acks withheld: the client still sees them as unacknowledged
  c.move(11, 10);
  c.move(12, 10);
  await until(() => srv.inputs.length === 2 && c.serverPosition.x === 12);
  serverSays(srv, s, 4, 5, 0); // knocked back, before either move is acknowledged
  await until(() => c.serverPosition.x === 4);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 12, y: 10 }, 'unacknowledged moves reapplied');
  // Both acknowledged and shown: confirmed; then a server-side move with nothing in flight wins at once.
  serverSays(srv, s, 12, 10, 2);
  await until(() => c.serverPosition.x === 12);
  serverSays(srv, s, 3, 3, 2);
  await until(() => c.serverPosition.x === 3);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 3, y: 3 }, 'the server corrects');
});

test('an acknowledged move the position does not show yet gets one more update, then the server wins', async () => {
  const { srv, c, s } = await setup();
  srv.freezeAcks = true;
  const m = c.move(15, 10);
  await until(() => srv.inputs.length === 1 && c.serverPosition.x === 15);
  serverSays(srv, s, 10, 10, m); // acknowledged, but the zone's tick had not applied it
  await until(() => c.serverPosition.x === 10);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 15, y: 10 }, 'one update of grace');
  serverSays(srv, s, 10, 10, m);
  await until(() => c.self!.x === 10);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 10, y: 10 });
});

test('MoveRejected snaps to the server position, keeping later moves; respawn and zone change snap and drop moves', async () => {
  const { srv, c, s } = await setup();
  const sm = new ServerMessageBuilder();
  srv.freezeAcks = true;
  const m1 = c.move(30, 10);
  const m2 = c.move(31, 10);
  await until(() => srv.inputs.length === 2);
  srv.push(s, [sm.moveRejected(m1, 10, 10, MoveReject.speed).slice()]);
  await until(() => c.serverPosition.x === 10);
  assert.deepEqual({ x: c.self!.x, y: c.self!.y }, { x: 31, y: 10 }, 'm2 still in flight');
  srv.push(s, [sm.moveRejected(m2, 10, 10, MoveReject.speed).slice()]);
  await until(() => c.self!.x === 10);
  c.move(20, 20);
  await until(() => c.serverPosition.x === 20); // echoed, still unacknowledged: the prediction holds it
  srv.push(s, [sm.respawn(1.5, 2.5, 100).slice()]);
  await until(() => c.self!.x === 1.5);
  assert.equal(c.self!.y, 2.5);
  c.move(2, 2);
  await until(() => c.serverPosition.x === 2);
  srv.push(s, [sm.zoneChanged(4, 'Mines', 7.5, 8.5).slice()]);
  await until(() => c.self!.x === 7.5);
  assert.equal(c.self!.y, 8.5);
});
