// A resume that lands on the wrong node: two server processes over a real
// nats-server and one PostgreSQL database. A player logged in on node A
// drops its socket (a load balancer would now send it elsewhere) and its
// Resume reaches node B, which does not hold the session: B asks the other
// nodes, A says it holds it, and B closes with 4301 resume-at=<A's URL>. The
// SDK sends the same Resume to A and is back in its session (same session
// id, same entity) with what was said meanwhile replayed, no new login. A
// resume no node holds (an unknown id, or a real id with a wrong token) is
// still refused 4101 by B.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricValue, type TestServer } from './helpers/server.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';
import { connect, ChatChannel, type MmoClient, type RedirectedEvent, type SavedSession } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
const clients: MmoClient[] = [];

before(async () => {
  // Started when each node hears the other and the URL it announced (a URL is announced once its gateway listens).
  cluster = await startCluster({
    nodes: [
      { id: 'a', zones: [1] },
      { id: 'b', zones: [2] },
    ],
  });
  [a, b] = cluster.nodes as [TestServer, TestServer];
});

after(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

function client(url: string, opts: Parameters<typeof connect>[1]): MmoClient {
  const c = connect(url, { localAddress: `127.0.5.${1 + (clients.length % 250)}`, ...opts });
  clients.push(c);
  return c;
}

test('a resume sent to node B for a session on node A is redirected to A: same session and entity, what was missed replayed, no new login', { timeout: 60_000 }, async () => {
  const mover = client(a.wsUrl, { guestName: 'mover' });
  const talker = client(a.wsUrl, { guestName: 'talker' });
  const moverIn = mover.once('snapshot');
  const [w] = await Promise.all([mover.once('welcome'), talker.once('welcome')]);
  await moverIn;
  const loginsBefore = await metricValue(a.url, 'mmo_session_logins_total{result="ok"}');
  const saved = mover.drop()!;
  assert.equal(saved.sessionId, w.sessionId);
  // A sees the socket go (the session is link-dead, kept as a zombie) before the chat.
  await waitFor(async () => ((await metricValue(a.url, 'mmo_sessions{state="zombie"}')) ?? 0) >= 1, 5000, 'A to hold the dropped session as a zombie');
  const heard = new Promise<void>((resolve) => talker.on('chat', (m) => m.text === 'said while you were away' && resolve()));
  talker.chat(ChatChannel.Global, 'said while you were away');
  await heard;
  await sleep(200); // the zombie's copy is staged in its replay by now

  // The load balancer sent the client to B.
  const back = client(b.wsUrl, { resume: saved });
  const redirected: RedirectedEvent[] = [];
  back.on('redirected', (e) => redirected.push(e));
  const missed: string[] = [];
  back.on('chat', (m) => missed.push(m.text ?? ''));
  let kicked = 0;
  back.on('kicked', (k) => {
    if (k.code !== CloseCode.movedTo) kicked++;
  });
  const welcome = await back.once('welcome');
  assert.deepEqual(redirected, [{ from: b.wsUrl, url: a.wsUrl }]);
  assert.equal(back.currentUrl, a.wsUrl);
  assert.equal(welcome.resumed, true, 'a resume, not a new login');
  assert.equal(welcome.sessionId, saved.sessionId, 'the same session');
  assert.equal(welcome.entityId, saved.entityId, 'the same entity');
  await waitFor(() => missed.includes('said while you were away'), 5000, () => `the missed chat replayed: ${JSON.stringify(missed)}`);
  assert.equal(missed.filter((t) => t === 'said while you were away').length, 1, 'once');
  assert.equal(back.stats.redirects, 1);
  assert.equal(back.stats.reconnects, 0);
  assert.equal(kicked, 0);
  assert.equal(await metricValue(a.url, 'mmo_session_logins_total{result="ok"}'), loginsBefore, 'no new login on A');
  assert.equal(await metricValue(b.url, 'mmo_cluster_resume_redirects_total'), 1);
  assert.equal(await metricValue(b.url, 'mmo_cluster_resume_lookups_total'), 1);
  // It plays on at A: its say comes back.
  const said = new Promise<void>((resolve) => back.on('chat', (m) => m.channel === ChatChannel.Say && m.text === 'back' && resolve()));
  back.chat(ChatChannel.Say, 'back');
  await said;
});

test('a resume no node holds is refused 4101 by B: an unknown session id, or a real one with a wrong token', { timeout: 60_000 }, async () => {
  const holder = client(a.wsUrl, { guestName: 'holder' });
  await holder.once('welcome');
  const real = holder.drop()!;
  const lookups = (await metricValue(b.url, 'mmo_cluster_resume_lookups_total')) ?? 0;
  const forged = (s: SavedSession, sessionId: number): SavedSession => ({ ...s, sessionId, resumeToken: randomBytes(Buffer.from(s.resumeToken!, 'base64').length).toString('base64') });
  for (const [what, saved] of [
    ['unknown session id', forged(real, 0x7fff_fff1 === real.sessionId ? 0x7fff_fff2 : 0x7fff_fff1)],
    ['wrong token', forged(real, real.sessionId)],
  ] as const) {
    const c = client(b.wsUrl, { resume: saved });
    let redirects = 0;
    c.on('redirected', () => redirects++);
    const closed = await c.once('close');
    assert.equal(closed.code, CloseCode.resumeRefused, what);
    assert.equal(redirects, 0, what);
  }
  assert.equal(await metricValue(b.url, 'mmo_cluster_resume_lookups_total'), lookups + 2, 'both were asked of A');
  assert.equal(await metricValue(b.url, 'mmo_cluster_resume_redirects_total'), 1, 'none sent anywhere');
  // The real session is untouched by the forged attempt: it still resumes (through B, to A).
  const ok = client(b.wsUrl, { resume: real });
  const w = await ok.once('welcome');
  assert.equal(w.resumed, true);
  assert.equal(w.sessionId, real.sessionId);
});
