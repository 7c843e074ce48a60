// The zone's admin snapshot (zone/admin-view.ts): every live entity with the
// world's own positions, kinds and hp; one entity's full state; at most one
// snapshot per MIN_SNAPSHOT_MS however often it is asked. Also the log tail's
// ring and the dashboard's tick quantiles from histogram deltas.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, Kind, defaultZoneDefs, newPlayerState, type WorldEvents } from '../src/world/index.js';
import { ADMIN_VIEW_ENTITY, ADMIN_VIEW_HEADER, AdminResponder, MIN_SNAPSHOT_MS, adminEntity, encodeAdminSnapshot } from '../src/zone/admin-view.js';
import { LogTail } from '../src/log/tail.js';
import { bucketQuantileMs } from '../src/admin/live.js';

const quiet = new Proxy({}, { get: () => () => undefined }) as WorldEvents;

function world(players: number): World {
  const def = defaultZoneDefs(1, { size: 256, npcsPerZone: 50, maxPlayers: 1000, seed: 7 })[0]!;
  const w = new World(def, quiet, 0);
  for (let i = 0; i < players; i++) {
    const st = newPlayerState(`p${i}`);
    st.x = 20 + i;
    st.y = 30 + i;
    assert.ok(w.addPlayer(1000 + i, st, 0) > 0);
  }
  return w;
}

function decode(buf: ArrayBuffer) {
  const v = new DataView(buf);
  const n = v.getUint32(4, true);
  const out = [];
  for (let i = 0, o = ADMIN_VIEW_HEADER; i < n; i++, o += ADMIN_VIEW_ENTITY) {
    out.push({ id: v.getUint32(o, true), kind: v.getUint8(o + 4), hp: v.getUint16(o + 6, true), x: v.getFloat32(o + 12, true), y: v.getFloat32(o + 16, true), session: v.getUint32(o + 20, true) });
  }
  return { version: v.getUint16(0, true), zone: v.getUint16(2, true), n, out, bytes: buf.byteLength };
}

test('a snapshot holds every live entity with the store\'s position, kind, hp and session', () => {
  const w = world(5);
  const snap = decode(encodeAdminSnapshot(w, w.def.id, 123));
  const st = w.store;
  const live = st.countByKind[Kind.player]! + st.countByKind[Kind.npc]! + st.countByKind[Kind.loot]!;
  assert.equal(snap.version, 1);
  assert.equal(snap.zone, w.def.id);
  assert.equal(snap.n, live);
  assert.equal(snap.bytes, ADMIN_VIEW_HEADER + ADMIN_VIEW_ENTITY * live);
  assert.equal(snap.out.filter((e) => e.kind === Kind.player).length, 5);
  for (const e of snap.out) {
    const s = e.id & 0xffff;
    assert.equal(st.id[s], e.id);
    assert.equal(st.kind[s], e.kind);
    assert.equal(Math.fround(st.x[s]!), e.x);
    assert.equal(Math.fround(st.y[s]!), e.y);
    assert.equal(st.hp[s], e.hp);
    assert.equal(st.session[s], e.session);
  }
  const p = snap.out.find((e) => e.session === 1003)!;
  assert.ok(p, 'player of session 1003 present');
  const detail = adminEntity(w, p.id)!;
  assert.equal(detail.name, 'p3');
  assert.equal(detail.session, 1003);
  assert.equal(adminEntity(w, p.id + (1 << 16)), null, 'a stale generation is not found');
  w.removePlayer(p.id);
  assert.equal(adminEntity(w, p.id), null, 'a removed entity is not found');
  assert.equal(decode(encodeAdminSnapshot(w, w.def.id, 124)).n, live - 1);
});

test('the responder answers one snapshot per MIN_SNAPSHOT_MS and tells the rest when to come back', () => {
  const w = world(2);
  let now = 10_000;
  const r = new AdminResponder(() => w, w.def.id, () => now);
  const first = r.answer({ admin: 'snapshot', req: 1 })!;
  assert.ok(first.answer.admin === 'snapshot' && first.answer.buf !== null);
  assert.deepEqual(first.transfer, [first.answer.buf]);
  now += MIN_SNAPSHOT_MS / 2;
  const early = r.answer({ admin: 'snapshot', req: 2 })!;
  assert.ok(early.answer.admin === 'snapshot' && early.answer.buf === null && early.answer.retryMs === MIN_SNAPSHOT_MS / 2);
  now += MIN_SNAPSHOT_MS / 2;
  const again = r.answer({ admin: 'snapshot', req: 3 })!;
  assert.ok(again.answer.admin === 'snapshot' && again.answer.buf !== null && again.answer.req === 3);
  assert.equal(r.answer({ hello: 1 }), null, 'other messages are not admin requests');
  assert.equal(r.answer(null), null);
});

test('the log tail keeps the newest lines, oldest first, and can shrink', () => {
  const t = new LogTail(3);
  for (let i = 1; i <= 5; i++) t.write(`{"n":${i}}\n`);
  assert.deepEqual(t.snapshot(), ['{"n":3}', '{"n":4}', '{"n":5}']);
  assert.equal(t.total, 5);
  t.resize(2);
  assert.deepEqual(t.snapshot(), ['{"n":4}', '{"n":5}']);
  t.write('{"n":6}');
  assert.deepEqual(t.snapshot(), ['{"n":5}', '{"n":6}']);
  assert.throws(() => t.resize(0), RangeError);
});

test('tick quantiles interpolate inside the histogram bucket', () => {
  // TICK_BUCKETS starts 1, 2, 5 ms: 10 ticks in (1, 2], 10 in (2, 5].
  const counts = [0, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(bucketQuantileMs(counts, 0.5), 2);
  assert.equal(bucketQuantileMs(counts, 0.25), 1.5);
  assert.ok(Math.abs(bucketQuantileMs(counts, 1) - 5) < 1e-9);
  assert.equal(bucketQuantileMs(new Array(13).fill(0), 0.5), 0);
});
