// A server stall must not turn honest players into speeders. The client walks
// at full speed while the gateway's event loop is blocked for 2.5 s (as by a
// long GC or a starved CPU); its moves queue in the kernel and reach the zone
// together, covering 20 units where the burst budget holds 8.8. With the
// stall allowance (world.movement.stallGraceMs) none is refused; without it,
// some are, which is what this test exists to catch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.js';
import { connect } from '../src/client/index.js';
import { setTimeout as sleep } from 'node:timers/promises';


async function walkThroughStall(graceMs: number): Promise<{ rejected: number; moves: number }> {
  const s = await startServer({
    args: ['--zones.count=1', '--zones.npcsPerZone=0', '--debug.faultInjection=true', `--world.movement.stallGraceMs=${graceMs}`],
  });
  try {
    const c = connect(s.wsUrl, { guestName: 'walker' });
    await c.once('welcome');
    const deadline = performance.now() + 5000;
    while (!c.self && performance.now() < deadline) await sleep(20);
    assert.ok(c.self, 'own state received');
    let rejected = 0;
    c.on('moveRejected', () => rejected++);
    // Full speed (8 u/s) back and forth over 0.4 units: one move every 50 ms.
    const x0 = c.self.x;
    const y0 = c.self.y;
    let moves = 0;
    let stop = false;
    const walker = (async () => {
      while (!stop) {
        moves++;
        c.move(moves % 2 === 1 ? x0 + 0.4 : x0, y0);
        await sleep(50);
      }
    })();
    await sleep(1000);
    const r = await fetch(`${s.url}/debug/gateway/stall?ms=2500`, { method: 'POST' });
    assert.equal(r.status, 200);
    await sleep(1000);
    stop = true;
    await walker;
    const end = performance.now() + 5000;
    while (c.pendingInputs > 0 && performance.now() < end) await sleep(20);
    assert.equal(c.pendingInputs, 0, 'every move acknowledged');
    c.close();
    return { rejected, moves };
  } finally {
    await s.stop();
  }
}

test('moves bunched by a 2.5 s gateway stall pass with the stall allowance, and are refused without it', async () => {
  const excused = await walkThroughStall(5000);
  assert.ok(excused.moves >= 60, `walked ${excused.moves} moves`);
  assert.equal(excused.rejected, 0, 'no honest move refused after a reported stall');
  const strict = await walkThroughStall(0);
  assert.ok(strict.rejected > 0, 'without the allowance the bunch is over the burst budget');
});
