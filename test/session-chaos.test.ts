// Sessions through a faulty network, end to end: real server, real SDK, and
// the userland fault proxy (loadtest/netfault) between them. Links are reset,
// closed half-way and black-holed at random (a black hole carries no news:
// neither end hears anything until its own timers notice). The contract under
// test is the product's promise: a player who loses the link keeps the
// session, and what the server acknowledged is exactly what it applied,
// once, in order; what the player missed is replayed, once, in order.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { NetFaultProxy } from '../loadtest/netfault/index.js';
import { connect, ChatChannel, type MmoClient, type ChatEvent } from '../src/client/index.js';
import { waitFor as until } from './helpers/wait.js';
import { setTimeout as sleep } from 'node:timers/promises';


interface Player {
  name: string;
  c: MmoClient;
  /** Zone chat heard, by speaker name, in arrival order. */
  heard: Map<string, number[]>;
  sent: number;
  sessions: Set<number>;
  freshWelcomes: number;
}

function player(url: string, name: string, extra: Parameters<typeof connect>[1] = {}): Player {
  const c = connect(url, {
    guestName: name,
    backoffBaseMs: 50,
    backoffCapMs: 500,
    maxAttempts: Infinity,
    handshakeTimeoutMs: 2000,
    silenceTimeoutMs: 1500,
    maxPendingInputs: 1024,
    ...extra,
  });
  const p: Player = { name, c, heard: new Map(), sent: 0, sessions: new Set(), freshWelcomes: 0 };
  c.on('welcome', (w) => {
    p.sessions.add(w.sessionId);
    if (!w.resumed) p.freshWelcomes++;
  });
  c.on('chat', (m: ChatEvent) => {
    if (m.channel !== ChatChannel.Zone) return;
    const [who, n] = (m.text ?? '').split(':');
    let l = p.heard.get(who!);
    if (!l) p.heard.set(who!, (l = []));
    l.push(Number(n));
  });
  return p;
}

const ARGS = [
  '--zones.count=1',
  '--zones.npcsPerZone=0',
  '--sessions.chatPerSec=1000',
  '--sessions.chatBurst=1000',
  '--sessions.inputsPerSec=1000',
  '--sessions.inputBurst=10000',
  '--sessions.zombieTtlMs=60000',
];

describe('sessions through a faulty network', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: ARGS });
  });
  after(async () => {
    await s.stop();
  });

  test('a black-holed link (no FIN, no RST) is noticed by the SDK within silenceTimeoutMs and the session resumes', async () => {
    const proxy = await NetFaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, lifetimeMs: 60_000 });
    let p: Player | null = null;
    try {
      p = player(`ws://127.0.0.1:${proxy.port}/ws`, 'hole', { silenceTimeoutMs: 1000 });
      const w = await p.c.once('welcome');
      await sleep(200);
      assert.equal(proxy.blackhole('all'), 1);
      const t0 = performance.now();
      const r = await p.c.once('reconnecting');
      const noticedMs = performance.now() - t0;
      // Half-way the SDK pings; a black hole answers nothing, so the full budget runs out.
      // The silence began with the last frame before the hole (up to 200 ms earlier, more
      // on a loaded machine), so the SDK's own count is what must reach the budget.
      const quiet = /no data from the server for (\d+) ms/.exec(r.reason);
      assert.ok(quiet, r.reason);
      assert.ok(Number(quiet[1]) >= 1000, `dropped after only ${quiet[1]} ms of silence`);
      assert.ok(noticedMs < 2500, `noticed ${noticedMs.toFixed(0)} ms after the hole opened`);
      const again = await p.c.once('welcome');
      assert.equal(again.resumed, true, 'resumed, not a new session');
      assert.equal(again.sessionId, w.sessionId);
    } finally {
      p?.c.close();
      await proxy.close();
    }
  });

  test('a quiet but live link is not mistaken for a dead one: the half-way Ping keeps it', async () => {
    const p = player(s.wsUrl, 'quiet', { silenceTimeoutMs: 600 });
    try {
      await p.c.once('welcome');
      // Alone, with no NPCs, nothing changes: the server has nothing to send but Pongs.
      await sleep(2500);
      assert.equal(p.c.stats.reconnects, 0);
      assert.equal(p.c.connected, true);
    } finally {
      p.c.close();
    }
  });

  test('random resets, half-closes and black holes: every acknowledged chat is applied once and in order, and every player hears everything once and in order', async () => {
    const proxy = await NetFaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, lifetimeMs: 120_000 });
    const N = 12;
    const players: Player[] = [];
    try {
      const before = {
        replayed: (await metricValue(s.url, 'mmo_session_resumes_accepted_total{outcome="replayed"}')) ?? 0,
        snapshot: (await metricValue(s.url, 'mmo_session_resumes_accepted_total{outcome="snapshot"}')) ?? 0,
        retries: (await metricValue(s.url, 'mmo_session_resume_retries_total')) ?? 0,
      };
      // One player on a clean link (the witness), the rest through the proxy.
      const witness = player(s.wsUrl, 'witness');
      players.push(witness);
      for (let i = 0; i < N; i++) players.push(player(`ws://127.0.0.1:${proxy.port}/ws`, `p${i}`));
      await until(() => players.every((p) => p.c.connected), 10_000, () => 'every player in');
      await sleep(300); // everyone in the zone before anyone speaks

      // Faults stay until an end gives up: a black hole is lifted only by the
      // SDK's silence timeout (the server's own idle timeout is slower).
      proxy.startChaos({ seed: 20261121, meanIntervalMs: 150, weights: { rst: 1, fin: 1, blackhole: 1 }, durationMs: [600_000, 600_000] });
      const talkUntil = performance.now() + 10_000;
      while (performance.now() < talkUntil) {
        for (const p of players) p.c.chat(ChatChannel.Zone, `${p.name}:${p.sent++}`);
        await sleep(100);
      }
      proxy.stopChaos();
      const faults = proxy.faults.filter((f) => f.random).length;

      // Every input acknowledged, and every player has heard every line.
      const total = () => players.reduce((n, p) => n + p.sent, 0);
      const heardAll = (p: Player) => players.every((q) => (p.heard.get(q.name)?.length ?? 0) >= q.sent);
      await until(
        () => players.every((p) => p.c.connected && p.c.pendingInputs === 0 && heardAll(p)),
        20_000,
        () =>
          players
            .filter((p) => !(p.c.connected && p.c.pendingInputs === 0 && heardAll(p)))
            .map((p) => `${p.name}: connected=${p.c.connected} pending=${p.c.pendingInputs} heard=${[...p.heard.values()].reduce((n, l) => n + l.length, 0)}/${total()} logins=${p.freshWelcomes} resumes=${p.c.stats.resumes}`)
            .join('; '),
      );

      for (const p of players) {
        assert.equal(p.c.stats.inputsDropped, 0, `${p.name}: no input fell off the pending list`);
        assert.equal(p.freshWelcomes, 1, `${p.name}: one session from start to end, every reconnect a resume`);
        assert.equal(p.sessions.size, 1, `${p.name}: the same session id throughout`);
        for (const q of players) {
          const expected = Array.from({ length: q.sent }, (_, i) => i);
          assert.deepEqual(p.heard.get(q.name), expected, `${p.name} heard ${q.name}: each line once, in order`);
        }
      }
      const resumes = players.reduce((n, p) => n + p.c.stats.resumes, 0);
      const replayed = ((await metricValue(s.url, 'mmo_session_resumes_accepted_total{outcome="replayed"}')) ?? 0) - before.replayed;
      const snapshots = ((await metricValue(s.url, 'mmo_session_resumes_accepted_total{outcome="snapshot"}')) ?? 0) - before.snapshot;
      // A resume whose Welcome the chaos swallowed is accepted again when the
      // player retries with the same token: the server counts both, the player one.
      const retries = ((await metricValue(s.url, 'mmo_session_resume_retries_total')) ?? 0) - before.retries;
      assert.ok(faults >= 20, `the proxy did its job: ${faults} faults`);
      assert.ok(resumes >= 10, `players resumed ${resumes} times`);
      assert.equal(players[0]!.c.stats.resumes, 0, 'the witness on a clean link never had to');
      assert.equal(snapshots, 0, 'every gap fitted the replay buffer');
      assert.equal(replayed - retries, resumes, `the server counted the same resumes the players did (${replayed} with ${retries} retries after a lost Welcome)`);
      console.log(
        JSON.stringify({ test: 'session-chaos', faults, resumes, retriesAfterLostWelcome: retries, chats: total(), duplicateFramesIgnored: players.reduce((n, p) => n + p.c.stats.duplicateFrames, 0) }),
      );
    } finally {
      for (const p of players) p.c.close();
      await proxy.close();
    }
  });
});
