// Supervision: a zone that throws, exits, runs out of heap or hangs is
// restarted from its checkpoint within 2 s while the other zone keeps
// ticking and its own players stay connected (they get a snapshot and play
// on); a zone that keeps crashing is marked down instead of looping.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, type TestServer, type LogLine } from './helpers/server.js';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { waitFor } from './helpers/wait.js';

const ARGS = ['--zones.count=2', '--zones.npcsPerZone=20', '--debug.faultInjection=true', '--zones.checkpointIntervalMs=200', '--zones.heartbeatTimeoutMs=1000', '--zones.heapLimitMb=64', '--sessions.chatPerSec=100', '--sessions.chatBurst=100'];

async function fault(s: TestServer, zone: number, mode: string): Promise<void> {
  const r = await fetch(`${s.url}/debug/zones/${zone}/fault?mode=${mode}`, { method: 'POST' });
  assert.equal(r.status, 202, await r.text());
}

async function ticks(s: TestServer, zone: number): Promise<number> {
  return (await metricValue(s.url, `mmo_zone_tick_seconds_count{zone="${zone}"}`)) ?? 0;
}

/** A promise that rejects after `ms`: no wait in these tests can hang the suite. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))]);
}

describe('a crashed zone is restarted and its players play on', () => {
  let s: TestServer;
  const players: MmoClient[] = [];
  let closes = 0;
  before(async () => {
    s = await startServer({ args: ARGS });
    // New players are spread over the zones: four give two in each.
    for (let i = 0; i < 4; i++) {
      const c = connect(s.wsUrl, { guestName: `sup${i}`, reconnect: false });
      c.on('close', () => closes++);
      players.push(c);
    }
    await within(Promise.all(players.map((c) => c.once('snapshot'))), 10_000, 'first snapshots');
    assert.deepEqual(players.map((c) => c.zone).sort(), [1, 1, 2, 2]);
  });
  after(async () => {
    for (const c of players) c.close();
    await s.stop();
  });

  for (const mode of ['throw', 'exit', 'oom', 'hang']) {
    test(`${mode}: zone 1 is back within 2 s, zone 2 never stops ticking, players stay connected, get a snapshot, play on`, async () => {
      const recoveries = s.logs.filter((l) => l.msg === 'zone recovered').length;
      const inZone1 = players.filter((c) => c.zone === 1);
      const snapshots = inZone1.map((c) => c.once('snapshot'));
      const zone2Before = await ticks(s, 2);
      const t0 = Date.now();
      await fault(s, 1, mode);
      const line: LogLine = await s.waitForLog((l) => l.msg === 'zone recovered' && s.logs.filter((x) => x.msg === 'zone recovered').indexOf(l) === recoveries, 15_000);
      // Measured by the server from noticing the crash to the zone answering its players' rejoin.
      assert.ok(Number(line.recoveryMs) < 2000, `recovery took ${line.recoveryMs} ms`);
      if (mode === 'hang') assert.ok(Date.now() - t0 < 1000 + 250 + 2000 + 2000, 'a hang is noticed by the heartbeat check');
      await within(Promise.all(snapshots), 5000, 'snapshots after the restart');
      assert.ok((await ticks(s, 2)) > zone2Before, 'zone 2 kept ticking');
      assert.equal(closes, 0, 'nobody was disconnected');
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
      // Play on: chat goes through the restarted zone.
      const heard = inZone1[1]!.once('chat');
      inZone1[0]!.chat(ChatChannel.Zone, `after ${mode}`);
      assert.equal((await within(heard, 5000, 'chat in the restarted zone')).text, `after ${mode}`);
      assert.ok(((await metricValue(s.url, 'mmo_zone_restarts_total{zone="1"}')) ?? 0) >= 1);
    });
  }
});

describe('restart intensity', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ args: [...ARGS, '--zones.maxRestarts=2', '--zones.restartWindowMs=60000'] });
  });
  after(async () => {
    await s.stop();
  });

  test('more than maxRestarts crashes within the window mark the zone down: /readyz says so, its players are told (4300)', async () => {
    // The first player goes to zone 1 (both empty: the first wins).
    const c = connect(s.wsUrl, { guestName: 'doomed', reconnect: false });
    await within(c.once('snapshot'), 10_000, 'snapshot');
    assert.equal(c.zone, 1);
    const kicked = c.once('kicked');
    const closed = c.once('close');
    for (let i = 0; i < 2; i++) {
      const n = s.logs.filter((l) => l.msg === 'zone recovered').length;
      await fault(s, 1, 'throw');
      await waitFor(() => s.logs.filter((l) => l.msg === 'zone recovered').length > n, 10_000, `recovery ${i + 1}`);
    }
    await fault(s, 1, 'throw');
    await s.waitForLog((l) => /marking it down/.test(String(l.msg)), 10_000);
    const k = await within(kicked, 5000, 'kicked');
    assert.equal(k.code, CloseCode.zoneDown);
    assert.match(k.reason ?? '', /down/);
    assert.equal((await within(closed, 5000, 'close')).code, CloseCode.zoneDown);
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { components: Record<string, string> };
    assert.match(body.components['zone-1']!, /^down/);
    assert.equal(body.components['zone-2'], 'up', 'the other zone is unaffected');
    // No crash loop: the zone stays down.
    await new Promise((r2) => setTimeout(r2, 500));
    assert.equal(await metricValue(s.url, 'mmo_zone_restarts_total{zone="1"}'), 3);
    // A new login lands in a zone that is up.
    const d = connect(s.wsUrl, { guestName: 'survivor', reconnect: false });
    const w = await within(d.once('welcome'), 10_000, 'welcome');
    assert.equal(w.zone, 2);
    d.close();
  });
});
