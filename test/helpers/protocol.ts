// Test helpers for the wire protocol: message specs as plain data, fast-check
// arbitraries over every message type, builders from specs, and an
// independent decoder (generated accessors only) that reads every field, over
// a ByteBuffer that throws on any read outside the message.

import fc from 'fast-check';
import { ByteBuffer, Encoding } from 'flatbuffers';
import { ClientMessageBuilder, DeltaBuilder, ServerMessageBuilder, SnapshotBuilder, dequantizePosition } from '../../src/protocol/build.js';
import * as G from '../../src/protocol/generated/mmo_generated.js';
import { rebindByteBuffer } from '../../src/protocol/read.js';

// ---------------------------------------------------------------- specs

export type ClientSpec =
  | { seq: number; type: 'hello'; protocolVersion: number; token: string | null; guestName: string | null; clientName: string | null }
  | { seq: number; type: 'resume'; protocolVersion: number; sessionId: number; token: number[]; lastSeq: number }
  | { seq: number; type: 'move'; x: number; y: number }
  | { seq: number; type: 'attack'; target: number }
  | { seq: number; type: 'interact'; target: number; action: number }
  | { seq: number; type: 'chat'; channel: number; text: string | null; to: string | null }
  | { seq: number; type: 'ping'; clientTime: number }
  | { seq: number; type: 'ack'; lastSeq: number }
  | { seq: number; type: 'custom'; kind: number; data: number[] };

export interface EnterSpec {
  id: number;
  kind: number;
  x: number;
  y: number;
  hp: number;
  maxHp: number;
  level: number;
  name: string | null;
  flags: number;
}

export interface SelfSpec {
  hp: number;
  maxHp: number;
  level: number;
  xp: number;
  x: number;
  y: number;
  inventory: number[]; // flattened item, count pairs
}

export type ServerSpec =
  | { type: 'welcome'; protocolVersion: number; sessionId: number; resumeToken: number[]; entityId: number; name: string; zone: number; tickRate: number; serverTime: number; resumed: boolean; replayed: number }
  | {
      type: 'delta';
      tick: number;
      enters: EnterSpec[];
      updates: { id: number; x: number; y: number; hp: number; flags: number; dir: number }[];
      leaves: number[];
      damages: { attacker: number; target: number; amount: number; hpLeft: number }[];
      deaths: { entity: number; killer: number }[];
    }
  | { type: 'snapshot'; tick: number; zone: number; selfId: number; entities: EnterSpec[]; self: SelfSpec | null }
  | { type: 'chat'; channel: number; fromId: number; fromName: string | null; text: string | null }
  | { type: 'pong'; clientTime: number; serverTime: number }
  | { type: 'error'; code: number; reason: string | null; refSeq: number }
  | { type: 'kicked'; code: number; reason: string | null }
  | { type: 'zoneChanged'; zone: number; name: string | null; x: number; y: number }
  | { type: 'respawn'; x: number; y: number; hp: number }
  | ({ type: 'self' } & SelfSpec)
  | { type: 'levelUp'; level: number; xp: number }
  | { type: 'item'; item: number; count: number; total: number }
  | { type: 'moveRejected'; refSeq: number; x: number; y: number; reason: number }
  | { type: 'custom'; kind: number; data: number[] };

export interface FrameSpec {
  seq: number;
  ack: number;
  messages: ServerSpec[];
}

// ---------------------------------------------------------------- arbitraries

/** Records with a normal prototype (fast-check's default null prototype fails deepEqual against decoded objects). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** float32 values, finite, no -0 (a default-valued field is omitted and reads back as +0). */
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
const f64 = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
/** A world position that survives 1/16 quantization exactly. */
const pos = u16.map((q) => q / 16);
/** Any string, as it reads back after UTF-8 (lone surrogates become U+FFFD). */
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).map(utf8RoundTrip);
const optText = (maxLength: number) => fc.option(text(maxLength), { nil: null });

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export function utf8RoundTrip(s: string): string {
  return decoder.decode(encoder.encode(s));
}

export const clientSpecArb: fc.Arbitrary<ClientSpec> = fc.oneof(
  rec({ seq: fc.constant(0), type: fc.constant('hello' as const), protocolVersion: u16, token: optText(400), guestName: optText(15), clientName: optText(30) }),
  rec({ seq: fc.constant(0), type: fc.constant('resume' as const), protocolVersion: u16, sessionId: u32, token: fc.array(u8, { maxLength: 64 }), lastSeq: u32 }),
  rec({ seq: u32, type: fc.constant('move' as const), x: f32, y: f32 }),
  rec({ seq: u32, type: fc.constant('attack' as const), target: u32 }),
  rec({ seq: u32, type: fc.constant('interact' as const), target: u32, action: fc.integer({ min: 0, max: 2 }) }),
  rec({ seq: u32, type: fc.constant('chat' as const), channel: fc.integer({ min: 0, max: 4 }), text: optText(120), to: optText(15) }),
  rec({ seq: fc.constant(0), type: fc.constant('ping' as const), clientTime: f64 }),
  rec({ seq: fc.constant(0), type: fc.constant('ack' as const), lastSeq: u32 }),
  rec({ seq: u32, type: fc.constant('custom' as const), kind: u16, data: fc.array(u8, { maxLength: 64 }) }),
);

const enterArb: fc.Arbitrary<EnterSpec> = rec({
  id: u32,
  kind: fc.integer({ min: 0, max: 2 }),
  x: pos,
  y: pos,
  hp: u16,
  maxHp: u16,
  level: u8,
  name: optText(20),
  flags: u8,
});

const selfArb: fc.Arbitrary<SelfSpec> = rec({
  hp: u16,
  maxHp: u16,
  level: u8,
  xp: u32,
  x: f32,
  y: f32,
  inventory: fc.array(fc.tuple(u16, u16), { maxLength: 8 }).map((pairs) => pairs.flat()),
});

export const serverSpecArb: fc.Arbitrary<ServerSpec> = fc.oneof(
  rec({
    type: fc.constant('welcome' as const),
    protocolVersion: u16,
    sessionId: u32,
    resumeToken: fc.array(u8, { maxLength: 32 }),
    entityId: u32,
    name: text(20),
    zone: u16,
    tickRate: u16,
    serverTime: f64,
    resumed: fc.boolean(),
    replayed: u32,
  }),
  rec({
    type: fc.constant('delta' as const),
    tick: u32,
    enters: fc.array(enterArb, { maxLength: 6 }),
    updates: fc.array(rec({ id: u32, x: pos, y: pos, hp: u16, flags: u8, dir: u8 }), { maxLength: 10 }),
    leaves: fc.array(u32, { maxLength: 6 }),
    damages: fc.array(rec({ attacker: u32, target: u32, amount: u16, hpLeft: u16 }), { maxLength: 4 }),
    deaths: fc.array(rec({ entity: u32, killer: u32 }), { maxLength: 3 }),
  }),
  rec({ type: fc.constant('snapshot' as const), tick: u32, zone: u16, selfId: u32, entities: fc.array(enterArb, { maxLength: 8 }), self: fc.option(selfArb, { nil: null }) }),
  rec({ type: fc.constant('chat' as const), channel: fc.integer({ min: 0, max: 4 }), fromId: u32, fromName: optText(20), text: optText(120) }),
  rec({ type: fc.constant('pong' as const), clientTime: f64, serverTime: f64 }),
  rec({ type: fc.constant('error' as const), code: u16, reason: optText(40), refSeq: u32 }),
  rec({ type: fc.constant('kicked' as const), code: u16, reason: optText(40) }),
  rec({ type: fc.constant('zoneChanged' as const), zone: u16, name: optText(20), x: f32, y: f32 }),
  rec({ type: fc.constant('respawn' as const), x: f32, y: f32, hp: u16 }),
  selfArb.map((s) => ({ type: 'self' as const, ...s })),
  rec({ type: fc.constant('levelUp' as const), level: u8, xp: u32 }),
  rec({ type: fc.constant('item' as const), item: u16, count: u16, total: u16 }),
  rec({ type: fc.constant('moveRejected' as const), refSeq: u32, x: f32, y: f32, reason: u8 }),
  rec({ type: fc.constant('custom' as const), kind: u16, data: fc.array(u8, { maxLength: 64 }) }),
);

export const frameSpecArb: fc.Arbitrary<FrameSpec> = rec({ seq: u32, ack: u32, messages: fc.array(serverSpecArb, { maxLength: 6 }) });

// ---------------------------------------------------------------- building

export function buildClient(b: ClientMessageBuilder, s: ClientSpec): Uint8Array {
  switch (s.type) {
    case 'hello':
      return b.hello(s.protocolVersion, s.token, s.guestName, s.clientName);
    case 'resume':
      return b.resume(s.protocolVersion, s.sessionId, Uint8Array.from(s.token), s.lastSeq);
    case 'move':
      return b.move(s.seq, s.x, s.y);
    case 'attack':
      return b.attack(s.seq, s.target);
    case 'interact':
      return b.interact(s.seq, s.target, s.action);
    case 'chat':
      return b.chat(s.seq, s.channel, s.text, s.to);
    case 'ping':
      return b.ping(s.clientTime);
    case 'ack':
      return b.ack(s.lastSeq);
    case 'custom':
      return b.custom(s.seq, s.kind, Uint8Array.from(s.data));
  }
}

export interface ServerBuilders {
  msg: ServerMessageBuilder;
  delta: DeltaBuilder;
  snap: SnapshotBuilder;
}

export function serverBuilders(): ServerBuilders {
  return { msg: new ServerMessageBuilder(), delta: new DeltaBuilder({ initialRows: 2 }), snap: new SnapshotBuilder({ initialRows: 2 }) };
}

/** Builds one ServerMessage; the view is valid until the same builder builds again. */
export function buildServer(b: ServerBuilders, s: ServerSpec): Uint8Array {
  switch (s.type) {
    case 'welcome':
      return b.msg.welcome({ ...s, resumeToken: Uint8Array.from(s.resumeToken) });
    case 'delta': {
      const d = b.delta;
      d.begin(s.tick);
      for (const e of s.enters) d.addEnter(e.id, e.kind, e.x, e.y, e.hp, e.maxHp, e.level, e.name, e.flags);
      for (const u of s.updates) d.addUpdate(u.id, u.x, u.y, u.hp, u.flags, u.dir);
      for (const l of s.leaves) d.addLeave(l);
      for (const x of s.damages) d.addDamage(x.attacker, x.target, x.amount, x.hpLeft);
      for (const x of s.deaths) d.addDeath(x.entity, x.killer);
      return d.finish();
    }
    case 'snapshot': {
      const n = b.snap;
      n.begin(s.tick, s.zone, s.selfId);
      for (const e of s.entities) n.addEntity(e.id, e.kind, e.x, e.y, e.hp, e.maxHp, e.level, e.name, e.flags);
      if (s.self) {
        n.setSelf(s.self.hp, s.self.maxHp, s.self.level, s.self.xp, s.self.x, s.self.y);
        for (let i = 0; i < s.self.inventory.length; i += 2) n.addItem(s.self.inventory[i]!, s.self.inventory[i + 1]!);
      }
      return n.finish();
    }
    case 'chat':
      return b.msg.chatMessage(s.channel, s.fromId, s.fromName, s.text);
    case 'pong':
      return b.msg.pong(s.clientTime, s.serverTime);
    case 'error':
      return b.msg.error(s.code, s.reason, s.refSeq);
    case 'kicked':
      return b.msg.kicked(s.code, s.reason);
    case 'zoneChanged':
      return b.msg.zoneChanged(s.zone, s.name, s.x, s.y);
    case 'respawn':
      return b.msg.respawn(s.x, s.y, s.hp);
    case 'self':
      return b.msg.selfState(s.hp, s.maxHp, s.level, s.xp, s.x, s.y, s.inventory);
    case 'levelUp':
      return b.msg.levelUp(s.level, s.xp);
    case 'item':
      return b.msg.itemGained(s.item, s.count, s.total);
    case 'moveRejected':
      return b.msg.moveRejected(s.refSeq, s.x, s.y, s.reason);
    case 'custom':
      return b.msg.custom(s.kind, Uint8Array.from(s.data));
  }
}

// ---------------------------------------------------------------- decoding

/** A ByteBuffer that throws on any read outside [lo, hi): proves accessors stay inside a verified message. */
export class CheckedByteBuffer extends ByteBuffer {
  reads = 0;
  constructor(
    bytes: Uint8Array,
    private lo: number,
    private hi: number,
  ) {
    super(bytes);
    this.setPosition(lo);
  }
  /** Points this buffer at another message (no TextDecoder per message). */
  reset(bytes: Uint8Array, lo: number, hi: number): this {
    rebindByteBuffer(this, bytes, lo);
    this.lo = lo;
    this.hi = hi;
    this.reads = 0;
    return this;
  }
  private check(offset: number, size: number): void {
    this.reads++;
    if (!Number.isInteger(offset) || offset < this.lo || offset + size > this.hi) {
      throw new RangeError(`out-of-bounds read of ${size} at ${offset} (message is [${this.lo}, ${this.hi}))`);
    }
  }
  override readInt8(o: number): number {
    this.check(o, 1);
    return super.readInt8(o);
  }
  override readUint8(o: number): number {
    this.check(o, 1);
    return super.readUint8(o);
  }
  override readInt16(o: number): number {
    this.check(o, 2);
    return super.readInt16(o);
  }
  override readUint16(o: number): number {
    this.check(o, 2);
    return super.readUint16(o);
  }
  override readInt32(o: number): number {
    this.check(o, 4);
    return super.readInt32(o);
  }
  override readUint32(o: number): number {
    this.check(o, 4);
    return super.readUint32(o);
  }
  override readFloat32(o: number): number {
    this.check(o, 4);
    return super.readFloat32(o);
  }
  override readFloat64(o: number): number {
    this.check(o, 8);
    return super.readFloat64(o);
  }
  override __string(offset: number, enc?: Encoding): string | Uint8Array {
    const p = offset + this.readInt32(offset);
    const len = this.readInt32(p);
    this.check(p + 4, len + 1); // bytes and terminator
    if (this.bytes()[p + 4 + len] !== 0) throw new RangeError(`unterminated string at ${p}`);
    return super.__string(offset, enc);
  }
}

function bytesOf(get: (i: number) => number | null, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(get(i)!);
  return out;
}

export function decodeClient(bb: ByteBuffer): ClientSpec {
  const m = G.ClientMessage.getRootAsClientMessage(bb);
  const seq = m.seq();
  switch (m.bodyType()) {
    case G.ClientBody.Hello: {
      const h = m.body(new G.Hello()) as G.Hello;
      return { seq, type: 'hello', protocolVersion: h.protocolVersion(), token: h.token(), guestName: h.guestName(), clientName: h.clientName() };
    }
    case G.ClientBody.Resume: {
      const r = m.body(new G.Resume()) as G.Resume;
      return { seq, type: 'resume', protocolVersion: r.protocolVersion(), sessionId: r.sessionId(), token: bytesOf((i) => r.token(i), r.tokenLength()), lastSeq: r.lastSeq() };
    }
    case G.ClientBody.Move: {
      const v = m.body(new G.Move()) as G.Move;
      return { seq, type: 'move', x: v.x(), y: v.y() };
    }
    case G.ClientBody.Attack: {
      const a = m.body(new G.Attack()) as G.Attack;
      return { seq, type: 'attack', target: a.target() };
    }
    case G.ClientBody.Interact: {
      const a = m.body(new G.Interact()) as G.Interact;
      return { seq, type: 'interact', target: a.target(), action: a.action() };
    }
    case G.ClientBody.Chat: {
      const c = m.body(new G.Chat()) as G.Chat;
      return { seq, type: 'chat', channel: c.channel(), text: c.text(), to: c.to() };
    }
    case G.ClientBody.Ping: {
      const p = m.body(new G.Ping()) as G.Ping;
      return { seq, type: 'ping', clientTime: p.clientTime() };
    }
    case G.ClientBody.Ack: {
      const a = m.body(new G.Ack()) as G.Ack;
      return { seq, type: 'ack', lastSeq: a.lastSeq() };
    }
    case G.ClientBody.Custom: {
      const c = m.body(new G.Custom()) as G.Custom;
      return { seq, type: 'custom', kind: c.kind(), data: bytesOf((i) => c.data(i), c.dataLength()) };
    }
    default:
      throw new Error(`body type ${m.bodyType()}`);
  }
}

function decodeEnter(e: G.EntityEnter): EnterSpec {
  return { id: e.id(), kind: e.kind(), x: dequantizePosition(e.x()), y: dequantizePosition(e.y()), hp: e.hp(), maxHp: e.maxHp(), level: e.level(), name: e.name(), flags: e.flags() };
}

function decodeSelf(s: G.SelfState): SelfSpec {
  const inventory: number[] = [];
  for (let i = 0; i < s.inventoryLength(); i++) {
    const it = s.inventory(i)!;
    inventory.push(it.item(), it.count());
  }
  return { hp: s.hp(), maxHp: s.maxHp(), level: s.level(), xp: s.xp(), x: s.x(), y: s.y(), inventory };
}

export function decodeServerMessage(m: G.ServerMessage): ServerSpec {
  switch (m.bodyType()) {
    case G.ServerBody.Welcome: {
      const w = m.body(new G.Welcome()) as G.Welcome;
      return {
        type: 'welcome',
        protocolVersion: w.protocolVersion(),
        sessionId: w.sessionId(),
        resumeToken: bytesOf((i) => w.resumeToken(i), w.resumeTokenLength()),
        entityId: w.entityId(),
        name: w.name()!,
        zone: w.zone(),
        tickRate: w.tickRate(),
        serverTime: w.serverTime(),
        resumed: w.resumed(),
        replayed: w.replayed(),
      };
    }
    case G.ServerBody.Delta: {
      const d = m.body(new G.Delta()) as G.Delta;
      const enters = [];
      for (let i = 0; i < d.entersLength(); i++) enters.push(decodeEnter(d.enters(i)!));
      const updates = [];
      for (let i = 0; i < d.updatesLength(); i++) {
        const u = d.updates(i)!;
        updates.push({ id: u.id(), x: dequantizePosition(u.x()), y: dequantizePosition(u.y()), hp: u.hp(), flags: u.flags(), dir: u.dir() });
      }
      const leaves = bytesOf((i) => d.leaves(i), d.leavesLength());
      const damages = [];
      for (let i = 0; i < d.damagesLength(); i++) {
        const x = d.damages(i)!;
        damages.push({ attacker: x.attacker(), target: x.target(), amount: x.amount(), hpLeft: x.hpLeft() });
      }
      const deaths = [];
      for (let i = 0; i < d.deathsLength(); i++) {
        const x = d.deaths(i)!;
        deaths.push({ entity: x.entity(), killer: x.killer() });
      }
      return { type: 'delta', tick: d.tick(), enters, updates, leaves, damages, deaths };
    }
    case G.ServerBody.Snapshot: {
      const s = m.body(new G.Snapshot()) as G.Snapshot;
      const entities = [];
      for (let i = 0; i < s.entitiesLength(); i++) entities.push(decodeEnter(s.entities(i)!));
      const self = s.self();
      return { type: 'snapshot', tick: s.tick(), zone: s.zone(), selfId: s.selfId(), entities, self: self ? decodeSelf(self) : null };
    }
    case G.ServerBody.ChatMessage: {
      const c = m.body(new G.ChatMessage()) as G.ChatMessage;
      return { type: 'chat', channel: c.channel(), fromId: c.fromId(), fromName: c.fromName(), text: c.text() };
    }
    case G.ServerBody.Pong: {
      const p = m.body(new G.Pong()) as G.Pong;
      return { type: 'pong', clientTime: p.clientTime(), serverTime: p.serverTime() };
    }
    case G.ServerBody.Error: {
      const e = m.body(new G.Error()) as G.Error;
      return { type: 'error', code: e.code(), reason: e.reason(), refSeq: e.refSeq() };
    }
    case G.ServerBody.Kicked: {
      const k = m.body(new G.Kicked()) as G.Kicked;
      return { type: 'kicked', code: k.code(), reason: k.reason() };
    }
    case G.ServerBody.ZoneChanged: {
      const z = m.body(new G.ZoneChanged()) as G.ZoneChanged;
      return { type: 'zoneChanged', zone: z.zone(), name: z.name(), x: z.x(), y: z.y() };
    }
    case G.ServerBody.Respawn: {
      const r = m.body(new G.Respawn()) as G.Respawn;
      return { type: 'respawn', x: r.x(), y: r.y(), hp: r.hp() };
    }
    case G.ServerBody.SelfState:
      return { type: 'self', ...decodeSelf(m.body(new G.SelfState()) as G.SelfState) };
    case G.ServerBody.LevelUp: {
      const l = m.body(new G.LevelUp()) as G.LevelUp;
      return { type: 'levelUp', level: l.level(), xp: l.xp() };
    }
    case G.ServerBody.ItemGained: {
      const it = m.body(new G.ItemGained()) as G.ItemGained;
      return { type: 'item', item: it.item(), count: it.count(), total: it.total() };
    }
    case G.ServerBody.MoveRejected: {
      const r = m.body(new G.MoveRejected()) as G.MoveRejected;
      return { type: 'moveRejected', refSeq: r.refSeq(), x: r.x(), y: r.y(), reason: r.reason() };
    }
    case G.ServerBody.Custom: {
      const c = m.body(new G.Custom()) as G.Custom;
      return { type: 'custom', kind: c.kind(), data: bytesOf((i) => c.data(i), c.dataLength()) };
    }
    default:
      throw new Error(`body type ${m.bodyType()}`);
  }
}

export function decodeFrame(bb: ByteBuffer): FrameSpec {
  const f = G.ServerFrame.getRootAsServerFrame(bb);
  const messages: ServerSpec[] = [];
  for (let i = 0; i < f.messagesLength(); i++) messages.push(decodeServerMessage(f.messages(i)!));
  return { seq: f.seq(), ack: f.ack(), messages };
}

