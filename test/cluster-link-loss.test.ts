// The record streams between two nodes when NATS loses messages, over a
// real nats-server (test/helpers/cluster.ts). Each node is made to drop
// every k-th batch or ack it publishes (POST /debug/cluster/link-fault,
// debug.faultInjection): core NATS alone would lose those records for good.
// A player on gateway A in B's zone and one on gateway B in A's zone say
// numbered lines (an input to the other node's zone, a chat record back):
// each hears every line once, in order, every input is acknowledged, and
// nobody reconnects. Then nats-server is SIGKILLed and restarted while they
// talk: the same holds across the outage.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricValue, type TestServer } from './helpers/server.js';
import { startCluster, type TestCluster } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
const clients: MmoClient[] = [];

before(async () => {
  cluster = await startCluster({
    nodes: [
      { id: 'a', zones: [1] },
      { id: 'b', zones: [2] },
    ],
    // Long enough that the NATS restart below never marks a node gone on this shared machine.
    nodeTimeoutMs: 6000,
    // Chat as fast as the test says it: the rate limits and cost budgets are not under test here.
    args: [
      '--sessions.chatPerSec=1000',
      '--sessions.chatBurst=1000',
      '--sessions.inputsPerSec=1000',
      '--sessions.inputBurst=1000',
      '--admission.accountBudgetPerSec=1000000',
      '--admission.accountBudgetBurst=1000000',
      '--admission.budgetPerSec=1000000',
      '--admission.budgetBurst=1000000',
      '--debug.faultInjection=true',
    ],
  });
  [a, b] = cluster.nodes as [TestServer, TestServer];
});

after(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

async function linkFault(s: TestServer, dropEvery: number): Promise<void> {
  const r = await fetch(`${s.url}/debug/cluster/link-fault?dropEvery=${dropEvery}`, { method: 'POST' });
  assert.equal(r.status, 200);
}

async function linkStatus(s: TestServer): Promise<{ resent: number; gaps: number; dropped: number; resets: number; duplicates: number }> {
  return ((await (await fetch(`${s.url}/cluster`)).json()) as { link: Awaited<ReturnType<typeof linkStatus>> }).link;
}

interface Talker {
  c: MmoClient;
  heard: string[];
  said: number;
  last: number;
}

/** A player whose own Say lines are recorded as it hears them. */
async function talker(url: string, name: string): Promise<MmoClient> {
  const c = connect(url, { guestName: name, localAddress: `127.0.7.${1 + clients.length}` });
  clients.push(c);
  names.set(c, `guest_${name}`);
  await c.once('snapshot');
  return c;
}

const names = new Map<MmoClient, string>();

function listen(c: MmoClient): Talker {
  const t: Talker = { c, heard: [], said: 0, last: 0 };
  const me = names.get(c);
  c.on('chat', (m) => {
    if (m.channel === ChatChannel.Say && m.fromName === me) t.heard.push(m.text ?? '');
  });
  return t;
}

/** Says `n` more numbered lines, a few per turn (paced for the chat rate limit, not to wait for anything). */
async function talk(ts: Talker[], n: number, during?: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const t of ts) t.last = t.c.chat(ChatChannel.Say, `line ${++t.said}`);
    if (during) await during(i);
    if (i % 4 === 3) await sleep(10);
  }
}

async function allHeard(ts: Talker[]): Promise<void> {
  await waitFor(
    () => ts.every((t) => t.heard.length >= t.said && t.c.ackedInput >= t.last),
    20_000,
    () => ts.map((t) => `heard ${t.heard.length}/${t.said}, acked ${t.c.ackedInput}/${t.last}`).join('; '),
  );
  for (const t of ts) {
    assert.deepEqual(t.heard, Array.from({ length: t.said }, (_, i) => `line ${i + 1}`), 'every line heard once, in order');
    assert.equal(t.c.pendingInputs, 0, 'every input acknowledged');
    assert.equal(t.c.stats.reconnects, 0, 'no reconnect');
    assert.equal(t.c.connected, true);
  }
}

let onA: Talker; // gateway A, in B's zone
let onB: Talker; // gateway B, in A's zone

test('every 3rd NATS message lost both ways: cross-node inputs and chat still arrive once and in order', { timeout: 60_000 }, async (t) => {
  // A gateway places a new player in its emptiest zone (ties: the first): the second player on each lands in the other node's zone.
  const a1 = await talker(a.wsUrl, 'a_first');
  const a2 = await talker(a.wsUrl, 'a_second');
  const b1 = await talker(b.wsUrl, 'b_first');
  const b2 = await talker(b.wsUrl, 'b_second');
  onA = listen([a1, a2].find((c) => c.zone === 2)!);
  onB = listen([b1, b2].find((c) => c.zone === 1)!);
  assert.ok(onA && onB, 'one player of each gateway in the other node\'s zone');
  await Promise.all([linkFault(a, 3), linkFault(b, 3)]);
  await talk([onA, onB], 120);
  await allHeard([onA, onB]);
  const [la, lb] = await Promise.all([linkStatus(a), linkStatus(b)]);
  t.diagnostic(`a: ${JSON.stringify(la)}; b: ${JSON.stringify(lb)}`);
  assert.ok(la.dropped > 20 && lb.dropped > 20, 'both nodes lost messages on purpose');
  assert.ok(la.gaps > 0 && lb.gaps > 0, 'both saw gaps');
  assert.ok(la.resent > 0 && lb.resent > 0, 'both resent');
  assert.deepEqual([la.resets, lb.resets], [0, 0], 'loss is repaired, not reset');
  assert.equal(await metricValue(a.url, 'mmo_cluster_link_gaps_total'), la.gaps);
  assert.ok(((await metricValue(b.url, 'mmo_cluster_link_resent_batches_total')) ?? 0) >= lb.resent);
  await Promise.all([linkFault(a, 0), linkFault(b, 0)]);
});

test('nats-server SIGKILLed and restarted mid-stream: the lines said around the outage arrive once and in order', { timeout: 60_000 }, async () => {
  await talk([onA, onB], 40, async (i) => {
    if (i !== 10) return;
    await cluster.killNats();
    await waitFor(async () => ((await metricValue(a.url, 'mmo_cluster_nats_disconnects_total')) ?? 0) >= 1, 5000, 'A to notice NATS is gone');
    cluster.startNats();
  });
  await allHeard([onA, onB]);
  const [la, lb] = await Promise.all([linkStatus(a), linkStatus(b)]);
  assert.deepEqual([la.resets, lb.resets], [0, 0], 'the streams carried on');
});
