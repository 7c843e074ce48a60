// The payload codecs of the gateway <-> zone ring records (src/zone/records.ts):
// every writer's bytes read back through its reader, at an unaligned offset
// inside a larger buffer, and the bytes are the little-endian layout the doc
// comments promise (both sides of the ring rely on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JoinRecord,
  JoinKind,
  LinkDeadRecord,
  DurableRecord,
  FaultRecord,
  FaultMode,
  AoiLoadRecord,
  JoinedRecord,
  JoinFailedRecord,
  ReconciledRecord,
  HandoffRecord,
  WriteThroughRecord,
  WriteThroughKind,
} from '../src/zone/records.js';

const OFF = 3;
const buf = (): Uint8Array => new Uint8Array(64).fill(0xee);

test('join header: kind and a u32 hint above 2^31 round-trip; layout is u8 | 0 | u16 0 | u32 LE', () => {
  const d = buf();
  JoinRecord.write(d, OFF, JoinKind.rejoin, 0x9abcdef0);
  assert.equal(JoinRecord.kind(d, OFF), JoinKind.rejoin);
  assert.equal(JoinRecord.hint(d, OFF), 0x9abcdef0);
  assert.deepEqual([...d.subarray(OFF, OFF + JoinRecord.header)], [2, 0, 0, 0, 0xf0, 0xde, 0xbc, 0x9a]);
  assert.equal(d[OFF - 1], 0xee, 'writes nothing before the record');
  assert.equal(d[OFF + JoinRecord.header], 0xee, 'writes nothing past the header');
});

test('linkDead, durable, fault: one field each', () => {
  const d = buf();
  LinkDeadRecord.write(d, OFF, true);
  assert.equal(LinkDeadRecord.dead(d, OFF), true);
  LinkDeadRecord.write(d, OFF, false);
  assert.equal(LinkDeadRecord.dead(d, OFF), false);
  DurableRecord.write(d, OFF, 4_000_000_000);
  assert.equal(DurableRecord.count(d, OFF), 4_000_000_000);
  FaultRecord.write(d, OFF, FaultMode.hang);
  assert.equal(FaultRecord.mode(d, OFF), FaultMode.hang);
});

test('aoiLoad: updateTicks and a 16-bit visible cap; 0 means restore', () => {
  const d = buf();
  AoiLoadRecord.write(d, OFF, 4, 1000);
  assert.equal(AoiLoadRecord.updateTicks(d, OFF), 4);
  assert.equal(AoiLoadRecord.visibleCap(d, OFF), 1000);
  assert.deepEqual([...d.subarray(OFF, OFF + AoiLoadRecord.size)], [4, 0, 0xe8, 0x03]);
  AoiLoadRecord.write(d, OFF, 0, 0);
  assert.equal(AoiLoadRecord.visibleCap(d, OFF), 0);
});

test('joined: an entity id above 2^31 stays unsigned, kind follows', () => {
  const d = buf();
  JoinedRecord.write(d, OFF, 0x80000001, JoinKind.handoff);
  assert.equal(JoinedRecord.entity(d, OFF), 0x80000001);
  assert.equal(JoinedRecord.kind(d, OFF), JoinKind.handoff);
});

test('joinFailed keeps a negative code; reconciled a count', () => {
  const d = buf();
  JoinFailedRecord.write(d, OFF, -2);
  assert.equal(JoinFailedRecord.code(d, OFF), -2);
  assert.deepEqual([...d.subarray(OFF, OFF + 4)], [0xfe, 0xff, 0xff, 0xff]);
  ReconciledRecord.write(d, OFF, 12345);
  assert.equal(ReconciledRecord.removed(d, OFF), 12345);
});

test('handoff and writeThrough headers', () => {
  const d = buf();
  HandoffRecord.write(d, OFF, 65535);
  assert.equal(HandoffRecord.target(d, OFF), 65535);
  assert.equal(d[OFF + HandoffRecord.header], 0xee);
  WriteThroughRecord.write(d, OFF, WriteThroughKind.itemGained, 7, 3, 0xffffffff);
  assert.equal(WriteThroughRecord.kind(d, OFF), WriteThroughKind.itemGained);
  assert.equal(WriteThroughRecord.a(d, OFF), 7);
  assert.equal(WriteThroughRecord.b(d, OFF), 3);
  assert.equal(WriteThroughRecord.c(d, OFF), 0xffffffff);
  assert.equal(d[OFF + WriteThroughRecord.header], 0xee);
});
