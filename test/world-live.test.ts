// The living world, end to end: 500 SDK clients in 2 zones wander for 60
// seconds; then, against the ground truth the test keeps (each client's last
// accepted position), everyone within range sees everyone else, every view
// agrees with the true positions, Say chat reaches exactly the players in
// its radius, and nothing anywhere was malformed or refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { mulberry32 as rng } from '../loadtest/netfault/index.js';
import { waitFor } from './helpers/wait.js';

const CLIENTS = 500;
const WANDER_MS = 60_000;
const SIZE = 512;
const RADIUS = 64;
const HYSTERESIS = 8;
const SAY = 32;
const CAP = 64;
const STEP = 1.5; // units per move, a move every 250 ms: 6 units/s against a limit of 8

interface Bot {
  c: MmoClient;
  x: number;
  y: number;
  tx: number;
  ty: number;
  heard: string[];
}

let s: TestServer;
const bots: Bot[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  s = await startServer({ args: ['--zones.count=2', `--zones.size=${SIZE}`, '--zones.npcsPerZone=40', '--sessions.chatPerSec=10', '--sessions.chatBurst=10'] });
});
after(async () => {
  for (const b of bots) b.c.close();
  await s.stop();
});

test('500 clients in 2 zones for 60 s: mutual visibility in range, converged positions, exact chat reach, zero protocol errors', { timeout: 180_000 }, async () => {
  const rand = rng(7);
  const unexpectedCloses: string[] = [];
  // Ramp up in waves, from many loopback addresses.
  for (let wave = 0; wave < CLIENTS / 50; wave++) {
    const batch: Bot[] = [];
    for (let i = 0; i < 50; i++) {
      const n = wave * 50 + i;
      const c = connect(s.wsUrl, { guestName: `w${n}`, localAddress: `127.0.4.${1 + (n % 200)}`, reconnect: false });
      c.on('close', (e) => {
        if (e.code !== 1000) unexpectedCloses.push(`${n}: ${e.code} ${e.reason}`);
      });
      const b: Bot = { c, x: 0, y: 0, tx: 0, ty: 0, heard: [] };
      c.on('chat', (m) => {
        if (m.channel === ChatChannel.Say) b.heard.push(m.text ?? '');
      });
      c.on('moveRejected', (m) => {
        b.x = m.x;
        b.y = m.y;
      });
      // NPCs kill wanderers; a respawn puts the player back at a spawn point.
      c.on('respawn', (r) => {
        b.x = b.tx = r.x;
        b.y = b.ty = r.y;
      });
      batch.push(b);
    }
    await Promise.all(batch.map((b) => b.c.once('snapshot')));
    for (const b of batch) {
      b.x = b.tx = b.c.self!.x;
      b.y = b.ty = b.c.self!.y;
    }
    bots.push(...batch);
  }
  const zones = new Set(bots.map((b) => b.c.zone));
  assert.deepEqual([...zones].sort(), [1, 2], 'players in both zones');

  // Wander: each bot walks toward a waypoint, picking a new one on arrival.
  const end = Date.now() + WANDER_MS;
  while (Date.now() < end) {
    for (const b of bots) {
      const dx = b.tx - b.x;
      const dy = b.ty - b.y;
      const d = Math.hypot(dx, dy);
      if (d < STEP) {
        b.tx = 40 + rand() * (SIZE - 80);
        b.ty = 40 + rand() * (SIZE - 80);
        continue;
      }
      b.x += (dx / d) * STEP;
      b.y += (dy / d) * STEP;
      b.c.move(b.x, b.y);
    }
    await sleep(250);
  }
  // Settle: every move acknowledged and applied, views refreshed.
  await waitFor(() => bots.every((b) => b.c.pendingInputs === 0), 15_000, 'all moves acknowledged');
  await sleep(1000);

  // First: nobody was disconnected (a closed client's view is frozen, and would fail every check below for the wrong reason).
  assert.deepEqual(unexpectedCloses, []);
  assert.equal(bots.reduce((n, b) => n + b.c.stats.malformedFrames + b.c.stats.reconnects, 0), 0);
  for (const reason of ['text_frame', 'malformed', 'version', 'unexpected', 'flood']) {
    assert.equal(await metricValue(s.url, `mmo_protocol_rejected_total{reason="${reason}"}`), 0, reason);
  }
  assert.equal(await metricValue(s.url, 'mmo_sessions{state="connected"}'), CLIENTS);

  // Visibility and convergence, pair by pair, against the ground truth. The
  // world shows each player at most CAP entities, nearest first (an entity
  // already shown ranks HYSTERESIS nearer, so a crowd does not flap): when a
  // view is full, an unseen player in range is allowed, but then nobody seen
  // may be farther than it by more than the hysteresis.
  let pairsInRange = 0;
  let fullViews = 0;
  for (const a of bots) {
    const full = a.c.entities.size >= CAP;
    if (full) fullViews++;
    const seenD: number[] = [];
    const unseenD: number[] = [];
    for (const b of bots) {
      if (a === b || a.c.zone !== b.c.zone) continue;
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      const seen = a.c.entities.get(b.c.playerId);
      if (seen) {
        seenD.push(d);
        assert.ok(Math.abs(seen.x - b.x) <= 1 / 16 && Math.abs(seen.y - b.y) <= 1 / 16, `${a.c.playerId}'s view of ${b.c.playerId} is (${seen.x}, ${seen.y}), the truth (${b.x}, ${b.y})`);
        assert.ok(d <= RADIUS + HYSTERESIS + 1, `${a.c.playerId} still sees ${b.c.playerId} ${d.toFixed(1)} away`);
      }
      if (d <= RADIUS - 1) {
        pairsInRange++;
        if (!seen) {
          assert.ok(full, `${a.c.playerId} at (${a.x.toFixed(1)}, ${a.y.toFixed(1)}) does not see ${b.c.playerId} ${d.toFixed(1)} away, with only ${a.c.entities.size} entities in view`);
          unseenD.push(d);
        }
      }
    }
    if (unseenD.length > 0) {
      const nearestUnseen = Math.min(...unseenD);
      const farthestSeen = Math.max(...seenD);
      assert.ok(farthestSeen <= nearestUnseen + HYSTERESIS + 0.5, `${a.c.playerId}: sees a player ${farthestSeen.toFixed(1)} away but not one ${nearestUnseen.toFixed(1)} away`);
    }
  }
  assert.ok(pairsInRange > 500, `only ${pairsInRange} pairs in range: the test would prove little`);
  console.log(`# ${pairsInRange} pairs in range, ${fullViews} full views, ${await metricValue(s.url, 'mmo_net_deltas_coalesced_total')} deltas coalesced`);

  // Say chat: exactly the players within SAY of the speaker hear it (speakers with someone on the edge are skipped).
  let checked = 0;
  // Candidates spread over the whole population (stride 7: up to 72 of them), so the
  // ones skipped for an edge listener never leave too few.
  for (let i = 0; i < bots.length && checked < 20; i += 7) {
    const sp = bots[i]!;
    const dist = (b: Bot) => (b.c.zone === sp.c.zone ? Math.hypot(b.x - sp.x, b.y - sp.y) : Infinity);
    if (bots.some((b) => Math.abs(dist(b) - SAY) < 0.5)) continue;
    const text = `say from ${sp.c.playerId}`;
    sp.c.chat(ChatChannel.Say, text);
    const expected = bots.filter((b) => dist(b) <= SAY);
    await waitFor(() => expected.every((b) => b.heard.includes(text)), 5000, `"${text}" heard by its ${expected.length} listeners`);
    await sleep(100);
    const heardBy = bots.filter((b) => b.heard.includes(text));
    assert.deepEqual(new Set(heardBy), new Set(expected), `"${text}" reached exactly the players in range`);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} speakers checked`);

});

