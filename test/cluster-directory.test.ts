// The cluster directory on a fake clock, and the batch wire format.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Directory, encodeHeartbeat, parseHeartbeat, type Heartbeat } from '../src/cluster/directory.js';
import { BATCH_HEADER, Kind, Outbox, WhoRecord, readBatch } from '../src/cluster/wire.js';

const hb = (node: string, owned: number[], up = owned, extra: Partial<Heartbeat> = {}): Heartbeat => ({ v: 1, node, seq: 1, boot: 7, owned, up, sessions: 0, proxies: 0, elu: 0, ...extra });

test('directory: its own stall is not a peer\'s silence; a dead peer is still gone within two timeouts', () => {
  const changes: string[] = [];
  const d = new Directory('a', 3000, (n, alive) => changes.push(`${n}:${alive}`));
  d.note(hb('b', [2]), 0);
  d.note(hb('c', [3]), 0);
  for (let t = 150; t <= 1500; t += 150) d.sweep(t);
  // This process starves for 4 s: the next sweep comes at 5,500, before the heartbeats queued meanwhile are read.
  d.sweep(5500);
  assert.equal(d.isAlive('b'), true, 'silent 5.5 s by the clock, but this process ran for only 1.5 + 0.15 s of it');
  d.note(hb('b', [2]), 5501); // the queued heartbeat, read after the timers
  // c really died at 0: the stall credited to it stops at one timeout, so with sweeps on time again it is gone 3 s after that.
  let goneAt = -1;
  for (let t = 5650; t <= 12_000 && goneAt < 0; t += 150) {
    d.sweep(t);
    if (t % 450 === 0) d.note(hb('b', [2]), t);
    if (!d.isAlive('c')) goneAt = t;
  }
  assert.ok(goneAt > 5500 && goneAt <= 6000 + 150, `c gone at ${goneAt}`);
  assert.equal(d.isAlive('b'), true);
  // Starved on every sweep, a dead node is still gone: the credit stops at one timeout.
  const e = new Directory('a', 3000);
  e.note(hb('d', [4]), 0);
  let t = 0;
  for (let i = 0; i < 40 && e.isAlive('d'); i++) e.sweep((t += 1000));
  assert.equal(e.isAlive('d'), false);
  assert.ok(t <= 2 * 3000 + 1000, `gone at ${t}, within two timeouts and a sweep`);
  assert.deepEqual(changes, ['b:true', 'c:true', 'c:false']);
});

test('directory: owners from heartbeats, a silent node gone after the timeout, a goodbye at once', () => {
  const changes: string[] = [];
  const d = new Directory('a', 3000, (n, alive) => changes.push(`${n}:${alive}`));
  d.note(hb('a', [1]), 0); // itself: ignored
  d.note(hb('b', [2, 3], [2]), 0);
  d.note(hb('c', [4]), 0);
  assert.equal(d.ownerOf(2), 'b');
  assert.equal(d.isZoneUp(2), true);
  assert.equal(d.isZoneUp(3), false, 'owned but not reported up');
  assert.equal(d.ownerOf(1), undefined);
  d.note(hb('c', [4]), 2500);
  d.sweep(3000);
  assert.equal(d.isAlive('b'), true, 'exactly at the timeout: still alive');
  d.sweep(3001);
  assert.equal(d.isAlive('b'), false);
  assert.equal(d.ownerOf(2), undefined);
  assert.equal(d.isAlive('c'), true);
  d.note(hb('c', [4], [4], { bye: true }), 3100);
  assert.deepEqual(d.alive(), []);
  assert.deepEqual(changes, ['b:true', 'c:true', 'b:false', 'c:false']);
});

test('directory: two nodes claiming one zone: the id sorting first keeps it, and it is reported', () => {
  const d = new Directory('x', 1000);
  d.note(hb('n2', [5]), 0);
  d.note(hb('n1', [5]), 0);
  assert.equal(d.ownerOf(5), 'n1');
  assert.deepEqual(d.conflicts, [5]);
});

test('heartbeat round trip; garbage is refused, not thrown', () => {
  const h = hb('b', [1, 2], [1]);
  assert.deepEqual(parseHeartbeat(encodeHeartbeat(h)), { ...h, recovering: [], bye: false, url: '' });
  const r = hb('b', [1, 2], [1], { recovering: [2] });
  assert.deepEqual(parseHeartbeat(encodeHeartbeat(r))!.recovering, [2]);
  const d = new Directory('a', 1000);
  d.note(r, 0);
  assert.equal(d.isZoneUp(2), false);
  assert.equal(d.isZoneRecovering(2), true, 'restarting on its node: not up, not gone');
  assert.equal(d.isZoneRecovering(1), false);
  d.sweep(1001);
  assert.equal(d.isZoneRecovering(2), false, 'its node gone: nothing recovers');
  assert.equal(parseHeartbeat(new TextEncoder().encode('{"v":1,"node":3}')), null);
  assert.equal(parseHeartbeat(new Uint8Array([0xff, 0x00])), null);
});

test('heartbeat: a node\'s public URL is announced and kept while it is alive; a URL that is not ws(s):// is dropped', () => {
  const d = new Directory('a', 1000);
  d.note(hb('b', [1], [1], { url: 'ws://10.0.0.5:7777/ws' }), 0);
  assert.equal(parseHeartbeat(encodeHeartbeat(hb('b', [1], [1], { url: 'ws://10.0.0.5:7777/ws' })))!.url, 'ws://10.0.0.5:7777/ws');
  assert.equal(parseHeartbeat(encodeHeartbeat(hb('b', [1], [1], { url: 'javascript:alert(1)' })))!.url, '');
  assert.equal(d.urlOf('b'), 'ws://10.0.0.5:7777/ws');
  assert.equal(d.urlOf('c'), '', 'unknown node');
  d.sweep(1001);
  assert.equal(d.urlOf('b'), '', 'gone: no URL to send anyone to');
});

test('wire: a batch of records reads back in order; a truncated one stops with -1', () => {
  const o = new Outbox('mmo.z.b.a');
  o.write(Kind.toZone, 2, 3, 0x7fff_fff0, new Uint8Array([9, 8, 7]), 0, 3);
  o.write(Kind.fromZone, 6, 65535, 0x8000_0001, null, 0, 0);
  const bytes = o.take();
  assert.equal(o.length, BATCH_HEADER, 'emptied: room for the next header');
  const seen: unknown[] = [];
  assert.equal(readBatch(bytes, (k, t, z, s, d, off, len) => seen.push([k, t, z, s, [...d.subarray(off, off + len)]])), 2);
  assert.deepEqual(seen, [
    [Kind.toZone, 2, 3, 0x7fff_fff0, [9, 8, 7]],
    [Kind.fromZone, 6, 65535, 0x8000_0001, []],
  ]);
  assert.equal(readBatch(bytes.subarray(0, bytes.length - 13), () => undefined), -1);
});

test('wire: a who record carries player and account ids both ways, full u32 range', () => {
  const b = new Uint8Array(WhoRecord.bytes + 3);
  WhoRecord.write(b, 3, 0xfffffffe, 7);
  assert.equal(WhoRecord.player(b, 3), 0xfffffffe);
  assert.equal(WhoRecord.account(b, 3), 7);
  assert.deepEqual([...b.subarray(3)], [0xfe, 0xff, 0xff, 0xff, 7, 0, 0, 0], 'little-endian like the rest of the batch');
});
