// The gateway on two threads, against the real server: connections spread
// over both, HTTP routes answer on either, a session closed on one thread
// resumes on the other with exactly what it missed, admission budgets are one
// for the process, and a thread that dies mid-flush is restarted while its
// players resume on the other thread and lose nothing acknowledged.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';
import { rawRequest } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { connect, ChatChannel, type MmoClient, type ChatEvent } from '../src/client/index.js';
import { ChatChannel as WireChannel } from '../src/protocol/generated/mmo/chat-channel.js';

const THREADS = ['net-0', 'net-1'] as const;
type ThreadName = (typeof THREADS)[number];
const BASE = ['--net.gatewayThreads=2', '--zones.count=1', '--zones.npcsPerZone=0', '--sessions.chatPerSec=1000', '--sessions.chatBurst=1000'];

async function threadConnections(s: TestServer): Promise<Record<ThreadName, number>> {
  const out = { 'net-0': 0, 'net-1': 0 };
  for (const t of THREADS) out[t] = (await metricValue(s.url, `mmo_gateway_thread_connections{thread="${t}"}`)) ?? -1;
  return out;
}

let nextAddress = 10;
/** A new loopback source address per socket: the kernel picks the thread by the connection's addresses and ports. */
function freshAddress(): string {
  nextAddress = nextAddress >= 250 ? 10 : nextAddress + 1;
  return `127.0.0.${nextAddress}`;
}

/**
 * Opens sockets until one is accepted by `thread` (told by the per-thread
 * connection gauge) and returns it; the others are closed. Bounded.
 */
async function openOn(s: TestServer, thread: ThreadName, query?: string): Promise<RawClient> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const before = await threadConnections(s);
    const c = await RawClient.open(s.wsUrl, { localAddress: freshAddress(), query });
    let now = before;
    await waitFor(async () => {
      now = await threadConnections(s);
      return now['net-0'] + now['net-1'] === before['net-0'] + before['net-1'] + 1;
    }, 5000, 'the new connection to be counted');
    if (now[thread] === before[thread] + 1) return c;
    c.close();
    await waitFor(async () => {
      const n = await threadConnections(s);
      return n['net-0'] + n['net-1'] === before['net-0'] + before['net-1'];
    }, 5000, 'the refused connection to close');
  }
  throw new Error(`no connection landed on ${thread} in 60 tries`);
}

function chatTexts(c: RawClient): string[] {
  return c.messages().flatMap((m) => (m.type === 'chat' ? [m.text ?? ''] : []));
}

describe('two gateway threads', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: [...BASE, '--sessions.zombieTtlMs=60000'] });
  });
  after(async () => {
    // Keep-alive HTTP connections (fetch's) are still open on the threads: they must close with the rest, or Node aborts.
    assert.equal(await s.stop(), 0, s.stderr().slice(-2000));
  });

  test('both threads listen on one port; connections spread over them; every HTTP route answers on either', async () => {
    const line = await s.waitForLog((l) => l.msg === 'gateway threads listening');
    assert.equal(line.gatewayThreads, 2);
    const clients: RawClient[] = [];
    for (let i = 0; i < 24; i++) {
      const c = await RawClient.open(s.wsUrl, { localAddress: freshAddress() });
      c.hello(`spread${i}`);
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.welcome()));
    const n = await threadConnections(s);
    assert.equal(n['net-0'] + n['net-1'], 24);
    assert.ok(n['net-0'] > 0 && n['net-1'] > 0, `both threads carry connections: ${JSON.stringify(n)}`);
    // Fresh TCP connections from many addresses reach both threads; each must answer every route.
    const statuses = new Map<string, number>();
    for (let i = 0; i < 16; i++) {
      const addr = freshAddress();
      const health = await rawRequest(s.port, ['GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'], addr);
      const ready = await rawRequest(s.port, ['GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'], addr);
      const wrong = await rawRequest(s.port, ['POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'], addr);
      const guest = await rawRequest(s.port, ['POST /auth/guest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'], addr);
      statuses.set(`health ${health.status}`, (statuses.get(`health ${health.status}`) ?? 0) + 1);
      assert.equal(health.status, 200);
      assert.equal(ready.status, 200, ready.body);
      assert.equal(wrong.status, 405);
      assert.equal(guest.status, 200, guest.body);
      assert.equal(guest.json!.guest, true);
    }
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /mmo_gateway_threads\{state="up"\} 2/);
    assert.match(text, /mmo_net_packets_in_total \d+/);
    // The wake-ups behind every answer above: main and zones -> gateway threads (the sessions' records), gateway threads -> main (connections, logins).
    assert.match(text, /mmo_gateway_thread_wakeups_total [1-9]\d*/);
    assert.match(text, /mmo_gateway_core_wakeups_total [1-9]\d*/);
    assert.match(text, /mmo_zone_output_wakeups_total \d+/);
    assert.match(text, /mmo_zone_wakeups_total\{zone="1"\} \d+/);
    for (const c of clients) c.close();
    // The next test tells threads apart by connection counts: start it from none.
    await waitFor(async () => {
      const left = await threadConnections(s);
      return left['net-0'] + left['net-1'] === 0;
    }, 5000, 'every spread client to close');
  });

  test('a session whose socket closed on one thread resumes on the other with exactly the frames it missed', async () => {
    const a = await openOn(s, 'net-0');
    a.hello('alice');
    const w = await a.welcome();
    const bob = await RawClient.open(s.wsUrl, { localAddress: freshAddress() });
    bob.hello('bob');
    await bob.welcome();
    a.send(a.b.chat(1, WireChannel.Say, 'a1'));
    await a.until(() => chatTexts(a).includes('a1'), 5000, 'alice hears herself');
    const seen = a.lastSeq;
    a.drop();
    await waitFor(async () => (await metricValue(s.url, 'mmo_sessions{state="zombie"}')) === 1, 5000, 'alice to be a zombie');
    for (let i = 1; i <= 5; i++) bob.send(bob.b.chat(i, WireChannel.Whisper, `w${i}`, w.name));
    await bob.until(() => chatTexts(bob).filter((t) => t.startsWith('w')).length === 5, 5000, 'bob hears his whispers');

    const movedBefore = (await metricValue(s.url, 'mmo_session_moves_total{kind="migrated"}')) ?? 0;
    const a2 = await openOn(s, 'net-1', `resume=${w.sessionId}`);
    a2.resume(w.sessionId, Uint8Array.from(w.resumeToken), seen);
    const w2 = await a2.welcome();
    assert.equal(w2.resumed, true);
    assert.equal(w2.entityId, w.entityId, 'the same character');
    await a2.until(() => chatTexts(a2).filter((t) => t.startsWith('w')).length >= 5, 5000, 'replayed whispers');
    const replayed = a2.frames.filter((f) => f.seq !== 0);
    assert.deepEqual(
      replayed.slice(0, w2.replayed).map((f) => f.seq),
      Array.from({ length: w2.replayed }, (_, i) => seen + 1 + i),
      'every missed frame, in order, none twice',
    );
    assert.deepEqual(chatTexts(a2).filter((t) => t.startsWith('w')), ['w1', 'w2', 'w3', 'w4', 'w5']);
    // The session was owned by net-0: it moved to net-1's owner before the resume was answered.
    assert.equal(await metricValue(s.url, 'mmo_session_moves_total{kind="migrated"}'), movedBefore + 1);
    // Play goes on from the other thread, numbering kept.
    a2.send(a2.b.chat(2, WireChannel.Say, 'after'));
    await a2.until(() => chatTexts(a2).includes('after'), 5000, 'alice plays on');
    a2.close();
    bob.close();
  });
});

describe('admission budgets are one for the process', () => {
  test('one address gets perAddressLoginBurst handshakes in all, not that many per thread', async () => {
    const s = await startServer({ args: [...BASE, '--admission.perAddressLoginBurst=4', '--admission.perAddressLoginsPerSec=0.01'] });
    try {
      let admitted = 0;
      let refused = 0;
      const open: RawClient[] = [];
      // Twelve upgrades from one address: each lands on a thread chosen by its source port.
      for (let i = 0; i < 12; i++) {
        try {
          open.push(await RawClient.open(s.wsUrl, { localAddress: '127.0.0.77' }));
          admitted++;
        } catch (err) {
          assert.match((err as Error).message, /upgrade refused: 429/);
          refused++;
        }
      }
      assert.equal(admitted, 4, 'the burst, once for the whole process');
      assert.equal(refused, 8);
      assert.equal(await metricValue(s.url, 'mmo_admission_total{decision="refused_address"}'), 8);
      // Another address is unaffected.
      const other = await RawClient.open(s.wsUrl, { localAddress: '127.0.0.78' });
      other.close();
      for (const c of open) c.close();
    } finally {
      await s.stop();
    }
  });
});

/** metricValue, retried: a keep-alive HTTP connection to a thread that just died fails once. */
async function metric(s: TestServer, sample: string): Promise<number | undefined> {
  for (let i = 0; ; i++) {
    try {
      return await metricValue(s.url, sample);
    } catch (err) {
      if (i >= 3) throw err;
    }
  }
}

async function status(url: string): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return (await fetch(url)).status;
    } catch (err) {
      if (i >= 3) throw err;
    }
  }
}

interface Player {
  name: string;
  c: MmoClient;
  heard: string[];
  resumes: number;
}

describe('a gateway thread that dies mid-flush', () => {
  test('is restarted; its players resume on the other thread and every acknowledged chat arrives once', async () => {
    const s = await startServer({ args: [...BASE, '--debug.faultInjection=true', '--sessions.zombieTtlMs=60000'] });
    const players: Player[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const name = `p${i}`;
        const c = connect(s.wsUrl, { guestName: name, backoffBaseMs: 50, backoffCapMs: 300, maxAttempts: Infinity, handshakeTimeoutMs: 2000, silenceTimeoutMs: 3000 });
        const p: Player = { name, c, heard: [], resumes: 0 };
        c.on('chat', (m: ChatEvent) => {
          if (m.channel === ChatChannel.Zone) p.heard.push(m.text ?? "");
        });
        c.on('resumed', () => p.resumes++);
        players.push(p);
      }
      await Promise.all(players.map((p) => p.c.once('snapshot')));
      const perThread = await threadConnections(s);
      assert.ok(perThread['net-0'] > 0, `thread 0 has players to lose: ${JSON.stringify(perThread)}`);

      const say = async (tag: string) => {
        const seqs = players.map((p) => p.c.chat(ChatChannel.Zone, `${tag}-${p.name}`));
        await waitFor(() => players.every((p, i) => p.c.ackedInput >= seqs[i]!), 10_000, `${tag} acknowledged`);
      };
      await say('before');
      // Thread 0 throws while it writes the main thread's output, with frames in flight.
      for (const p of players) p.c.chat(ChatChannel.Zone, `during-${p.name}`);
      // The request may itself ride on thread 0, which then dies before answering: the restart count below says it happened.
      const r = await fetch(`${s.url}/debug/gateway/0/fault`, { method: 'POST' }).catch(() => null);
      if (r) assert.equal(r.status, 202);
      await waitFor(async () => (await metric(s, 'mmo_gateway_thread_restarts_total')) === 1, 10_000, 'the thread to be restarted');
      await waitFor(async () => (await status(`${s.url}/readyz`)) === 200, 10_000, 'ready again');
      await waitFor(() => players.every((p) => p.c.connected && p.c.pendingInputs === 0), 15_000, () => `every player back: ${players.map((p) => `${p.name}:${p.c.connected}/${p.c.pendingInputs}`).join(' ')}`);
      assert.ok(
        players.reduce((n, p) => n + p.resumes, 0) >= perThread['net-0'],
        'the players of the dead thread resumed',
      );
      // The dying thread handed its sessions (with their frames) to the main thread, which kept them until they resumed.
      assert.ok(((await metric(s, 'mmo_session_moves_total{kind="parked"}')) ?? 0) >= perThread['net-0'], 'the dead thread\'s sessions were parked');
      await say('after');
      const lines = ['before', 'during', 'after'].flatMap((tag) => players.map((p) => `${tag}-${p.name}`));
      await waitFor(() => players.every((p) => lines.every((l) => p.heard.includes(l))), 10_000, () => `every line heard: ${players.map((p) => `${p.name}:${p.heard.length}`).join(' ')}`);
      for (const p of players) {
        for (const l of lines) assert.equal(p.heard.filter((h) => h === l).length, 1, `${p.name} heard ${l} once`);
      }
      assert.equal(await metric(s, 'mmo_sessions{state="connected"}'), players.length);
      assert.equal(await metric(s, 'mmo_sessions{state="zombie"}'), 0);
    } finally {
      for (const p of players) p.c.close();
      assert.equal(await s.stop(), 0, s.stderr().slice(-2000));
    }
  });
});
