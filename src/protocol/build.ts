// Building protocol messages. Each builder owns one flatbuffers.Builder that it
// clear()s per message and returns a view of the finished bytes: no copy, valid
// until the same builder builds again. Copy (slice()) what must outlive that.
//
// Every build method allocates one small Uint8Array view (the return value);
// `bytes`/`start`/`length` describe the same message without it, for the
// frame path (FrameWriter.add(b.bytes, b.start, b.length)). String arguments
// are UTF-8-encoded by the flatbuffers runtime (TextEncoder: allocates); pass a
// Uint8Array of UTF-8 instead where a hot path already has the bytes.
//
// Builders are single-threaded objects: one per gateway, per zone worker, per
// SDK client.

import { Builder } from 'flatbuffers';
import { Attack } from './generated/mmo/attack.js';
import { Chat } from './generated/mmo/chat.js';
import { ChatMessage } from './generated/mmo/chat-message.js';
import { ClientBody } from './generated/mmo/client-body.js';
import { ClientMessage } from './generated/mmo/client-message.js';
import { Custom } from './generated/mmo/custom.js';
import { DamageEvent } from './generated/mmo/damage-event.js';
import { DeathEvent } from './generated/mmo/death-event.js';
import { Delta } from './generated/mmo/delta.js';
import { EntityEnter } from './generated/mmo/entity-enter.js';
import { EntityState } from './generated/mmo/entity-state.js';
import { Error as ErrorMsg } from './generated/mmo/error.js';
import { Hello } from './generated/mmo/hello.js';
import { Interact } from './generated/mmo/interact.js';
import { InventoryItem } from './generated/mmo/inventory-item.js';
import { ItemGained } from './generated/mmo/item-gained.js';
import { Kicked } from './generated/mmo/kicked.js';
import { LevelUp } from './generated/mmo/level-up.js';
import { Move } from './generated/mmo/move.js';
import { MoveRejected } from './generated/mmo/move-rejected.js';
import { Ping } from './generated/mmo/ping.js';
import { Ack } from './generated/mmo/ack.js';
import { Pong } from './generated/mmo/pong.js';
import { Respawn } from './generated/mmo/respawn.js';
import { Resume } from './generated/mmo/resume.js';
import { SelfState } from './generated/mmo/self-state.js';
import { ServerBody } from './generated/mmo/server-body.js';
import { ServerMessage } from './generated/mmo/server-message.js';
import { Snapshot } from './generated/mmo/snapshot.js';
import { Welcome } from './generated/mmo/welcome.js';
import { ZoneChanged } from './generated/mmo/zone-changed.js';
import { encodeUtf8 } from './utf8.js';

/** Server positions on the wire are uint16 in 1/16 world unit (zones are at most 4096 units across). */
export const POSITION_SCALE = 16;

/** World units to the wire's uint16 (rounded, clamped to [0, 65535]). */
export function quantizePosition(v: number): number {
  const q = Math.round(v * POSITION_SCALE);
  return q < 0 || q !== q ? 0 : q > 0xffff ? 0xffff : q;
}

/** The wire's uint16 back to world units. */
export function dequantizePosition(q: number): number {
  return q / POSITION_SCALE;
}

type Text = string | Uint8Array | null | undefined;

/** Shared plumbing: one reusable Builder, and the last message's location. */
abstract class ReusableBuilder {
  protected readonly b: Builder;

  constructor(initialBytes: number) {
    this.b = new Builder(initialBytes);
  }

  /** Backing array of the last built message (a new array after the builder grew). */
  get bytes(): Uint8Array {
    return this.b.dataBuffer().bytes();
  }

  /** Index of the last built message in `bytes`. */
  get start(): number {
    return this.b.dataBuffer().position();
  }

  /** Length of the last built message. */
  get length(): number {
    return this.b.offset();
  }

  protected str(s: Text): number {
    return s === null || s === undefined ? 0 : this.b.createString(s);
  }

  protected done(root: number): Uint8Array {
    this.b.finish(root);
    return this.b.asUint8Array();
  }
}

/** A builder that gathers a message's parts with add*() calls, then writes it once. */
abstract class AccumulatingBuilder extends ReusableBuilder {
  /** Writes the message from what was gathered; returns its root offset. */
  protected abstract build(): number;

  /** Writes the message; returns a view valid until the next finish(). */
  finish(): Uint8Array {
    return this.done(this.build());
  }

  /** As finish(), without the view: the message is at bytes[start, start + length). Returns length. */
  finishRaw(): number {
    this.b.finish(this.build());
    return this.length;
  }
}

/** Builds ClientMessages (the SDK, tests, bots). */
export class ClientMessageBuilder extends ReusableBuilder {
  constructor(initialBytes = 256) {
    super(initialBytes);
  }

  private wrap(seq: number, type: ClientBody, body: number): Uint8Array {
    const b = this.b;
    ClientMessage.startClientMessage(b);
    ClientMessage.addSeq(b, seq);
    ClientMessage.addBodyType(b, type);
    ClientMessage.addBody(b, body);
    return this.done(ClientMessage.endClientMessage(b));
  }

  /** Hello: log in with a token, or as a guest. seq is 0. */
  hello(protocolVersion: number, token: Text, guestName: Text, clientName: Text): Uint8Array {
    const b = this.b;
    b.clear();
    const t = this.str(token);
    const g = this.str(guestName);
    const c = this.str(clientName);
    Hello.startHello(b);
    Hello.addProtocolVersion(b, protocolVersion);
    if (t) Hello.addToken(b, t);
    if (g) Hello.addGuestName(b, g);
    if (c) Hello.addClientName(b, c);
    return this.wrap(0, ClientBody.Hello, Hello.endHello(b));
  }

  /** Resume a session after a disconnect. seq is 0. */
  resume(protocolVersion: number, sessionId: number, token: Uint8Array, lastSeq: number): Uint8Array {
    const b = this.b;
    b.clear();
    const t = b.createByteVector(token);
    Resume.startResume(b);
    Resume.addProtocolVersion(b, protocolVersion);
    Resume.addSessionId(b, sessionId);
    Resume.addToken(b, t);
    Resume.addLastSeq(b, lastSeq);
    return this.wrap(0, ClientBody.Resume, Resume.endResume(b));
  }

  move(seq: number, x: number, y: number): Uint8Array {
    const b = this.b;
    b.clear();
    const m = Move.createMove(b, x, y);
    return this.wrap(seq, ClientBody.Move, m);
  }

  attack(seq: number, target: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(seq, ClientBody.Attack, Attack.createAttack(b, target));
  }

  interact(seq: number, target: number, action: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(seq, ClientBody.Interact, Interact.createInteract(b, target, action));
  }

  /** `to` is the whisper recipient's name (channel Whisper only). */
  chat(seq: number, channel: number, text: Text, to?: Text): Uint8Array {
    const b = this.b;
    b.clear();
    const t = this.str(text);
    const r = this.str(to);
    Chat.startChat(b);
    Chat.addChannel(b, channel);
    if (t) Chat.addText(b, t);
    if (r) Chat.addTo(b, r);
    return this.wrap(seq, ClientBody.Chat, Chat.endChat(b));
  }

  /** seq is 0: pings are not inputs. */
  ping(clientTime: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(0, ClientBody.Ping, Ping.createPing(b, clientTime));
  }

  /** Tells the server every frame up to `lastSeq` was processed (frees its replay buffer). seq is 0. */
  ack(lastSeq: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(0, ClientBody.Ack, Ack.createAck(b, lastSeq));
  }

  /** A game's own input (content onInput hook): `kind` and data[offset, offset + length). An input: seq as for Move. */
  custom(seq: number, kind: number, data: ArrayLike<number> | null, offset = 0, length = data ? data.length - offset : 0): Uint8Array {
    const b = this.b;
    b.clear();
    const v = customData(b, data, offset, length);
    return this.wrap(seq, ClientBody.Custom, Custom.createCustom(b, kind, v));
  }
}

/** Writes data[offset, offset + length) as a byte vector without a subarray; 0 (absent) when empty. */
function customData(b: Builder, data: ArrayLike<number> | null, offset: number, length: number): number {
  if (!data || length <= 0) return 0;
  b.startVector(1, length, 1);
  for (let i = offset + length - 1; i >= offset; i--) b.addInt8(data[i]!);
  return b.endVector();
}

export interface WelcomeFields {
  protocolVersion: number;
  sessionId: number;
  resumeToken: Uint8Array;
  entityId: number;
  name: string;
  zone: number;
  tickRate: number;
  serverTime: number;
  resumed: boolean;
  replayed: number;
}

/**
 * Builds single ServerMessages other than Delta and Snapshot (see
 * DeltaBuilder, SnapshotBuilder). Inventory lists are flattened pairs:
 * [item0, count0, item1, count1, ...].
 */
export class ServerMessageBuilder extends ReusableBuilder {
  constructor(initialBytes = 512) {
    super(initialBytes);
  }

  private wrap(type: ServerBody, body: number): Uint8Array {
    return this.done(ServerMessage.createServerMessage(this.b, type, body));
  }

  /** Allocates (object argument); once per login. */
  welcome(w: WelcomeFields): Uint8Array {
    const b = this.b;
    b.clear();
    const tok = b.createByteVector(w.resumeToken);
    const name = this.str(w.name);
    const body = Welcome.createWelcome(b, w.protocolVersion, w.sessionId, tok, w.entityId, name, w.zone, w.tickRate, w.serverTime, w.resumed, w.replayed);
    return this.wrap(ServerBody.Welcome, body);
  }

  chatMessage(channel: number, fromId: number, fromName: Text, text: Text): Uint8Array {
    const b = this.b;
    b.clear();
    const n = this.str(fromName);
    const t = this.str(text);
    return this.wrap(ServerBody.ChatMessage, ChatMessage.createChatMessage(b, channel, fromId, n, t));
  }

  pong(clientTime: number, serverTime: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.Pong, Pong.createPong(b, clientTime, serverTime));
  }

  /** A non-fatal refusal; `code` from ErrorCode, `refSeq` the input it refers to (or 0). */
  error(code: number, reason: Text, refSeq: number): Uint8Array {
    const b = this.b;
    b.clear();
    const r = this.str(reason);
    return this.wrap(ServerBody.Error, ErrorMsg.createError(b, code, r, refSeq));
  }

  /** Sent just before closing with close code `code`. */
  kicked(code: number, reason: Text): Uint8Array {
    const b = this.b;
    b.clear();
    const r = this.str(reason);
    return this.wrap(ServerBody.Kicked, Kicked.createKicked(b, code, r));
  }

  zoneChanged(zone: number, name: Text, x: number, y: number): Uint8Array {
    const b = this.b;
    b.clear();
    const n = this.str(name);
    return this.wrap(ServerBody.ZoneChanged, ZoneChanged.createZoneChanged(b, zone, n, x, y));
  }

  respawn(x: number, y: number, hp: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.Respawn, Respawn.createRespawn(b, x, y, hp));
  }

  /** `pairs`: how many (item, count) pairs of `inventory` to use (default all), so a preallocated array can be passed. */
  selfState(hp: number, maxHp: number, level: number, xp: number, x: number, y: number, inventory: ArrayLike<number> | null, pairs = inventory ? inventory.length >> 1 : 0): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.SelfState, writeSelfState(b, hp, maxHp, level, xp, x, y, inventory, pairs));
  }

  levelUp(level: number, xp: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.LevelUp, LevelUp.createLevelUp(b, level, xp));
  }

  itemGained(item: number, count: number, total: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.ItemGained, ItemGained.createItemGained(b, item, count, total));
  }

  /** `reason` from MoveReject; (x, y) is where the client must snap to. */
  moveRejected(refSeq: number, x: number, y: number, reason: number): Uint8Array {
    const b = this.b;
    b.clear();
    return this.wrap(ServerBody.MoveRejected, MoveRejected.createMoveRejected(b, refSeq, x, y, reason));
  }

  /** A game's own message (sent by a content hook): `kind` and data[offset, offset + length). */
  custom(kind: number, data: ArrayLike<number> | null, offset = 0, length = data ? data.length - offset : 0): Uint8Array {
    const b = this.b;
    b.clear();
    const v = customData(b, data, offset, length);
    return this.wrap(ServerBody.Custom, Custom.createCustom(b, kind, v));
  }
}

/** Writes a SelfState table; `items` holds `n` flattened (item, count) pairs. */
function writeSelfState(b: Builder, hp: number, maxHp: number, level: number, xp: number, x: number, y: number, items: ArrayLike<number> | null, n: number): number {
  let inv = 0;
  if (items && n > 0) {
    b.startVector(4, n, 2);
    for (let i = n - 1; i >= 0; i--) InventoryItem.createInventoryItem(b, items[2 * i]!, items[2 * i + 1]!);
    inv = b.endVector();
  }
  SelfState.startSelfState(b);
  SelfState.addHp(b, hp);
  SelfState.addMaxHp(b, maxHp);
  SelfState.addLevel(b, level);
  SelfState.addXp(b, xp);
  SelfState.addX(b, x);
  SelfState.addY(b, y);
  if (inv) SelfState.addInventory(b, inv);
  return SelfState.endSelfState(b);
}

// ---------------------------------------------------------------- names

/**
 * UTF-8 bytes of entity names, keyed by entity id, so a name is encoded once
 * per entity instead of once per enter. Safe under id reuse and renames: an
 * entry is used only when its string is identical (=== on the same string is
 * one pointer compare; a different string with equal text compares by value).
 * Bounded: cleared when it reaches `capacity` entries. Steady state allocates
 * nothing; a miss allocates the encoded bytes and one map entry.
 */
export class NameCache {
  private readonly names = new Map<number, string>();
  private readonly encoded = new Map<number, Uint8Array>();

  constructor(readonly capacity = 65536) {}

  get size(): number {
    return this.names.size;
  }

  /** The UTF-8 bytes of `name`, the name of entity `id`. */
  bytes(id: number, name: string): Uint8Array {
    if (this.names.get(id) === name) return this.encoded.get(id)!;
    if (this.names.size >= this.capacity) {
      this.names.clear();
      this.encoded.clear();
    }
    const bytes = encodeUtf8(name);
    this.names.set(id, name);
    this.encoded.set(id, bytes);
    return bytes;
  }

  clear(): void {
    this.names.clear();
    this.encoded.clear();
  }
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let n = a.length;
  while (n < need) n *= 2;
  const c = new (a.constructor as new (n: number) => T)(n);
  c.set(a);
  return c;
}

/** EntityEnter rows accumulated in typed arrays; written as a vector of tables. */
class EnterList {
  n = 0;
  private id: Uint32Array;
  private kind: Uint8Array;
  private x: Uint16Array;
  private y: Uint16Array;
  private hp: Uint16Array;
  private maxHp: Uint16Array;
  private level: Uint8Array;
  private flags: Uint8Array;
  private name: (Uint8Array | null)[];
  private off: Int32Array;

  constructor(
    cap: number,
    private readonly names: NameCache,
  ) {
    this.id = new Uint32Array(cap);
    this.kind = new Uint8Array(cap);
    this.x = new Uint16Array(cap);
    this.y = new Uint16Array(cap);
    this.hp = new Uint16Array(cap);
    this.maxHp = new Uint16Array(cap);
    this.level = new Uint8Array(cap);
    this.flags = new Uint8Array(cap);
    this.name = new Array<Uint8Array | null>(cap).fill(null);
    this.off = new Int32Array(cap);
  }

  add(id: number, kind: number, x: number, y: number, hp: number, maxHp: number, level: number, name: string | Uint8Array | null, flags: number): void {
    const i = this.n++;
    if (i === this.id.length) this.grow(i + 1);
    this.id[i] = id;
    this.kind[i] = kind;
    this.x[i] = quantizePosition(x);
    this.y[i] = quantizePosition(y);
    this.hp[i] = hp;
    this.maxHp[i] = maxHp;
    this.level[i] = level;
    this.flags[i] = flags;
    this.name[i] = name === null ? null : typeof name === 'string' ? this.names.bytes(id, name) : name;
  }

  private grow(need: number): void {
    this.id = grow(this.id, need);
    this.kind = grow(this.kind, need);
    this.x = grow(this.x, need);
    this.y = grow(this.y, need);
    this.hp = grow(this.hp, need);
    this.maxHp = grow(this.maxHp, need);
    this.level = grow(this.level, need);
    this.flags = grow(this.flags, need);
    this.off = grow(this.off, need);
    while (this.name.length < this.id.length) this.name.push(null);
  }

  /** Writes the tables and their vector; returns the vector's offset (0 when empty). Clears the name references. */
  write(b: Builder): number {
    const n = this.n;
    if (n === 0) return 0;
    for (let i = 0; i < n; i++) {
      const nm = this.name[i];
      const s = nm ? b.createString(nm) : 0;
      this.name[i] = null;
      EntityEnter.startEntityEnter(b);
      EntityEnter.addId(b, this.id[i]!);
      EntityEnter.addKind(b, this.kind[i]!);
      EntityEnter.addX(b, this.x[i]!);
      EntityEnter.addY(b, this.y[i]!);
      EntityEnter.addHp(b, this.hp[i]!);
      EntityEnter.addMaxHp(b, this.maxHp[i]!);
      EntityEnter.addLevel(b, this.level[i]!);
      if (s) EntityEnter.addName(b, s);
      EntityEnter.addFlags(b, this.flags[i]!);
      this.off[i] = EntityEnter.endEntityEnter(b);
    }
    b.startVector(4, n, 4);
    for (let i = n - 1; i >= 0; i--) b.addOffset(this.off[i]!);
    return b.endVector();
  }
}

export interface DeltaBuilderOptions {
  /** Initial row capacity of each list; lists double when exceeded (amortized, then steady). */
  initialRows?: number;
  /** Initial bytes of the flatbuffers.Builder (grows by doubling). */
  initialBytes?: number;
  /** Name cache to share with a SnapshotBuilder of the same zone. */
  names?: NameCache;
}

/**
 * Builds one player's Delta (a ServerMessage) per tick: begin(tick), add*
 * for each change, finish(). Rows accumulate in typed arrays and are written
 * at finish(), struct vectors back to front as FlatBuffers requires. Steady
 * state allocates nothing per entity (names: see NameCache, or pass UTF-8
 * bytes); finish() allocates the returned view and the runtime's two small
 * per-message arrays (Builder.clear()).
 *
 * Positions are world units, quantized to the wire's 1/16 unit.
 */
export class DeltaBuilder extends AccumulatingBuilder {
  private tick = 0;
  private readonly enters: EnterList;
  private upId: Uint32Array;
  private upX: Uint16Array;
  private upY: Uint16Array;
  private upHp: Uint16Array;
  private upFlags: Uint8Array;
  private upDir: Uint8Array;
  private nUp = 0;
  private leaves: Uint32Array;
  private nLeave = 0;
  private dmg: Uint32Array; // attacker, target, amount, hpLeft per row
  private nDmg = 0;
  private deaths: Uint32Array; // entity, killer per row
  private nDeath = 0;

  constructor(opts: DeltaBuilderOptions = {}) {
    super(opts.initialBytes ?? 16 * 1024);
    const cap = Math.max(1, opts.initialRows ?? 64);
    this.enters = new EnterList(cap, opts.names ?? new NameCache());
    this.upId = new Uint32Array(cap);
    this.upX = new Uint16Array(cap);
    this.upY = new Uint16Array(cap);
    this.upHp = new Uint16Array(cap);
    this.upFlags = new Uint8Array(cap);
    this.upDir = new Uint8Array(cap);
    this.leaves = new Uint32Array(cap);
    this.dmg = new Uint32Array(cap * 4);
    this.deaths = new Uint32Array(cap * 2);
  }

  begin(tick: number): void {
    this.tick = tick;
    this.enters.n = 0;
    this.nUp = this.nLeave = this.nDmg = this.nDeath = 0;
  }

  /** True when nothing was added since begin(): callers usually skip sending. */
  get empty(): boolean {
    return this.enters.n + this.nUp + this.nLeave + this.nDmg + this.nDeath === 0;
  }

  /** `name`: a string (cached per id) or its UTF-8 bytes (used as is, must stay unchanged until finish()). */
  addEnter(id: number, kind: number, x: number, y: number, hp: number, maxHp: number, level: number, name: string | Uint8Array | null, flags: number): void {
    this.enters.add(id, kind, x, y, hp, maxHp, level, name, flags);
  }

  addUpdate(id: number, x: number, y: number, hp: number, flags: number, dir: number): void {
    const i = this.nUp++;
    if (i === this.upId.length) {
      this.upId = grow(this.upId, i + 1);
      this.upX = grow(this.upX, i + 1);
      this.upY = grow(this.upY, i + 1);
      this.upHp = grow(this.upHp, i + 1);
      this.upFlags = grow(this.upFlags, i + 1);
      this.upDir = grow(this.upDir, i + 1);
    }
    this.upId[i] = id;
    this.upX[i] = quantizePosition(x);
    this.upY[i] = quantizePosition(y);
    this.upHp[i] = hp;
    this.upFlags[i] = flags;
    this.upDir[i] = dir;
  }

  addLeave(id: number): void {
    const i = this.nLeave++;
    if (i === this.leaves.length) this.leaves = grow(this.leaves, i + 1);
    this.leaves[i] = id;
  }

  addDamage(attacker: number, target: number, amount: number, hpLeft: number): void {
    const i = this.nDmg++ * 4;
    if (i === this.dmg.length) this.dmg = grow(this.dmg, i + 4);
    this.dmg[i] = attacker;
    this.dmg[i + 1] = target;
    this.dmg[i + 2] = amount;
    this.dmg[i + 3] = hpLeft;
  }

  addDeath(entity: number, killer: number): void {
    const i = this.nDeath++ * 2;
    if (i === this.deaths.length) this.deaths = grow(this.deaths, i + 2);
    this.deaths[i] = entity;
    this.deaths[i + 1] = killer;
  }

  /** Writes the ServerMessage{Delta}; returns its root offset. */
  protected build(): number {
    const b = this.b;
    b.clear();
    const enters = this.enters.write(b);
    let updates = 0;
    if (this.nUp > 0) {
      b.startVector(12, this.nUp, 4);
      for (let i = this.nUp - 1; i >= 0; i--) EntityState.createEntityState(b, this.upId[i]!, this.upX[i]!, this.upY[i]!, this.upHp[i]!, this.upFlags[i]!, this.upDir[i]!);
      updates = b.endVector();
    }
    let leaves = 0;
    if (this.nLeave > 0) {
      b.startVector(4, this.nLeave, 4);
      for (let i = this.nLeave - 1; i >= 0; i--) b.addInt32(this.leaves[i]!);
      leaves = b.endVector();
    }
    let damages = 0;
    if (this.nDmg > 0) {
      b.startVector(12, this.nDmg, 4);
      const d = this.dmg;
      for (let i = (this.nDmg - 1) * 4; i >= 0; i -= 4) DamageEvent.createDamageEvent(b, d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!);
      damages = b.endVector();
    }
    let deaths = 0;
    if (this.nDeath > 0) {
      b.startVector(8, this.nDeath, 4);
      const d = this.deaths;
      for (let i = (this.nDeath - 1) * 2; i >= 0; i -= 2) DeathEvent.createDeathEvent(b, d[i]!, d[i + 1]!);
      deaths = b.endVector();
    }
    Delta.startDelta(b);
    Delta.addTick(b, this.tick);
    if (enters) Delta.addEnters(b, enters);
    if (updates) Delta.addUpdates(b, updates);
    if (leaves) Delta.addLeaves(b, leaves);
    if (damages) Delta.addDamages(b, damages);
    if (deaths) Delta.addDeaths(b, deaths);
    const delta = Delta.endDelta(b);
    return ServerMessage.createServerMessage(b, ServerBody.Delta, delta);
  }
}

/**
 * Builds a Snapshot (a ServerMessage): begin(), addEntity() per visible
 * entity, optionally setSelf() and addItem(), finish(). Same allocation
 * contract as DeltaBuilder. Positions of entities are world units (quantized);
 * SelfState x/y are floats on the wire.
 */
export class SnapshotBuilder extends AccumulatingBuilder {
  private tick = 0;
  private zone = 0;
  private selfId = 0;
  private readonly entities: EnterList;
  private hasSelf = false;
  private readonly self = new Float64Array(6); // hp, maxHp, level, xp, x, y
  private items: Uint16Array;
  private nItems = 0;

  constructor(opts: DeltaBuilderOptions = {}) {
    super(opts.initialBytes ?? 64 * 1024);
    const cap = Math.max(1, opts.initialRows ?? 256);
    this.entities = new EnterList(cap, opts.names ?? new NameCache());
    this.items = new Uint16Array(64);
  }

  begin(tick: number, zone: number, selfId: number): void {
    this.tick = tick;
    this.zone = zone;
    this.selfId = selfId;
    this.entities.n = 0;
    this.hasSelf = false;
    this.nItems = 0;
  }

  addEntity(id: number, kind: number, x: number, y: number, hp: number, maxHp: number, level: number, name: string | Uint8Array | null, flags: number): void {
    this.entities.add(id, kind, x, y, hp, maxHp, level, name, flags);
  }

  setSelf(hp: number, maxHp: number, level: number, xp: number, x: number, y: number): void {
    const s = this.self;
    s[0] = hp;
    s[1] = maxHp;
    s[2] = level;
    s[3] = xp;
    s[4] = x;
    s[5] = y;
    this.hasSelf = true;
  }

  /** An inventory row of the self state (call after setSelf). */
  addItem(item: number, count: number): void {
    const i = this.nItems++ * 2;
    if (i === this.items.length) this.items = grow(this.items, i + 2);
    this.items[i] = item;
    this.items[i + 1] = count;
  }

  /** Writes the ServerMessage{Snapshot}; returns its root offset. */
  protected build(): number {
    const b = this.b;
    b.clear();
    const entities = this.entities.write(b);
    const s = this.self;
    const self = this.hasSelf ? writeSelfState(b, s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, this.items, this.nItems) : 0;
    Snapshot.startSnapshot(b);
    Snapshot.addTick(b, this.tick);
    Snapshot.addZone(b, this.zone);
    Snapshot.addSelfId(b, this.selfId);
    if (entities) Snapshot.addEntities(b, entities);
    if (self) Snapshot.addSelf(b, self);
    const snap = Snapshot.endSnapshot(b);
    return ServerMessage.createServerMessage(b, ServerBody.Snapshot, snap);
  }
}
