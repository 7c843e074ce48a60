// options.relogin against a real server restarted under the clients: the
// restarted server no longer knows their sessions (the resume is refused with
// 4101); an account client logs in again as the same account (by credentials,
// or by its still-valid token) and says so in 'relogin'; a guest never comes
// back as someone new: 'reloginFailed', then 'close' 4101.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, register, type ClientEvents, type MmoClient } from '../../src/client/index.js';
import { nextEvent } from '../helpers/client-events.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';

const servers: TestServer[] = [];
const clients: MmoClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

const ARGS = (dataDir: string) => [`--server.dataDir=${dataDir}`, '--zones.count=1', '--zones.npcsPerZone=0', '--auth.scryptLogN=10', '--persist.writeIntervalMs=200'];

/** The next `event` matching pred, or a rejection after `ms` (20_000 ms here). */
function next<K extends keyof ClientEvents>(c: MmoClient, event: K, pred: (p: ClientEvents[K]) => boolean = () => true, ms = 20_000): Promise<ClientEvents[K]> {
  return nextEvent(c, event, pred, ms);
}

/** Resolves once the server acknowledged input `seq`. */
function acked(c: MmoClient, seq: number): Promise<void> {
  return waitFor(() => c.ackedInput >= seq, 10_000, () => `input ${seq} acknowledged (acked ${c.ackedInput})`);
}

/**
 * A TCP relay to whichever server is current, so the clients keep one URL
 * across the restart. (The restarted server cannot take the first one's port
 * at once: the first one's player connections linger on it in TIME_WAIT and
 * uWS's listen fails for a minute.)
 */
async function relay(): Promise<{ url: string; wsUrl: string; target: { port: number }; close(): void }> {
  const target = { port: 0 };
  const socks = new Set<Socket>();
  const srv = createServer((down) => {
    const up = netConnect({ host: '127.0.0.1', port: target.port });
    for (const s of [down, up]) {
      socks.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        socks.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    target,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

async function restart(dataDir: string): Promise<TestServer> {
  const s = await startServer({ args: ARGS(dataDir) });
  servers.push(s);
  return s;
}

function client(url: string, opts: Parameters<typeof connect>[1]): MmoClient {
  const c = connect(url, { backoffBaseMs: 50, backoffCapMs: 200, maxAttempts: 200, relogin: true, ...opts });
  clients.push(c);
  return c;
}

test('after a server restart: account clients log in again as the same account, a guest stops with reloginFailed', { timeout: 90_000 }, async () => {
  const dataDir = tempDir();
  const s1 = await startServer({ args: ARGS(dataDir) });
  servers.push(s1);
  const r = await relay();
  after(() => r.close());
  r.target.port = s1.port;
  const byPassword = { name: 'Relogger', password: 'a long passphrase' };
  await register(r.url, byPassword);
  const tokenGrant = await register(r.url, { name: 'Tokener', password: 'a long passphrase' });

  const a = client(r.wsUrl, { credentials: byPassword }); // first login by credentials too (POST /auth/login through the relay)
  const b = client(r.wsUrl, { token: tokenGrant.token });
  const g = client(r.wsUrl, { guestName: 'visitor' });
  const snapshots = Promise.all([a, b, g].map((c) => next(c, 'snapshot')));
  const [wa, wb] = await Promise.all([next(a, 'welcome'), next(b, 'welcome'), next(g, 'welcome')]);
  assert.equal(wa.name, 'Relogger');
  assert.equal(wb.name, 'Tokener');
  await snapshots;

  // A moves a little (the server sends no echo of an accepted move: its ack is the word); the restarted server must load it.
  const to = { x: a.serverPosition.x + 2, y: a.serverPosition.y };
  const seq = a.move(to.x, to.y);
  await acked(a, seq);

  const events: Array<keyof ClientEvents> = [];
  g.on('welcome', () => events.push('welcome'));
  const reloginA = next(a, 'relogin');
  const reloginB = next(b, 'relogin');
  const failedG = next(g, 'reloginFailed');
  const closedG = next(g, 'close');
  const snapshotA = next(a, 'snapshot', () => true, 60_000);

  assert.equal(await s1.stop('SIGTERM'), 0);
  r.target.port = (await restart(dataDir)).port;

  const ra = await reloginA;
  assert.equal(ra.name, 'Relogger');
  assert.equal(ra.previousSessionId, wa.sessionId);
  assert.equal(ra.previousEntityId, wa.entityId);
  assert.equal(ra.sessionId, a.sessionId);
  assert.ok(a.connected);
  const rb = await reloginB;
  assert.equal(rb.name, 'Tokener');
  assert.ok(b.connected);

  const fg = await failedG;
  assert.equal(fg.code, CloseCode.resumeRefused);
  assert.match(fg.reason, /guest/);
  assert.equal((await closedG).code, CloseCode.resumeRefused);
  assert.ok(g.closed);
  assert.deepEqual(events, [], 'the guest never logged in again (no new guest behind its back)');

  // The same character: where the first server saved it.
  await snapshotA;
  assert.ok(Math.abs(a.self!.x - to.x) < 0.1 && Math.abs(a.self!.y - to.y) < 0.1, `back at (${a.self!.x}, ${a.self!.y}), not (${to.x}, ${to.y})`);
  // And it plays on: input seqs keep counting up and the new session accepts them.
  const seq2 = a.move(to.x + 1, to.y);
  assert.ok(seq2 > seq);
  await acked(a, seq2);
  assert.equal(a.stats.inputsDropped, 0);
});

test('without relogin the client still ends with 4101 when the server forgot the session', { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  const s1 = await startServer({ args: ARGS(dataDir) });
  servers.push(s1);
  const r = await relay();
  after(() => r.close());
  r.target.port = s1.port;
  const grant = await register(r.url, { name: 'Plainer', password: 'a long passphrase' });
  const c = client(r.wsUrl, { token: grant.token, relogin: false });
  await next(c, 'welcome');
  const closed = next(c, 'close', () => true, 40_000);
  let relogins = 0;
  c.on('relogin', () => relogins++);
  assert.equal(await s1.stop('SIGTERM'), 0);
  r.target.port = (await restart(dataDir)).port;
  assert.equal((await closed).code, CloseCode.resumeRefused);
  assert.equal(relogins, 0);
});
