// A stalled gateway stops draining a zone's outbound ring and the ring
// fills. What the zone could not write must not leave a player with a wrong
// picture of the world or a lost message:
//   - a dropped Delta (or a dropped Snapshot) leaves the player owed a
//     Snapshot, retried at every tick until one fits;
//   - a message nothing later replaces (chat here) waits for room instead.
// The zone runtime runs in this thread on a fake clock; the test plays the
// gateway: it feeds joins and moves into the inbound ring and, when not
// stalled, drains the outbound ring into a model of each client's view.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBuffer } from 'flatbuffers';
import { ZoneRuntime, type ZoneWorkerData } from '../src/zone/runtime.js';
import { createZoneMemory, ZoneStat } from '../src/zone/shared.js';
import { ToZone, FromZone, JoinKind, JoinRecord } from '../src/zone/records.js';
import { Doorbell, SpscRing } from '../src/ring/index.js';
import { defaultZoneDefs, newPlayerState, encodePlayerState, playerStateBytes } from '../src/world/index.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { ServerMessage } from '../src/protocol/generated/mmo/server-message.js';
import { ServerBody } from '../src/protocol/generated/mmo/server-body.js';
import { Snapshot } from '../src/protocol/generated/mmo/snapshot.js';
import { Delta } from '../src/protocol/generated/mmo/delta.js';
import { ChatMessage } from '../src/protocol/generated/mmo/chat-message.js';
import { ChatChannel } from '../src/protocol/generated/mmo/chat-channel.js';
import { createWorkerLogger } from '../src/log/logger.js';
import { mulberry32 } from '../loadtest/netfault/index.js';

const PLAYERS = 60;
const TICK_MS = 50;

/** The gateway's side of one zone, with a model of every client's view. */
class Gateway {
  readonly views = new Map<number, Set<number>>();
  readonly heard = new Map<number, string[]>();
  readonly entityOf = new Map<number, number>();
  snapshots = 0;
  stalledUntil = 0;
  private readonly snap = new Snapshot();
  private readonly delta = new Delta();
  private readonly chat = new ChatMessage();
  private readonly msg = new ServerMessage();

  constructor(
    private readonly outbound: SpscRing,
    private readonly clock: { now: number },
  ) {}

  /** Drains the ring unless stalled. */
  poll(): void {
    if (this.clock.now >= this.stalledUntil) this.outbound.drain(this.onRecord);
  }

  private readonly onRecord = (type: number, session: number, data: Uint8Array, offset: number, length: number): void => {
    if (type === FromZone.joined) {
      this.entityOf.set(session, new DataView(data.buffer, data.byteOffset + offset, 4).getUint32(0, true));
      return;
    }
    if (type !== FromZone.out && type !== FromZone.outDelta) return;
    const m = ServerMessage.getRootAsServerMessage(new ByteBuffer(data.slice(offset, offset + length)), this.msg);
    switch (m.bodyType()) {
      case ServerBody.Snapshot: {
        const s = m.body(this.snap) as Snapshot;
        const v = new Set<number>();
        for (let i = 0; i < s.entitiesLength(); i++) v.add(s.entities(i)!.id());
        this.views.set(session, v);
        this.snapshots++;
        return;
      }
      case ServerBody.Delta: {
        const d = m.body(this.delta) as Delta;
        const v = this.views.get(session);
        assert.ok(v, `a Delta for session ${session} before its Snapshot`);
        for (let i = 0; i < d.entersLength(); i++) v.add(d.enters(i)!.id());
        for (let i = 0; i < d.leavesLength(); i++) v.delete(d.leaves(i)!);
        return;
      }
      case ServerBody.ChatMessage: {
        const c = m.body(this.chat) as ChatMessage;
        const list = this.heard.get(session) ?? [];
        list.push(c.text()!);
        this.heard.set(session, list);
        return;
      }
    }
  };
}

/** Logs in sessions 1..PLAYERS at random spots of the square [lo, lo + span)²; returns where each stands. */
function joinCrowd(inbound: SpscRing, rand: () => number, lo: number, span: number): Map<number, { x: number; y: number }> {
  const state = newPlayerState('');
  const buf = new Uint8Array(256);
  const at = new Map<number, { x: number; y: number }>();
  for (let session = 1; session <= PLAYERS; session++) {
    state.name = `p${session}`;
    state.x = lo + rand() * span;
    state.y = lo + rand() * span;
    buf.fill(0, 0, JoinRecord.header);
    buf[0] = JoinKind.login;
    const end = encodePlayerState(state, buf, JoinRecord.header);
    assert.equal(end, JoinRecord.header + playerStateBytes(state));
    assert.ok(inbound.push(ToZone.join, session, buf, 0, end));
    at.set(session, { x: state.x, y: state.y });
  }
  inbound.commit();
  return at;
}

function setup(outboundBytes: number) {
  const [def] = defaultZoneDefs(1, { size: 256, npcsPerZone: 24 });
  const memory = createZoneMemory({ inboundBytes: 1 << 20, outboundBytes, mailboxBytes: 1 << 14, mailboxProducers: 1, checkpointBytes: 1 << 20 }, Doorbell.create());
  const data: ZoneWorkerData = {
    index: 0,
    def: def!,
    tickHz: 1000 / TICK_MS,
    memory,
    mailboxes: [memory.mailbox],
    restore: false,
    checkpointIntervalMs: 1e9,
    stateIntervalMs: 1e9,
    faultInjection: false,
  };
  const clock = { now: 1000 };
  const gw = new Gateway(new SpscRing(memory.outbound, 0), clock);
  const inbound = new SpscRing(memory.inbound, 0);
  let naps = 0;
  // The zone waits for room one millisecond at a time; the gateway drains when its stall is over.
  const nap = (ms: number) => {
    naps++;
    clock.now += ms;
    gw.poll();
  };
  const rt = new ZoneRuntime(data, createWorkerLogger('silent', {}), () => clock.now, nap);
  return { rt, gw, inbound, clock, naps: () => naps };
}

test('a full outbound ring: dropped Deltas and Snapshots are owed until a Snapshot fits, chat waits for room, every view ends equal to the server', () => {
  const { rt, gw, inbound, clock, naps } = setup(1 << 17); // 128 KB: about two ticks of this crowd's output
  const rand = mulberry32(11);
  const cmb = new ClientMessageBuilder();
  const pos = new Map<number, { x: number; y: number; seq: number }>();

  // A crowd in the middle of the zone: everyone sees nearly everyone (view cap 64).
  for (const [session, p] of joinCrowd(inbound, rand, 100, 56)) pos.set(session, { ...p, seq: 0 });

  const step = () => {
    // Everyone walks a little (5 units/s, under the speed limit), as in a busy town.
    for (const [session, p] of pos) {
      const a = rand() * 2 * Math.PI;
      const nx = Math.min(156, Math.max(100, p.x + Math.cos(a) * 0.25));
      const ny = Math.min(156, Math.max(100, p.y + Math.sin(a) * 0.25));
      p.x = nx;
      p.y = ny;
      const bytes = cmb.move(++p.seq, nx, ny);
      assert.ok(inbound.push(ToZone.input, session, bytes));
    }
    inbound.commit();
    rt.drain();
    clock.now += TICK_MS;
    rt.tick(clock.now);
    gw.poll();
  };
  const serverView = (session: number): Set<number> => {
    const w = rt.world;
    const slot = w.playerSlot(gw.entityOf.get(session)!);
    assert.ok(slot >= 0, `session ${session} has no player`);
    const base = slot * w.vis.cap;
    return new Set(w.vis.sets.subarray(base, base + w.vis.counts[slot]!));
  };
  const assertViewsMatch = (when: string) => {
    for (let session = 1; session <= PLAYERS; session++) {
      assert.deepEqual(gw.views.get(session), serverView(session), `${when}: session ${session}'s view`);
    }
  };

  // 60 joins at once overflow the ring (their Snapshots follow a tick later); after that, a drained ring drops nothing.
  for (let i = 0; i < 10; i++) step();
  const warm = rt.stats[ZoneStat.outDropped]!;
  for (let i = 0; i < 10; i++) step();
  assert.equal(rt.stats[ZoneStat.outDropped], warm, 'a ring drained every tick drops nothing');
  assertViewsMatch('before the stall');

  // The gateway stalls for 3 s: the ring fills within a few ticks.
  gw.stalledUntil = clock.now + 3000;
  for (let i = 0; i < 20; i++) step();
  const dropped = rt.stats[ZoneStat.outDropped]! - warm;
  assert.ok(dropped > PLAYERS, `the ring filled (${dropped} dropped)`);

  // Someone speaks while the ring is full: the zone waits for the gateway rather than lose the line.
  const speaker = 1;
  const listeners = new Uint32Array(PLAYERS);
  const expected = new Set(listeners.subarray(0, rt.world.sayRecipients(gw.entityOf.get(speaker)!, listeners))); // sessions
  assert.ok(expected.size > 10, `${expected.size} listeners in say range`);
  const napsBefore = naps();
  const beatBefore = Date.now();
  assert.ok(inbound.push(ToZone.input, speaker, cmb.chat(++pos.get(speaker)!.seq, ChatChannel.Say, 'heard through a full ring')));
  inbound.commit();
  rt.drain();
  assert.ok(naps() > napsBefore, 'the zone waited for room');
  assert.ok(rt.stats[ZoneStat.heartbeatMs]! >= beatBefore, 'waiting for the gateway keeps the heartbeat beating');
  assert.ok(clock.now >= gw.stalledUntil, 'it waited until the gateway drained');

  // The gateway is back: within a few ticks every view is the server's again.
  for (let i = 0; i < 5; i++) step();
  assertViewsMatch('after the stall');
  const heardBy = new Set([...gw.heard].filter(([, lines]) => lines.includes('heard through a full ring')).map(([s]) => s));
  assert.deepEqual(heardBy, expected, 'the line reached exactly the players in range');
  for (const lines of gw.heard.values()) assert.equal(lines.filter((l) => l === 'heard through a full ring').length, 1, 'once each');
});

test('a Snapshot that does not fit is owed again at the next tick, not forgotten', () => {
  const { rt, gw, inbound, clock } = setup(1 << 16);
  const buf = new Uint8Array(0);
  joinCrowd(inbound, mulberry32(5), 110, 36);
  rt.drain();
  // 60 join Snapshots do not all fit in 64 KB at once: the rest follow at the next ticks.
  for (let i = 0; i < 3; i++) {
    gw.poll();
    clock.now += TICK_MS;
    rt.tick(clock.now);
  }
  gw.poll();
  assert.ok(rt.stats[ZoneStat.outDropped]! > 0, 'some join Snapshots had to wait for a tick');
  assert.equal(gw.views.size, PLAYERS, 'every player got a Snapshot');

  // The gateway stalls and every player asks for a resync (as after a backed-up socket drains):
  // the ring holds only some of the Snapshots at each tick.
  gw.stalledUntil = Infinity;
  for (let session = 1; session <= PLAYERS; session++) assert.ok(inbound.push(ToZone.resync, session, buf, 0, 0));
  inbound.commit();
  rt.drain();
  for (let i = 0; i < 3; i++) {
    clock.now += TICK_MS;
    rt.tick(clock.now);
  }
  assert.ok(rt.stats[ZoneStat.outDropped]! > 0, 'some Snapshots did not fit');

  // Drain once per tick from now on; each tick writes what fits. Every session must get its Snapshot.
  gw.stalledUntil = 0;
  const before = gw.snapshots;
  for (let i = 0; i < 20; i++) {
    gw.poll();
    clock.now += TICK_MS;
    rt.tick(clock.now);
  }
  gw.poll();
  assert.ok(gw.snapshots - before >= PLAYERS, `${gw.snapshots - before} Snapshots after the stall for ${PLAYERS} owed`);
});
