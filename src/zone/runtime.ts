// The zone worker's runtime: owns one World, applies inputs as they arrive,
// ticks at a fixed rate, and turns what the world reports into ServerMessages
// on the outbound ring. Worker side: imports only ring, protocol, world, log.
//
// Loop (one turn of the worker's event loop per tick, so its timers, logs and
// messages still run):
//
//   drain inbound + mailbox ─▶ apply, answer (pongs, errors) ─▶ commit
//   tick due? ─▶ world.tick: deltas, events ─▶ checkpoint / states ─▶ commit ─▶ setImmediate
//   otherwise  ─▶ arm the doorbell, re-check, Atomics.wait until the tick is due
//
// Hot path: no allocation per input or per entity. Names are encoded once
// per entity (NameCache); builders, accessor objects and scratch arrays are
// preallocated.

import { ByteBuffer } from 'flatbuffers';
import { SpscRing, MpscRing, Doorbell, copyBytes, type MpscProducer } from '../ring/index.js';
import { DeltaBuilder, SnapshotBuilder, ServerMessageBuilder, NameCache } from '../protocol/build.js';
import { rebindByteBuffer, reusableByteBuffer, stringField, fieldSlot } from '../protocol/read.js';
import { ErrorCode, MoveReject as WireMoveReject } from '../protocol/codes.js';
import { ClientMessage } from '../protocol/generated/mmo/client-message.js';
import { ClientBody } from '../protocol/generated/mmo/client-body.js';
import { Move } from '../protocol/generated/mmo/move.js';
import { Attack } from '../protocol/generated/mmo/attack.js';
import { Interact } from '../protocol/generated/mmo/interact.js';
import { Chat } from '../protocol/generated/mmo/chat.js';
import { Custom } from '../protocol/generated/mmo/custom.js';
import { Ping } from '../protocol/generated/mmo/ping.js';
import { ChatChannel } from '../protocol/generated/mmo/chat-channel.js';
import {
  World,
  AttackResult,
  InteractResult,
  MoveReject,
  Kind,
  WorldStat,
  INVENTORY_SLOTS,
  zoneCapacity,
  newPlayerState,
  playerStateBytes,
  writePlayerState,
  readPlayerState,
  type DeltaWriter,
  type SnapshotWriter,
  type WorldEvents,
  type PlayerState,
  type ZoneDef,
  type MoveRejectReason,
  type ContentHooks,
  type WorldOptions,
} from '../world/index.js';
import { ContentFaultLog } from './content-faults.js';
import type { Logger } from '../log/logger.js';
import { ToZone, FromZone, JoinKind, Mail, FaultMode, WriteThroughKind, JoinRecord, JoinedRecord, JoinFailedRecord, ReconciledRecord, HandoffRecord, WriteThroughRecord, DurableRecord, LinkDeadRecord, FaultRecord, AoiLoadRecord, RebindRecord } from './records.js';
import { CheckpointBuffer, StallTracker, ZoneStat, TICK_BUCKETS, MOVE_REJECT_SLOTS, WORLD_STAT_SLOTS, type ZoneMemoryHandles } from './shared.js';

export interface ZoneWorkerData {
  /** Index of this zone among the server's zones (0-based): its producer id in the other zones' mailboxes. */
  index: number;
  def: ZoneDef;
  tickHz: number;
  memory: ZoneMemoryHandles;
  /** Every zone's mailbox, by index (this zone's own included, unused as a producer). */
  mailboxes: SharedArrayBuffer[];
  /** Start from the last checkpoint in memory.checkpoint (a restart after a crash). */
  restore: boolean;
  checkpointIntervalMs: number;
  /** Every player's state goes to the gateway this often (write-behind, and rejoin after a restart). */
  stateIntervalMs: number;
  /** Accept ToZone.fault records. */
  faultInjection: boolean;
}

/** World MoveReject reasons to wire MoveReject values. */
const WIRE_MOVE_REJECT: Record<MoveRejectReason, number> = {
  [MoveReject.speed]: WireMoveReject.speed,
  [MoveReject.teleport]: WireMoveReject.teleport,
  [MoveReject.obstacle]: WireMoveReject.obstacle,
  [MoveReject.bounds]: WireMoveReject.outOfBounds,
  [MoveReject.dead]: WireMoveReject.dead,
};

const ATTACK_ERROR: Record<number, number> = {
  [AttackResult.dead]: ErrorCode.selfDead,
  [AttackResult.cooldown]: ErrorCode.cooldown,
  [AttackResult.noTarget]: ErrorCode.unknownTarget,
  [AttackResult.self]: ErrorCode.invalidTarget,
  [AttackResult.outOfRange]: ErrorCode.outOfRange,
  [AttackResult.targetDead]: ErrorCode.targetDead,
  [AttackResult.protected]: ErrorCode.invalidTarget,
  [AttackResult.evading]: ErrorCode.invalidTarget,
};

const INTERACT_ERROR: Record<number, number> = {
  [InteractResult.dead]: ErrorCode.selfDead,
  [InteractResult.noTarget]: ErrorCode.unknownTarget,
  [InteractResult.outOfRange]: ErrorCode.outOfRange,
  [InteractResult.inventoryFull]: ErrorCode.inventoryFull,
  [InteractResult.unsupported]: ErrorCode.notInteractable,
};

const CHAT_TEXT = fieldSlot('Chat.text');
/**
 * A record that must not be lost (a control record, or a message such as
 * chat or a move correction) waits this long for ring space before the zone
 * gives up on it.
 */
const CONTROL_WAIT_MS = 5000;

/** Sleeps up to `ms` while the outbound ring is full (the gateway drains it meanwhile). */
export type RingNap = (ms: number) => void;

function atomicsNap(): RingNap {
  const word = new Int32Array(new SharedArrayBuffer(4));
  return (ms) => void Atomics.wait(word, 0, 0, ms);
}

export class ZoneRuntime implements DeltaWriter, SnapshotWriter, WorldEvents {
  world: World;
  /** The main thread's rings (the last owner's). */
  readonly inbound: SpscRing;
  readonly outbound: SpscRing;
  /**
   * Every owner's rings, by owner index: each gateway thread's (when there are
   * several), then the main thread's last. A session's records go to its
   * owner's ring (`owners`); answers to a record (bounce, fenceAck, left,
   * joinFailed) go back to the ring it came from.
   */
  private readonly ins: SpscRing[] = [];
  private readonly outs: SpscRing[] = [];
  private readonly views: DataView[] = [];
  /** session → owner index: set by the join that came through its ring, changed by rebind. */
  private readonly owners = new Map<number, number>();
  private readonly mainOwner: number;
  /** The ring being drained (its owner index). */
  private curIn = 0;
  /** The ring of the last reservation and a view of its data, for writers that fill a record in place. */
  private w!: SpscRing;
  private wView!: DataView;
  /** A reconcile was read: it runs after every owner's ring has been drained again (their rejoins come first). */
  private reconcilePending = false;
  readonly mailbox: MpscRing;
  readonly bell: Doorbell;
  readonly stats: Float64Array;
  readonly checkpoint: CheckpointBuffer;
  private readonly mailTo: MpscProducer[] = [];

  /** session → entity id. */
  private readonly bySession = new Map<number, number>();
  /**
   * Sessions owed a Snapshot at the next tick: a Delta of theirs was dropped
   * (ring full) or the gateway asked (a backed-up socket drained, a resume).
   * Two sets, swapped at each tick, so a snapshot that fails while the tick
   * walks the list is owed again at the next tick, not lost and not retried
   * in a loop.
   */
  private resync = new Set<number>();
  private resyncSpare = new Set<number>();
  /** Write-through events not yet durable, per session: their SelfState waits. */
  private readonly held = new Map<number, number>();
  private readonly selfPending = new Set<number>();
  /** Sessions claimed by rejoins since a restore; reconcile() removes the rest. */
  private rejoined: Set<number> | null = null;

  private readonly names = new NameCache();
  private readonly delta = new DeltaBuilder({ names: this.names });
  private readonly snap = new SnapshotBuilder({ names: this.names });
  private readonly msg = new ServerMessageBuilder();
  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly cm = new ClientMessage();
  private readonly mv = new Move();
  private readonly at = new Attack();
  private readonly ia = new Interact();
  private readonly ch = new Chat();
  private readonly pg = new Ping();
  private readonly cu = new Custom();
  private readonly recipients: Uint32Array;
  private readonly playerIds: Uint32Array;
  private readonly playerSessions: Uint32Array;
  private readonly state: PlayerState = newPlayerState('');
  private readonly joinState: PlayerState = newPlayerState('');
  /** Flat (item, count) pairs of one player's inventory for SelfState. */
  private readonly inv = new Uint16Array(2 * INVENTORY_SLOTS);

  private readonly period: number;
  private nextTick = 0;
  private readonly stalls = new StallTracker();
  private nextCheckpoint = 0;
  private nextStates = 0;
  private curSession = 0;
  private running = false;
  private readonly drainIn = (type: number, session: number, data: Uint8Array, offset: number, length: number): void =>
    this.onRecord(type, session, data, offset, length);
  private readonly drainMail = (type: number, _session: number, data: Uint8Array, offset: number, length: number): void =>
    this.onMail(type, data, offset, length);
  private readonly loop = (): void => this.turn();

  constructor(
    readonly data: ZoneWorkerData,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
    private readonly nap: RingNap = atomicsNap(),
    /** The content module's hooks (worker.ts imports them from data.def.content). */
    hooks?: ContentHooks,
  ) {
    const m = data.memory;
    this.bell = new Doorbell(m.bell);
    this.inbound = new SpscRing(m.inbound, 0);
    this.outbound = new SpscRing(m.outbound, 0, new Doorbell(m.gatewayBell));
    for (const o of m.owners) {
      this.ins.push(new SpscRing(o.inbound, 0));
      this.outs.push(new SpscRing(o.outbound, 0, new Doorbell(o.bell)));
    }
    this.mainOwner = this.ins.length;
    this.ins.push(this.inbound);
    this.outs.push(this.outbound);
    for (const r of this.outs) this.views.push(new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength));
    this.w = this.outbound;
    this.wView = this.views[this.mainOwner]!;
    this.mailbox = new MpscRing(m.mailbox, 0, this.bell);
    this.stats = new Float64Array(m.stats);
    this.checkpoint = new CheckpointBuffer(m.checkpoint, m.checkpointRegionBytes);
    data.mailboxes.forEach((sab, i) => {
      if (i !== data.index) this.mailTo.push(new MpscRing(sab, 0).producer(data.index));
    });
    this.period = 1000 / data.tickHz;

    const cap = zoneCapacity(data.def);
    this.recipients = new Uint32Array(cap);
    this.playerIds = new Uint32Array(cap);
    this.playerSessions = new Uint32Array(cap);

    const t = this.now();
    const saved = data.restore ? this.checkpoint.latest() : null;
    const faults = new ContentFaultLog(log);
    const c = data.def.content;
    const wo: WorldOptions = { hooks, hookOptions: { budgetMs: c?.budgetMs, maxConsecutiveErrors: c?.maxConsecutiveErrors, report: (h, r, ms, err) => void faults.note(h, r, ms, err) } };
    if (saved) {
      this.world = World.restore(data.def, saved, this, t, wo);
      const n = this.world.players(this.playerIds, this.playerSessions);
      for (let i = 0; i < n; i++) this.bySession.set(this.playerSessions[i]!, this.playerIds[i]!);
      log.info({ players: n, bytes: saved.length }, 'zone restored from its last checkpoint');
    } else {
      this.world = new World(data.def, this, t, wo);
    }
    // After a restart the gateway rejoins every session it has in this zone, then reconciles.
    if (data.restore) this.rejoined = new Set();
    this.nextTick = t + this.period;
    this.nextCheckpoint = t + data.checkpointIntervalMs;
    this.nextStates = t + data.stateIntervalMs;
  }

  /** Starts the loop. */
  start(): void {
    this.running = true;
    setImmediate(this.loop);
  }

  stop(): void {
    this.running = false;
  }

  /** One event-loop turn: handle records until the tick is due, tick, yield. */
  private turn(): void {
    if (!this.running) return;
    for (;;) {
      this.drain();
      const t = this.now();
      if (t >= this.nextTick) {
        this.tick(t);
        setImmediate(this.loop);
        return;
      }
      this.bell.arm();
      if (!this.inboundEmpty() || !this.mailbox.isEmpty()) continue;
      this.bell.wait(Math.max(0, this.nextTick - t));
    }
  }

  /** Handles every pending record, then publishes what it produced. */
  drain(): number {
    // Past the tick's due time means this thread was held up (starved of CPU,
    // a long GC): inputs queued meanwhile arrive together, as after a gateway
    // stall. Either excuses their speed for a while.
    const now = this.now();
    if (this.nextTick > 0 && now > this.nextTick) this.stalls.note(now - this.nextTick, now);
    let gw = this.stats[ZoneStat.gatewayStallMs]!;
    for (let i = 0; i < this.mainOwner; i++) {
      const t = this.stats[ZoneStat.threadStallMs + i]!;
      if (t > gw) gw = t;
    }
    const own = this.stalls.current(now);
    this.world.movement.setStall(gw > own ? gw : own);
    // The main thread's ring first (its records for a session precede what an owner does after hearing of them),
    // then each gateway thread's.
    let n = 0;
    const ins = this.ins;
    for (let k = 0; k < ins.length; k++) {
      const i = k === 0 ? this.mainOwner : k - 1;
      this.curIn = i;
      n += ins[i]!.drain(this.drainIn);
    }
    if (this.reconcilePending) {
      // Every owner wrote its rejoins before the main thread sent the reconcile: read them all first.
      for (let i = 0; i < ins.length; i++) {
        this.curIn = i;
        n += ins[i]!.drain(this.drainIn);
      }
      this.curIn = this.mainOwner;
      this.reconcilePending = false;
      this.reconcile();
    }
    n += this.mailbox.drain(this.drainMail);
    this.commitAll();
    return n;
  }

  private inboundEmpty(): boolean {
    for (let i = 0; i < this.ins.length; i++) if (!this.ins[i]!.isEmpty()) return false;
    return true;
  }

  private commitAll(): void {
    const outs = this.outs;
    for (let i = 0; i < outs.length; i++) outs[i]!.commit();
  }

  /** Points `w` at the ring of owner `o`. */
  private toOwner(o: number): void {
    this.w = this.outs[o]!;
    this.wView = this.views[o]!;
  }

  /** Points `w` at the ring of the session's owner (the main thread's when it has none: restored, not yet rejoined). */
  private toSession(session: number): void {
    this.toOwner(this.owners.get(session) ?? this.mainOwner);
  }

  tick(t: number): void {
    const w = this.world;
    if (this.resync.size > 0) {
      const owed = this.resync;
      this.resync = this.resyncSpare;
      this.resyncSpare = owed;
      for (const s of owed) {
        const e = this.bySession.get(s);
        if (e !== undefined) w.snapshot(e, this);
      }
      owed.clear();
    }
    w.tick(t, this);
    if (t >= this.nextStates) {
      this.nextStates = t + this.data.stateIntervalMs;
      this.sendStates();
    }
    this.commitAll();
    if (t >= this.nextCheckpoint) {
      this.nextCheckpoint = t + this.data.checkpointIntervalMs;
      this.writeCheckpoint(t);
    }
    const done = this.now();
    this.record(done - t, done > this.nextTick + this.period);
    this.nextTick += this.period;
    // After a long stall, realign instead of running a burst of catch-up ticks.
    if (this.nextTick < done) this.nextTick = done + this.period;
  }

  private record(ms: number, overrun: boolean): void {
    const st = this.stats;
    const sec = ms / 1000;
    st[ZoneStat.heartbeatMs] = Date.now();
    st[ZoneStat.ticks]!++;
    if (overrun) st[ZoneStat.overruns]!++;
    st[ZoneStat.tickSecondsSum]! += sec;
    let b = 0;
    while (b < TICK_BUCKETS.length && sec > TICK_BUCKETS[b]!) b++;
    st[ZoneStat.tickBuckets + b]!++;
    const store = this.world.store;
    st[ZoneStat.players] = store.countByKind[Kind.player]!;
    st[ZoneStat.npcs] = store.countByKind[Kind.npc]!;
    for (let i = 0; i < MOVE_REJECT_SLOTS && i < this.world.moveRejects.length; i++) st[ZoneStat.moveRejects + i] = this.world.moveRejects[i]!;
    for (let i = 0; i < WORLD_STAT_SLOTS && i < this.world.stats.length; i++) st[ZoneStat.worldStats + i] = this.world.stats[i]!;
  }

  private writeCheckpoint(t: number): void {
    const region = this.checkpoint.writable();
    const n = this.world.checkpointInto(region, t);
    if (n < 0) {
      this.log.error({ need: this.world.checkpointBound(), have: region.length }, 'checkpoint does not fit its region; skipped');
      return;
    }
    this.checkpoint.publish(n);
    this.stats[ZoneStat.checkpoints]!++;
    this.stats[ZoneStat.checkpointBytes] = n;
  }

  private sendStates(): void {
    const n = this.world.players(this.playerIds, this.playerSessions);
    for (let i = 0; i < n; i++) {
      if (this.world.playerState(this.playerIds[i]!, this.state)) this.emitState(FromZone.state, this.playerSessions[i]!, this.state, 0, 0, false);
    }
  }

  // ------------------------------------------------------------ inbound

  private onRecord(type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    switch (type) {
      case ToZone.input:
        this.stats[ZoneStat.inputs]!++;
        return this.onInput(session, data, offset, length);
      case ToZone.join:
        if (session !== 0) this.owners.set(session, this.curIn);
        return this.onJoin(session, data, offset, length);
      case ToZone.leave:
        return this.onLeave(session);
      case ToZone.rebind:
        return this.onRebind(session, RebindRecord.owner(data, offset));
      case ToZone.linkDead: {
        const e = this.bySession.get(session);
        if (e !== undefined) this.world.setLinkDead(e, LinkDeadRecord.dead(data, offset));
        return;
      }
      case ToZone.resync:
        this.resync.add(session);
        return;
      case ToZone.fence:
        this.toOwner(this.curIn);
        this.control(FromZone.fenceAck, session);
        if (!this.bySession.has(session)) this.owners.delete(session);
        return;
      case ToZone.durable:
        return this.onDurable(session, DurableRecord.count(data, offset));
      case ToZone.reconcile:
        this.reconcilePending = true;
        return;
      case ToZone.fault:
        if (this.data.faultInjection) this.fault(FaultRecord.mode(data, offset));
        return;
      case ToZone.aoiLoad:
        this.world.setAoiLoad(AoiLoadRecord.updateTicks(data, offset), AoiLoadRecord.visibleCap(data, offset));
        return;
    }
  }

  private onInput(session: number, data: Uint8Array, offset: number, length: number): void {
    const e = this.bySession.get(session);
    if (e === undefined) {
      // Handed off (or left) since its owner sent this: send it back to be routed again.
      this.toOwner(this.curIn);
      const off = this.reserveControl(FromZone.bounce, session, length);
      if (off >= 0) copyBytes(data, offset, this.w.data, off, length);
      return;
    }
    const m = ClientMessage.getRootAsClientMessage(rebindByteBuffer(this.bb, data, offset), this.cm);
    const t = this.now();
    switch (m.bodyType()) {
      case ClientBody.Move: {
        const v = m.body(this.mv) as Move;
        this.world.applyMove(e, m.seq(), v.x(), v.y(), t);
        return;
      }
      case ClientBody.Attack: {
        const r = this.world.applyAttack(e, (m.body(this.at) as Attack).target(), t);
        if (r !== AttackResult.ok && r !== AttackResult.noPlayer) this.sendError(session, ATTACK_ERROR[r] ?? ErrorCode.invalidInput, m.seq());
        return;
      }
      case ClientBody.Interact: {
        const ia = m.body(this.ia) as Interact;
        const r = this.world.applyInteract(e, ia.target(), ia.action(), t);
        if (r !== InteractResult.ok && r !== InteractResult.noPlayer) this.sendError(session, INTERACT_ERROR[r] ?? ErrorCode.invalidInput, m.seq());
        return;
      }
      case ClientBody.Chat:
        return this.onChat(session, e, m.body(this.ch) as Chat, m.seq());
      case ClientBody.Custom:
        return this.onCustom(session, e, m.body(this.cu) as Custom, m.seq());
      case ClientBody.Ping: {
        const p = m.body(this.pg) as Ping;
        this.msg.pong(p.clientTime(), Date.now());
        this.out(FromZone.outUnsequenced, session, this.msg.bytes, this.msg.start, this.msg.length);
        return;
      }
    }
  }

  /** A game's own input: its payload, in place in the ring, goes to the content's onInput. */
  private onCustom(session: number, e: number, c: Custom, seq: number): void {
    const content = this.world.content;
    const slot = this.world.playerSlot(e);
    if (slot < 0) return;
    const bb = this.bb;
    const o = bb.__offset(c.bb_pos, 6);
    const start = o ? bb.__vector(c.bb_pos + o) : 0;
    const len = o ? bb.__vector_len(c.bb_pos + o) : 0;
    if (content === null || !content.input(slot, c.kind(), bb.bytes(), start, len)) this.sendError(session, ErrorCode.invalidInput, seq);
  }

  private onChat(session: number, e: number, c: Chat, seq: number): void {
    const text = stringField(c, CHAT_TEXT);
    if (!text) return this.sendError(session, ErrorCode.badText, seq);
    const slot = this.world.playerSlot(e);
    if (slot < 0) return;
    const store = this.world.store;
    const channel = c.channel();
    let n: number;
    if (channel === ChatChannel.Say) n = this.world.sayRecipients(e, this.recipients);
    else if (channel === ChatChannel.Zone || channel === ChatChannel.Global) n = this.world.zoneRecipients(this.recipients);
    else return this.sendError(session, ErrorCode.channelNotAllowed, seq);
    this.msg.chatMessage(channel, store.id[slot]!, store.names[slot]!, text);
    const bytes = this.msg.bytes;
    const start = this.msg.start;
    const len = this.msg.length;
    for (let i = 0; i < n; i++) this.out(FromZone.out, this.recipients[i]!, bytes, start, len);
    if (channel === ChatChannel.Global) {
      for (const p of this.mailTo) {
        const off = p.reserve(Mail.globalChat, 0, len);
        if (off >= 0) {
          copyBytes(bytes, start, p.data, off, len);
          p.commit();
        }
      }
    }
  }

  private onMail(type: number, data: Uint8Array, offset: number, length: number): void {
    if (type !== Mail.globalChat) return;
    const n = this.world.zoneRecipients(this.recipients);
    for (let i = 0; i < n; i++) this.out(FromZone.out, this.recipients[i]!, data, offset, length);
  }

  private onJoin(session: number, data: Uint8Array, offset: number, length: number): void {
    const kind = JoinRecord.kind(data, offset);
    const hint = JoinRecord.hint(data, offset);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (readPlayerState(v, data.subarray(0, offset + length), offset + JoinRecord.header, this.joinState) < 0) {
      this.log.error({ session }, 'join with an unreadable player state');
      this.joinFailed(session, -2);
      return;
    }
    let e = this.bySession.get(session);
    let added = false;
    if (kind === JoinKind.rejoin && e !== undefined && (hint === 0 || hint === e)) {
      // The restored world has this player already: keep it (its state is the checkpoint's).
      this.rejoined?.add(session);
    } else {
      if (e !== undefined) this.world.removePlayer(e);
      const r = this.world.addPlayer(session, this.joinState, this.now());
      if (r < 0) {
        this.bySession.delete(session);
        this.joinFailed(session, r);
        return;
      }
      e = r;
      this.bySession.set(session, e);
      this.rejoined?.add(session);
      added = true;
    }
    this.toSession(session);
    const off = this.reserveControl(FromZone.joined, session, JoinedRecord.size);
    if (off >= 0) JoinedRecord.write(this.w.data, off, e, kind);
    this.world.snapshot(e, this);
    if (added) this.world.content?.join(this.world.playerSlot(e));
  }

  private onLeave(session: number): void {
    const e = this.bySession.get(session);
    this.bySession.delete(session);
    this.held.delete(session);
    this.selfPending.delete(session);
    this.resync.delete(session);
    this.owners.delete(session);
    this.toOwner(this.curIn);
    if (e === undefined || !this.world.removePlayer(e, this.state)) {
      this.control(FromZone.left, session);
      return;
    }
    this.emitState(FromZone.left, session, this.state, 0, 0, true);
  }

  /**
   * The session moves to owner `to`: `moved` is the last record of it on its
   * old owner's ring, everything after goes to the new one. Sent by the old
   * owner after its last input (or by the main thread when that owner's
   * thread died, which then reads the old ring itself).
   */
  private onRebind(session: number, to: number): void {
    const old = this.owners.get(session) ?? this.curIn;
    if (to >= 0 && to < this.outs.length && (this.bySession.has(session) || this.owners.has(session))) this.owners.set(session, to);
    this.toOwner(old);
    this.control(FromZone.moved, session);
  }

  private onDurable(session: number, count: number): void {
    const left = (this.held.get(session) ?? 0) - count;
    if (left > 0) {
      this.held.set(session, left);
      return;
    }
    this.held.delete(session);
    if (this.selfPending.delete(session)) {
      const e = this.bySession.get(session);
      const slot = e === undefined ? -1 : this.world.playerSlot(e);
      if (slot >= 0) this.writeSelf(session, slot);
    }
  }

  private reconcile(): void {
    let removed = 0;
    if (this.rejoined) {
      for (const [session, e] of this.bySession) {
        if (this.rejoined.has(session)) continue;
        this.world.removePlayer(e);
        this.bySession.delete(session);
        removed++;
      }
    }
    this.rejoined = null;
    this.toOwner(this.mainOwner);
    const off = this.reserveControl(FromZone.reconciled, 0, ReconciledRecord.size);
    if (off >= 0) ReconciledRecord.write(this.w.data, off, removed);
  }

  private fault(mode: number): void {
    this.log.warn({ mode }, 'injected fault');
    switch (mode) {
      case FaultMode.throw:
        throw new Error('injected fault: throw');
      case FaultMode.exit:
        process.exit(3);
        break;
      case FaultMode.oom: {
        const hog: number[][] = [];
        for (;;) hog.push(new Array<number>(1 << 20).fill(hog.length));
      }
      case FaultMode.hang:
        for (;;) {
          // A zone stuck in a loop: only the supervisor's heartbeat check ends this.
        }
    }
  }

  // ------------------------------------------------------------ the world's writers

  begin(_observer: number, session: number): void {
    this.curSession = session;
    this.delta.begin(this.world.tickCount);
  }

  enter(s: number): void {
    const st = this.world.store;
    this.delta.addEnter(st.id[s]!, st.kind[s]!, st.qx[s]! / 16, st.qy[s]! / 16, st.pubHp[s]!, st.maxHp[s]!, st.level[s]!, st.names[s] ?? null, st.pubFlags[s]!);
  }

  update(s: number): void {
    const st = this.world.store;
    this.delta.addUpdate(st.id[s]!, st.qx[s]! / 16, st.qy[s]! / 16, st.pubHp[s]!, st.pubFlags[s]!, st.facing[s]!);
  }

  leave(id: number): void {
    this.delta.addLeave(id);
  }

  damage(attackerId: number, targetId: number, amount: number, hpLeft: number): void {
    this.delta.addDamage(attackerId, targetId, amount, hpLeft);
  }

  death(entityId: number, killerId: number): void {
    this.delta.addDeath(entityId, killerId);
  }

  end(): void {
    const len = this.delta.finishRaw();
    this.out(FromZone.outDelta, this.curSession, this.delta.bytes, this.delta.start, len);
  }

  snapshotBegin(observer: number, session: number): void {
    const st = this.world.store;
    this.curSession = session;
    this.snap.begin(this.world.tickCount, this.data.def.id, st.id[observer]!);
    this.snap.setSelf(st.hp[observer]!, st.maxHp[observer]!, st.level[observer]!, st.xp[observer]!, st.x[observer]!, st.y[observer]!);
    const base = observer * INVENTORY_SLOTS;
    for (let i = base; i < base + INVENTORY_SLOTS; i++) if (st.invItem[i]! !== 0) this.snap.addItem(st.invItem[i]!, st.invCount[i]!);
  }

  snapshotEntity(s: number): void {
    const st = this.world.store;
    this.snap.addEntity(st.id[s]!, st.kind[s]!, st.qx[s]! / 16, st.qy[s]! / 16, st.pubHp[s]!, st.maxHp[s]!, st.level[s]!, st.names[s] ?? null, st.pubFlags[s]!);
  }

  snapshotEnd(): void {
    const len = this.snap.finishRaw();
    // Owed no more, unless this one cannot be written either (out() owes it again).
    this.resync.delete(this.curSession);
    this.out(FromZone.out, this.curSession, this.snap.bytes, this.snap.start, len, false);
  }

  // ------------------------------------------------------------ the world's events

  moveRejected(session: number, seq: number, x: number, y: number, reason: MoveRejectReason): void {
    this.msg.moveRejected(seq, x, y, WIRE_MOVE_REJECT[reason] ?? WireMoveReject.invalid);
    this.out(FromZone.out, session, this.msg.bytes, this.msg.start, this.msg.length);
  }

  selfState(session: number, slot: number): void {
    if (this.held.has(session)) {
      this.selfPending.add(session);
      return;
    }
    this.writeSelf(session, slot);
  }

  levelUp(session: number, slot: number, level: number, xp: number): void {
    this.writeThrough(session, slot, WriteThroughKind.levelUp, level, xp, 0);
  }

  itemGained(session: number, slot: number, item: number, count: number, total: number): void {
    this.writeThrough(session, slot, WriteThroughKind.itemGained, item, count, total);
  }

  respawn(session: number, _slot: number, x: number, y: number, hp: number): void {
    this.msg.respawn(x, y, hp);
    this.out(FromZone.out, session, this.msg.bytes, this.msg.start, this.msg.length);
  }

  customMessage(session: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean {
    this.msg.custom(kind, bytes, offset, length);
    this.out(FromZone.out, session, this.msg.bytes, this.msg.start, this.msg.length);
    return true;
  }

  handoff(session: number, state: PlayerState, targetZone: number, x: number, y: number): void {
    this.bySession.delete(session);
    this.held.delete(session);
    this.selfPending.delete(session);
    this.resync.delete(session);
    state.x = x;
    state.y = y;
    this.emitState(FromZone.handoff, session, state, HandoffRecord.header, targetZone, true);
  }

  // ------------------------------------------------------------ output

  private writeSelf(session: number, slot: number): void {
    const st = this.world.store;
    let n = 0;
    for (let i = slot * INVENTORY_SLOTS; i < (slot + 1) * INVENTORY_SLOTS; i++) {
      if (st.invItem[i]! === 0) continue;
      this.inv[n++] = st.invItem[i]!;
      this.inv[n++] = st.invCount[i]!;
    }
    this.msg.selfState(st.hp[slot]!, st.maxHp[slot]!, st.level[slot]!, st.xp[slot]!, st.x[slot]!, st.y[slot]!, this.inv, n >> 1);
    this.out(FromZone.out, session, this.msg.bytes, this.msg.start, this.msg.length);
  }

  private writeThrough(session: number, slot: number, kind: number, a: number, b: number, c: number): void {
    if (!this.world.playerState(this.world.store.id[slot]!, this.state)) return;
    const size = WriteThroughRecord.header + playerStateBytes(this.state);
    this.toSession(session);
    const off = this.reserveControl(FromZone.writeThrough, session, size);
    if (off < 0) return;
    WriteThroughRecord.write(this.w.data, off, kind, a, b, c);
    writePlayerState(this.wView, this.w.data, off + WriteThroughRecord.header, this.state);
    this.held.set(session, (this.held.get(session) ?? 0) + 1);
  }

  /** A record carrying a player state after `header` bytes (0, or HandoffRecord.header with its target zone). */
  /** `left` goes to the ring its leave came from (the caller points `w` there); the others to the session's owner. */
  private emitState(type: number, session: number, s: PlayerState, header: number, targetZone: number, mustDeliver: boolean): void {
    const size = header + playerStateBytes(s);
    if (type !== FromZone.left) this.toSession(session);
    const off = mustDeliver ? this.reserveControl(type, session, size) : this.w.reserve(type, session, size);
    if (off < 0) {
      if (!mustDeliver) this.stats[ZoneStat.outDropped]!++;
      return;
    }
    if (header > 0) HandoffRecord.write(this.w.data, off, targetZone);
    writePlayerState(this.wView, this.w.data, off + header, s);
  }

  private sendError(session: number, code: number, refSeq: number): void {
    this.msg.error(code, null, refSeq);
    this.out(FromZone.out, session, this.msg.bytes, this.msg.start, this.msg.length);
  }

  /**
   * A message for a player. When the ring is full: a Delta or a Snapshot is
   * dropped and the player owed a Snapshot at the next tick (newer state
   * supersedes it); a Pong is dropped (the client pings again); anything
   * else (chat, a move correction, an error, a respawn) waits for the gateway
   * to make room, as control records do, because nothing later replaces it.
   */
  private out(type: number, session: number, bytes: Uint8Array, start: number, len: number, wait = type === FromZone.out): void {
    this.toSession(session);
    const off = wait ? this.reserveControl(type, session, len) : this.w.reserve(type, session, len);
    if (off < 0) {
      this.stats[ZoneStat.outDropped]!++;
      if (type !== FromZone.outUnsequenced) this.resync.add(session);
      return;
    }
    copyBytes(bytes, start, this.w.data, off, len);
  }

  /** A control record with no payload (fenceAck, an empty left, moved), on the ring `w` points at. */
  private control(type: number, session: number): void {
    this.reserveControl(type, session, 0);
  }

  /** Answers a join on the ring it came from. */
  private joinFailed(session: number, code: number): void {
    this.owners.delete(session);
    this.toOwner(this.curIn);
    const off = this.reserveControl(FromZone.joinFailed, session, JoinFailedRecord.size);
    if (off >= 0) JoinFailedRecord.write(this.w.data, off, code);
  }

  /**
   * Reserves space for a record that must not be lost (joins, leaves,
   * handoffs, write-through, and the messages out() makes wait): when the
   * ring is full it publishes what it has and waits for the gateway to
   * drain, up to CONTROL_WAIT_MS.
   */
  private reserveControl(type: number, session: number, size: number): number {
    const off = this.w.reserve(type, session, size);
    if (off >= 0) return off;
    return this.waitForRoom(type, session, size);
  }

  /**
   * The ring is full: publishes what it holds and waits for the gateway to
   * drain, up to CONTROL_WAIT_MS. Waiting is a sign of life, not a hang, so
   * the heartbeat keeps beating (a gateway back from a long stall must not
   * kill a zone that was only waiting for it). Returns the reservation or -1.
   */
  private waitForRoom(type: number, session: number, size: number): number {
    const w = this.w;
    if (size > w.maxPayload) {
      this.log.error({ type, session, size, maxPayload: w.maxPayload }, 'record larger than the outbound ring allows; raise zones.outboundRingBytes');
      return -1;
    }
    const deadline = this.now() + CONTROL_WAIT_MS;
    let off = -1;
    while (off < 0 && this.now() < deadline) {
      w.commit();
      this.stats[ZoneStat.heartbeatMs] = Date.now();
      this.nap(1);
      off = w.reserve(type, session, size);
    }
    if (off < 0) this.log.error({ type, session, size }, `outbound ring stayed full for ${CONTROL_WAIT_MS} ms; a record was lost`);
    return off;
  }
}


/** WorldStat indices exported per zone (for the gateway's metrics). */
export { WorldStat };
