// A zone with several owners (gateway threads, and the main thread last):
// each has its own ring pair with the zone. The zone runtime runs in this
// thread on a fake clock; the test plays the owners. What must hold:
//   - a session's records go to the ring of the owner that joined it;
//   - a rebind makes `moved` the last record of the session on the old
//     owner's ring, and everything after it goes to the new owner's ring;
//   - an answer (bounce, fenceAck, left) goes back on the ring its request came from;
//   - a reconcile after a restart waits for the rejoins every owner wrote before it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZoneRuntime, type ZoneWorkerData } from '../src/zone/runtime.js';
import { createZoneMemory } from '../src/zone/shared.js';
import { ToZone, FromZone, JoinKind, JoinRecord, RebindRecord, ReconciledRecord } from '../src/zone/records.js';
import { Doorbell, SpscRing } from '../src/ring/index.js';
import { defaultZoneDefs, newPlayerState, encodePlayerState } from '../src/world/index.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { ChatChannel } from '../src/protocol/generated/mmo/chat-channel.js';
import { createWorkerLogger } from '../src/log/logger.js';

const THREADS = 2;
const MAIN = THREADS;

function setup(restoreFrom?: ZoneWorkerData) {
  const [def] = defaultZoneDefs(1, { size: 128, npcsPerZone: 0 });
  const bells = Array.from({ length: THREADS }, () => Doorbell.create().buffer);
  const memory =
    restoreFrom?.memory ??
    createZoneMemory({ inboundBytes: 1 << 16, outboundBytes: 1 << 20, mailboxBytes: 1 << 14, mailboxProducers: 1, checkpointBytes: 1 << 20 }, Doorbell.create(), bells);
  const data: ZoneWorkerData = {
    index: 0,
    def: def!,
    tickHz: 20,
    memory,
    mailboxes: [memory.mailbox],
    restore: restoreFrom !== undefined,
    checkpointIntervalMs: 50,
    stateIntervalMs: 1e9,
    faultInjection: false,
  };
  const clock = { now: 1000 };
  const rt = new ZoneRuntime(data, createWorkerLogger('silent', {}), () => clock.now, () => {});
  // The owners' ends: threads 0..THREADS-1, then the main thread.
  const ins = [...memory.owners.map((o) => new SpscRing(o.inbound, 0)), new SpscRing(memory.inbound, 0)];
  const outs = [...memory.owners.map((o) => new SpscRing(o.outbound, 0)), new SpscRing(memory.outbound, 0)];
  /** Every record on owner `o`'s ring from the zone, as [type, session]. */
  const read = (o: number): Array<[number, number]> => {
    const got: Array<[number, number]> = [];
    outs[o]!.drain((type, session) => void got.push([type, session]));
    return got;
  };
  return { rt, data, ins, outs, read, clock };
}

function joinBytes(kind: number, name: string): Uint8Array {
  const st = newPlayerState(name);
  st.x = 40;
  st.y = 40;
  const b = new Uint8Array(512);
  JoinRecord.write(b, 0, kind, 0);
  const end = encodePlayerState(st, b, JoinRecord.header);
  return b.slice(0, end);
}

const cmb = new ClientMessageBuilder();

test("a session's records go to its owner's ring; a rebind ends them there with `moved` and moves them to the new owner's", () => {
  const { rt, ins, read } = setup();
  const S = 11;
  const T = 12;
  ins[0]!.push(ToZone.join, S, joinBytes(JoinKind.login, 'sam'));
  ins[1]!.push(ToZone.join, T, joinBytes(JoinKind.login, 'tia'));
  rt.drain();
  const o0 = read(0);
  assert.deepEqual(o0[0], [FromZone.joined, S]);
  assert.ok(o0.every(([, s]) => s === S), 'only S on thread 0');
  assert.ok(read(1).every(([, s]) => s === T), 'only T on thread 1');
  assert.deepEqual(read(MAIN), [], 'nothing for the main thread');

  // S says something in zone chat: each hears it on its own owner's ring.
  ins[0]!.push(ToZone.input, S, cmb.chat(1, ChatChannel.Zone, 'hi'));
  rt.drain();
  assert.deepEqual(read(0), [[FromZone.out, S]]);
  assert.deepEqual(read(1), [[FromZone.out, T]]);

  // S moves to thread 1: its last input on thread 0's ring, then the rebind.
  const rb = new Uint8Array(RebindRecord.size);
  RebindRecord.write(rb, 0, 1);
  ins[0]!.push(ToZone.input, S, cmb.chat(2, ChatChannel.Zone, 'before'));
  ins[0]!.push(ToZone.rebind, S, rb);
  ins[1]!.push(ToZone.input, T, cmb.chat(1, ChatChannel.Zone, 'after'));
  rt.drain();
  const on0 = read(0);
  assert.deepEqual(on0, [[FromZone.out, S], [FromZone.moved, S]], "S heard 'before' on thread 0, then moved");
  const on1 = read(1);
  assert.deepEqual(on1.filter(([, s]) => s === S), [[FromZone.out, S]], "S hears 'after' on thread 1");
});

test('answers go back on the ring their request came from: bounce, fenceAck, left', () => {
  const { rt, ins, read } = setup();
  const ghost = 99;
  // An input for a session the zone does not have (handed off, or never joined) comes back to its sender.
  ins[1]!.push(ToZone.input, ghost, cmb.move(1, 1, 1));
  ins[1]!.push(ToZone.fence, ghost, new Uint8Array(0));
  ins[MAIN]!.push(ToZone.leave, ghost, new Uint8Array(0));
  rt.drain();
  assert.deepEqual(read(1), [[FromZone.bounce, ghost], [FromZone.fenceAck, ghost]]);
  assert.deepEqual(read(MAIN), [[FromZone.left, ghost]]);
  assert.deepEqual(read(0), []);
});

test('a reconcile after a restart runs after the rejoins the threads wrote before it, even when drained first', () => {
  const { rt, data, ins, clock } = setup();
  const S = 21;
  ins[0]!.push(ToZone.join, S, joinBytes(JoinKind.login, 'ray'));
  rt.drain();
  clock.now += 100;
  rt.tick(clock.now); // writes a checkpoint with S in it
  const again = setup(data);
  // The main thread's reconcile sits in its ring, which the zone drains first; thread 0's rejoin was written before it.
  again.ins[0]!.push(ToZone.join, S, joinBytes(JoinKind.rejoin, 'ray'));
  again.ins[MAIN]!.push(ToZone.reconcile, 0, new Uint8Array(0));
  again.rt.drain();
  let removed = -1;
  again.outs[MAIN]!.drain((type, _s, d, o) => {
    if (type === FromZone.reconciled) removed = ReconciledRecord.removed(d, o);
  });
  assert.equal(removed, 0, 'the rejoined player was kept');
  assert.ok(again.rt.world.players(new Uint32Array(8), new Uint32Array(8)) === 1);
});
