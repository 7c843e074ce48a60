// Two server processes sharing one world over a real nats-server and one
// PostgreSQL database, each running one of the two zones. New players are
// spread over both zones by each gateway, so every combination exists: a
// player on gateway A in A's zone, one on A in B's zone, and the same on B.
// Whispers between gateways arrive once, global chat reaches every zone of
// both nodes once, a player walks through the portals into the other node's
// zone and back without reconnecting (nothing lost or doubled), and when B
// is SIGKILLed, A's /readyz reports B's zone down within
// cluster.nodeTimeoutMs and A's players who were in it are told and
// disconnected while the others play on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricValue, type TestServer } from './helpers/server.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { ErrorCode } from '../src/protocol/codes.js';

const SIZE = 128;
const HEARTBEAT_MS = 200;
const NODE_TIMEOUT_MS = 2000;

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
const clients: MmoClient[] = [];
const names = new Map<MmoClient, string>();
const nameOf = (c: MmoClient): string => names.get(c)!;

async function readyz(s: TestServer): Promise<{ status: number; body: { status: string; components: Record<string, string> } }> {
  const r = await fetch(`${s.url}/readyz`);
  return { status: r.status, body: (await r.json()) as { status: string; components: Record<string, string> } };
}

before(async () => {
  cluster = await startCluster({
    nodes: [
      { id: 'a', zones: [1] },
      { id: 'b', zones: [2] },
    ],
    heartbeatMs: HEARTBEAT_MS,
    nodeTimeoutMs: NODE_TIMEOUT_MS,
    args: ['--world.movement.maxSpeed=64', '--sessions.chatPerSec=200', '--sessions.chatBurst=200', '--sessions.inputsPerSec=500', '--sessions.inputBurst=500', '--debug.faultInjection=true'],
  });
  [a, b] = cluster.nodes as [TestServer, TestServer];
  // Each sees the other's zone up.
  await waitFor(async () => (await readyz(a)).body.components['zone-2'] === 'up' && (await readyz(b)).body.components['zone-1'] === 'up', 10_000, 'both nodes to see each other');
});

after(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

function client(url: string, name: string): MmoClient {
  const c = connect(url, { guestName: name, localAddress: `127.0.3.${1 + (clients.length % 250)}` });
  clients.push(c);
  names.set(c, `guest_${name}`);
  return c;
}

let a1: MmoClient; // on gateway A, in A's zone
let a2: MmoClient; // on gateway A, in B's zone
let b1: MmoClient; // on gateway B, in A's zone
let b2: MmoClient; // on gateway B, in B's zone

test('players on both gateways are spread over both nodes\' zones', { timeout: 60_000 }, async () => {
  // Each gateway puts a new player in its emptiest zone (ties: the first), local or not.
  const ca = client(a.wsUrl, 'ann');
  await ca.once('snapshot');
  const cb = client(a.wsUrl, 'abe');
  await cb.once('snapshot');
  const cc = client(b.wsUrl, 'bea');
  await cc.once('snapshot');
  const cd = client(b.wsUrl, 'bob');
  await cd.once('snapshot');
  [a1, a2] = ca.zone === 1 ? [ca, cb] : [cb, ca];
  [b1, b2] = cc.zone === 1 ? [cc, cd] : [cd, cc];
  assert.deepEqual([a1.zone, a2.zone, b1.zone, b2.zone], [1, 2, 1, 2]);
  // A player in the other node's zone is a player of that zone: moves are applied there and come back.
  // A's player in B's zone moves; B's player in that zone sees it (input A -> B's zone, output B's zone -> both gateways).
  const x1 = a2.self!.x + 1;
  const seq = a2.move(x1, a2.self!.y);
  await waitFor(() => a2.ackedInput >= seq && Math.abs((b2.entities.get(a2.playerId)?.x ?? -1) - x1) < 0.05, 5000, () => `the move in the remote zone seen by B's player: acked ${a2.ackedInput}/${seq}, seen at ${b2.entities.get(a2.playerId)?.x}, want ${x1}`);
  assert.equal(a2.stats.reconnects, 0);
  assert.ok(((await metricValue(b.url, 'mmo_cluster_proxies')) ?? 0) >= 1, 'B holds A\'s player in its zone');
  const st = (await (await fetch(`${a.url}/cluster`)).json()) as { node: string; owners: Record<string, string>; nodes: Array<{ id: string; alive: boolean; owned: number[] }> };
  assert.equal(st.node, 'a');
  assert.deepEqual(st.owners, { 1: 'a', 2: 'b' });
  assert.deepEqual(st.nodes.map((n) => [n.id, n.alive, n.owned]), [['b', true, [2]]]);
});

test('whispers between gateways arrive once each, with the sender\'s echo; an unknown name is refused', { timeout: 60_000 }, async () => {
  const got = new Map<MmoClient, string[]>();
  for (const c of [a1, a2, b1, b2]) {
    got.set(c, []);
    c.on('chat', (m) => {
      if (m.channel === ChatChannel.Whisper) got.get(c)!.push(`${m.fromName}:${m.text}`);
    });
  }
  for (let i = 1; i <= 5; i++) {
    a1.chat(ChatChannel.Whisper, `ab${i}`, nameOf(b2));
    b1.chat(ChatChannel.Whisper, `ba${i}`, nameOf(a2));
  }
  const expectTo = (n: string) => Array.from({ length: 5 }, (_, i) => `${n}${i + 1}`);
  await waitFor(() => got.get(b2)!.length >= 5 && got.get(a2)!.length >= 5 && got.get(a1)!.length >= 5 && got.get(b1)!.length >= 5, 5000, 'the whispers');
  await sleep(300); // a duplicate would arrive within this
  assert.deepEqual(got.get(b2), expectTo('ab').map((t) => `${nameOf(a1)}:${t}`), 'B\'s player got each whisper from A once, in order');
  assert.deepEqual(got.get(a2), expectTo('ba').map((t) => `${nameOf(b1)}:${t}`), 'A\'s player got each whisper from B once, in order');
  assert.deepEqual(got.get(a1), expectTo('ab').map((t) => `${nameOf(a1)}:${t}`), 'the sender\'s echo, once each');
  assert.deepEqual(got.get(b1), expectTo('ba').map((t) => `${nameOf(b1)}:${t}`));

  const refused = a1.once('error');
  a1.chat(ChatChannel.Whisper, 'anyone?', 'guest_nobody_here');
  const e = await refused;
  assert.equal(e.code, ErrorCode.whisperTargetNotFound);
});

test('global chat from any zone on any node reaches every player of both nodes once', { timeout: 60_000 }, async () => {
  const all = [a1, a2, b1, b2];
  const got = new Map<MmoClient, string[]>();
  for (const c of all) {
    got.set(c, []);
    c.on('chat', (m) => {
      if (m.channel === ChatChannel.Global) got.get(c)!.push(m.text ?? '');
    });
  }
  all.forEach((c, i) => c.chat(ChatChannel.Global, `g${i}`));
  await waitFor(() => all.every((c) => got.get(c)!.length >= 4), 5000, () => `global chat everywhere: ${JSON.stringify(all.map((c) => got.get(c)))}`);
  await sleep(300);
  for (const c of all) assert.deepEqual([...got.get(c)!].sort(), ['g0', 'g1', 'g2', 'g3'], `${nameOf(c)} heard each once`);
});

test('a player walks through the portals into the other node\'s zone and back: no reconnect, every input once and in order', { timeout: 60_000 }, async () => {
  const walker = client(a.wsUrl, 'walker');
  const whisperer = client(b.wsUrl, 'whisperer');
  await Promise.all([walker.once('snapshot'), whisperer.once('snapshot')]);
  const own: string[] = [];
  const whispers: string[] = [];
  walker.on('chat', (m) => {
    if (m.channel === ChatChannel.Say && m.fromName === nameOf(walker)) own.push(m.text ?? '');
    if (m.channel === ChatChannel.Whisper) whispers.push(m.text ?? '');
  });
  const zones: number[] = [walker.zone];
  walker.on('zone', (z) => zones.push(z.zone));
  let rejected = 0;
  walker.on('moveRejected', () => rejected++);
  let said = 0;
  let whispered = 0;
  let lastInput = 0;
  const mid = SIZE / 2;
  for (let crossing = 0; crossing < 2; crossing++) {
    const start = walker.zone;
    let x = walker.self!.x;
    let y = walker.self!.y;
    for (let step = 0; step < 200 && walker.zone === start; step++) {
      if (Math.abs(y - mid) > 1) y += Math.sign(mid - y) * Math.min(2.5, Math.abs(mid - y));
      else x += 2.5;
      walker.move(x, y);
      lastInput = walker.chat(ChatChannel.Say, `say${++said}`);
      whisperer.chat(ChatChannel.Whisper, `w${++whispered}`, nameOf(walker));
      await sleep(50);
    }
    assert.notEqual(walker.zone, start, `crossing ${crossing + 1} happened`);
    await sleep(100);
  }
  for (let i = 0; i < 10; i++) {
    lastInput = walker.chat(ChatChannel.Say, `say${++said}`);
    whisperer.chat(ChatChannel.Whisper, `w${++whispered}`, nameOf(walker));
    await sleep(30);
  }
  await waitFor(() => own.length >= said && whispers.length >= whispered && walker.ackedInput >= lastInput, 10_000, () => `own ${own.length}/${said} whispers ${whispers.length}/${whispered}`);
  await sleep(200);
  assert.equal(zones.length, 3, `two crossings: ${zones}`);
  assert.notEqual(zones[0], zones[1]);
  assert.equal(zones[2], zones[0]);
  assert.deepEqual(own, Array.from({ length: said }, (_, i) => `say${i + 1}`), 'every say heard once, in order, across both crossings');
  assert.deepEqual(whispers, Array.from({ length: whispered }, (_, i) => `w${i + 1}`), 'every whisper from the other gateway once, in order');
  assert.equal(rejected, 0, 'no move refused');
  assert.equal(walker.pendingInputs, 0, 'every input acknowledged');
  assert.equal(walker.stats.reconnects, 0, 'no reconnect');
  assert.equal(await metricValue(a.url, 'mmo_session_duplicate_inputs_total'), 0);
  assert.ok(((await metricValue(a.url, 'mmo_session_handoffs_total')) ?? 0) >= 2);
  walker.close();
  whisperer.close();
});

test('B\'s zone crashes and restarts from its checkpoint: A\'s player in it stays, is rejoined by B, and plays on', { timeout: 60_000 }, async () => {
  let kicked = 0;
  const onKick = () => kicked++;
  a2.on('kicked', onKick);
  const snap = a2.once('snapshot');
  const r = await fetch(`${b.url}/debug/zones/2/fault?mode=throw`, { method: 'POST' });
  assert.equal(r.status, 202);
  const sn = await snap; // the rejoin after the restart ends with a snapshot
  assert.equal(sn.selfId, a2.playerId, 'the same entity as before the crash');
  await waitFor(async () => (await readyz(a)).body.components['zone-2'] === 'up', 10_000, 'zone 2 up again as A sees it');
  // The restarted zone on B has A's player under its proxy: what it says goes through that zone and comes back.
  const heard = new Promise<string>((resolve) => a2.on('chat', (m) => m.channel === ChatChannel.Say && m.text === 'after the crash' && resolve(m.text)));
  const seq = a2.chat(ChatChannel.Say, 'after the crash');
  assert.equal(await heard, 'after the crash');
  await waitFor(() => a2.ackedInput >= seq, 5000, 'the say acknowledged');
  assert.equal(kicked, 0, 'not kicked');
  assert.equal(a2.connected, true);
  assert.equal(a2.stats.reconnects, 0);
  a2.off('kicked', onKick);
});

test('NATS restarted mid-game: local zones play on during the outage, cross-node traffic resumes, nobody is disconnected', { timeout: 60_000 }, async () => {
  await cluster.killNats();
  await waitFor(async () => (await readyz(a)).body.components.cluster !== 'up', 5000, 'A to notice NATS is gone');
  // A's player in A's own zone keeps playing meanwhile.
  const heard = new Promise<string>((resolve) => a1.on('chat', (m) => m.channel === ChatChannel.Say && m.text === 'during the outage' && resolve(m.text)));
  a1.chat(ChatChannel.Say, 'during the outage');
  assert.equal(await heard, 'during the outage');
  cluster.startNats();
  await waitFor(async () => (await readyz(a)).body.components.cluster === 'up' && (await readyz(b)).body.components.cluster === 'up', 10_000, 'both nodes back on NATS');
  await sleep(2 * HEARTBEAT_MS); // both have resubscribed and heard each other again
  assert.equal((await readyz(a)).body.components['zone-2'], 'up', 'B stayed in A\'s directory through the outage');
  const got: string[] = [];
  b2.on('chat', (m) => m.channel === ChatChannel.Whisper && m.text?.startsWith('back') && got.push(m.text));
  a1.chat(ChatChannel.Whisper, 'back1', nameOf(b2));
  const said: string[] = [];
  a2.on('chat', (m) => m.channel === ChatChannel.Say && m.text === 'back in B\'s zone' && said.push(m.text));
  const seq = a2.chat(ChatChannel.Say, 'back in B\'s zone');
  await waitFor(() => got.length >= 1 && said.length >= 1 && a2.ackedInput >= seq, 5000, () => `traffic after the restart: whispers ${got}, a2's say in B's zone ${said}`);
  await sleep(200);
  assert.deepEqual(got, ['back1']);
  assert.deepEqual(said, ['back in B\'s zone']);
  for (const c of [a1, a2, b1, b2]) {
    assert.equal(c.connected, true, `${nameOf(c)} still connected`);
    assert.equal(c.stats.reconnects, 0, `${nameOf(c)} never reconnected`);
  }
  assert.ok(((await metricValue(a.url, 'mmo_cluster_nats_disconnects_total')) ?? 0) >= 1);
});

test('B is SIGKILLed: A reports zone 2 down within cluster.nodeTimeoutMs, ends its players there cleanly, and A\'s own zone plays on', { timeout: 60_000 }, async (t) => {
  const kicked = a2.once('kicked');
  const closed = a2.once('close');
  // Players of A walking from A's zone into B's, set off one after another so that some cross
  // before the kill, some are between the zones when B dies, and some reach the portal after.
  const walkers = Array.from({ length: 8 }, (_, i) => client(a.wsUrl, `runner${i}`));
  await Promise.all(walkers.map((w) => w.once('snapshot')));
  const outcome = new Map<MmoClient, string>();
  for (const w of walkers) {
    w.on('kicked', (k) => outcome.set(w, outcome.get(w) ?? `kicked ${k.code}`)); // the first: a resume attempt is refused (kicked 4101) after
    w.on('close', (c) => outcome.set(w, `${outcome.get(w) ?? ''} closed ${c.code}`));
  }
  const inOne = walkers.filter((w) => w.zone === 1);
  assert.ok(inOne.length >= 3, `walkers in A's zone: ${inOne.length}`);
  let walking = true;
  const walks = inOne.map(async (w, i) => {
    await sleep(i * 700);
    const mid = SIZE / 2;
    let x = w.self!.x;
    let y = w.self!.y;
    while (walking && w.connected && w.zone === 1) {
      if (Math.abs(y - mid) > 1) y += Math.sign(mid - y) * Math.min(2.5, Math.abs(mid - y));
      else x = Math.min(SIZE - 1, x + 2.5);
      w.move(x, y);
      await sleep(50);
    }
  });
  await sleep(1500);
  const t0 = performance.now();
  await b.stop('SIGKILL');
  let downAt = 0;
  await waitFor(
    async () => {
      const r = await readyz(a);
      if (r.body.components['zone-2'] === 'up') return false;
      downAt = performance.now();
      // Another node's zone is reported, not required: A stays ready for its own zone.
      assert.equal(r.status, 200);
      assert.equal(r.body.components['zone-1'], 'up');
      assert.match(r.body.components['zone-2']!, /no node running it is alive/);
      return true;
    },
    NODE_TIMEOUT_MS * 3,
    'zone 2 to be reported down',
    10,
  );
  // Polled every 10 ms; the node is swept every nodeTimeoutMs/20.
  t.diagnostic(`zone 2 reported down ${Math.round(downAt - t0)} ms after SIGKILL (cluster.nodeTimeoutMs ${NODE_TIMEOUT_MS})`);
  assert.ok(downAt - t0 <= NODE_TIMEOUT_MS + NODE_TIMEOUT_MS / 20 + 100, `zone 2 reported down ${Math.round(downAt - t0)} ms after the kill`);
  const st = (await (await fetch(`${a.url}/cluster`)).json()) as { owners: Record<string, string>; nodes: Array<{ id: string; alive: boolean }> };
  assert.deepEqual(st.owners, { 1: 'a' }, 'nobody runs zone 2 now');
  assert.deepEqual(st.nodes.map((n) => [n.id, n.alive]), [['b', false]]);
  const k = await kicked;
  assert.equal(k.code, CloseCode.zoneDown);
  assert.match(k.reason ?? '', /is gone with its node b; log in again/, 'the kick says the zone\'s node is gone, not that the zone crashed');
  // The client tries to resume (4300 is retryable) and learns its session is over.
  assert.equal((await closed).code, CloseCode.resumeRefused);
  await sleep(1000);
  walking = false;
  await Promise.all(walks);
  // Each walker either was in B's zone (or on its way) and was told and disconnected, or is in A's zone and plays on.
  let ended = 0;
  let stayed = 0;
  for (const w of inOne) {
    if (w.connected) {
      assert.equal(w.zone, 1, 'a walker still connected is in A\'s zone');
      const mine = new Promise<string>((resolve) => w.on('chat', (m) => m.channel === ChatChannel.Say && m.text === 'made it' && resolve(m.text)));
      w.chat(ChatChannel.Say, 'made it');
      assert.equal(await mine, 'made it');
      await waitFor(() => w.pendingInputs === 0, 5000, 'its inputs acknowledged');
      stayed++;
    } else {
      assert.equal(outcome.get(w), `kicked ${CloseCode.zoneDown} closed ${CloseCode.resumeRefused}`);
      ended++;
    }
  }
  t.diagnostic(`walkers from A's zone toward B's at the kill: ${ended} ended cleanly, ${stayed} play on in A's zone`);
  assert.equal(ended + stayed, inOne.length);
  // A's player in A's own zone keeps playing.
  const said = new Promise<string>((resolve) => a1.on('chat', (m) => m.channel === ChatChannel.Say && resolve(m.text ?? '')));
  a1.chat(ChatChannel.Say, 'still here');
  assert.equal(await said, 'still here');
  assert.equal(a1.stats.reconnects, 0);
});
