// cluster.newPlayers (src/session/placement.ts): where a new player enters.
// `local` takes the emptiest zone of the node the player connected to and
// falls back to the emptiest up zone anywhere; `spread` is the single-process
// rule (emptiest up zone, wherever it runs). The batches those players'
// records travel in (wire.ts Outbox) keep the order they were written in,
// across the buffer growing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeNewPlayer, type PlacementZones } from '../src/session/placement.js';
import { Kind, Outbox, readBatch } from '../src/cluster/wire.js';

function zones(local: boolean[], up: boolean[]): PlacementZones {
  return { hosts: local.map((l) => ({ local: l })), isUp: (i) => up[i]! };
}

test('local: a new player enters the emptiest zone of its own node, even when a remote zone is emptier', () => {
  const z = zones([false, true, false, true], [true, true, true, true]);
  assert.equal(placeNewPlayer(z, [0, 5, 0, 3], true), 3);
  assert.equal(placeNewPlayer(z, [0, 2, 0, 3], true), 1);
});

test('local: with no local zone up, the emptiest up zone anywhere; none up: -1', () => {
  assert.equal(placeNewPlayer(zones([false, true, false], [true, false, true]), [4, 0, 1], true), 2);
  assert.equal(placeNewPlayer(zones([true, false], [false, false]), [0, 0], true), -1);
});

test('spread: the emptiest up zone wherever it runs, ties to the lowest index', () => {
  const z = zones([true, false, true], [true, true, true]);
  assert.equal(placeNewPlayer(z, [2, 1, 3], false), 1);
  assert.equal(placeNewPlayer(z, [1, 1, 1], false), 0);
  assert.equal(placeNewPlayer(zones([true, false], [false, true]), [0, 9], false), 1);
});

test('a batch keeps its records in the order written, across the buffer growing', () => {
  const o = new Outbox('mmo.z.b.a');
  const n = 3000; // 3000 x (12 + 8) bytes: past the 16 KiB the box starts with
  for (let i = 0; i < n; i++) {
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setUint32(0, i, true);
    o.write(Kind.toZone, i & 0xff, 1 + (i % 7), 1000 + i, payload, 0, payload.length);
  }
  assert.equal(o.records, n);
  const bytes = o.take();
  assert.equal(o.records, 0);
  let next = 0;
  const count = readBatch(bytes, (kind, type, zone, session, data, off, len) => {
    assert.equal(kind, Kind.toZone);
    assert.equal(type, next & 0xff);
    assert.equal(zone, 1 + (next % 7));
    assert.equal(session, 1000 + next);
    assert.equal(len, 8);
    assert.equal(new DataView(data.buffer, data.byteOffset + off, len).getUint32(0, true), next);
    next++;
  });
  assert.equal(count, n);
  assert.equal(next, n);
});
