// Cluster redirects in the SDK: a node that does not hold the session closes
// a Resume with 4301 and `resume-at=<url>`; the client sends the same Resume
// (same session, token and last seq) to that URL at once, counts it in
// stats.redirects and says so in 'redirected'. Two nodes sending a client to
// each other end after three redirects with a 'close' 4301, not a loop. A
// `ws` server stands in for the redirecting node; the FakeServer holds the
// session.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { connect, type MmoClient, type RedirectedEvent } from '../../src/client/index.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { ClientMessage } from '../../src/protocol/generated/mmo/client-message.js';
import { ClientBody } from '../../src/protocol/generated/mmo/client-body.js';
import { Resume } from '../../src/protocol/generated/mmo/resume.js';
import { ByteBuffer } from 'flatbuffers';
import { FakeServer } from '../helpers/fake-server.js';

const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const s of stops) await s();
});

interface Redirector {
  url: string;
  /** The Resumes received: session id and last seq. */
  resumes: Array<{ session: number; lastSeq: number; token: string }>;
  /** Where it sends every Resume. */
  to: string;
}

/** A node that holds no session and sends every Resume to `to`. */
async function redirector(to: string): Promise<Redirector> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await once(wss, 'listening');
  const r: Redirector = { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, resumes: [], to };
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const m = ClientMessage.getRootAsClientMessage(new ByteBuffer(new Uint8Array(data)));
      if (m.bodyType() !== ClientBody.Resume) return ws.close(CloseCode.unexpectedMessage, 'resume only');
      const res = m.body(new Resume()) as Resume;
      r.resumes.push({ session: res.sessionId(), lastSeq: Number(res.lastSeq()), token: Buffer.from(res.tokenArray() ?? []).toString('hex') });
      ws.close(CloseCode.movedTo, `resume-at=${r.to}`);
    });
  });
  stops.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return r;
}

const clients: MmoClient[] = [];
stops.push(() => clients.forEach((c) => c.close()));

test('4301 resume-at=<url>: the same Resume goes to that URL at once; the session resumes there with what was missed', { timeout: 20_000 }, async () => {
  const srv = await FakeServer.start();
  stops.push(() => srv.stop());
  const a = connect(srv.url, { guestName: 'mover', backoffBaseMs: 5_000 });
  clients.push(a);
  await a.once('welcome');
  const saved = a.drop()!;
  srv.pushChat(srv.onlySession, ['while you were away']);
  const other = await redirector(srv.url);
  const b = connect(other.url, { resume: saved, backoffBaseMs: 5_000 });
  clients.push(b);
  const redirected: RedirectedEvent[] = [];
  b.on('redirected', (e) => redirected.push(e));
  const chats: string[] = [];
  b.on('chat', (m) => chats.push(m.text ?? ''));
  const w = await b.once('welcome');
  assert.equal(w.resumed, true, 'resumed, not logged in again');
  assert.equal(w.sessionId, saved.sessionId);
  assert.equal(b.entityId, saved.entityId);
  assert.deepEqual(redirected, [{ from: other.url, url: srv.url }]);
  assert.equal(b.currentUrl, srv.url);
  assert.equal(b.url, other.url, 'url stays the one it was created with');
  assert.deepEqual(other.resumes, [{ session: saved.sessionId, lastSeq: saved.lastSeq, token: Buffer.from(saved.resumeToken!, 'base64').toString('hex') }], 'the redirecting node got the saved Resume');
  assert.equal(b.stats.redirects, 1);
  assert.equal(b.stats.reconnects, 0, 'a redirect is no reconnect with backoff (backoffBaseMs is 5 s here)');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(chats, ['while you were away'], 'the frame missed while dropped was replayed');
});

test('two nodes sending a client to each other: it gives up after three redirects with close 4301', { timeout: 20_000 }, async () => {
  const srv = await FakeServer.start();
  stops.push(() => srv.stop());
  const a = connect(srv.url, { guestName: 'pingpong' });
  clients.push(a);
  await a.once('welcome');
  const saved = a.drop()!;
  const x = await redirector('');
  const y = await redirector(x.url);
  x.to = y.url;
  const c = connect(x.url, { resume: saved });
  clients.push(c);
  const closed = await c.once('close');
  assert.equal(closed.code, CloseCode.movedTo);
  assert.equal(closed.reason, `resume-at=${x.url}`, "the fourth answer (from y) is not followed");
  assert.equal(c.stats.redirects, 3);
  assert.equal(x.resumes.length + y.resumes.length, 4, 'the first Resume and three redirected ones');
  assert.equal(c.closed, true);
});

test('a 4301 whose reason is not resume-at=<ws url> is not followed', { timeout: 20_000 }, async () => {
  const srv = await FakeServer.start();
  stops.push(() => srv.stop());
  const a = connect(srv.url, { guestName: 'badurl' });
  clients.push(a);
  await a.once('welcome');
  const saved = a.drop()!;
  const x = await redirector('');
  x.to = 'http://127.0.0.1:1/ws';
  const c = connect(x.url, { resume: saved });
  clients.push(c);
  const closed = await c.once('close');
  assert.equal(closed.code, CloseCode.movedTo);
  assert.equal(c.stats.redirects, 0);
  assert.equal(x.resumes.length, 1);
});
