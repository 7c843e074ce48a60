// A FlatBuffers peek at ServerFrames for the lean bots: reads only what a bot
// acts on (the frame's seq and ack; Welcome's session, token, player and
// resume figures; Pong's echoed time; its own position from SelfState,
// Snapshot.self, Respawn, ZoneChanged, MoveRejected; Kicked and Error codes;
// the counts of a Delta's events and, when the bot looks for a target, its
// enters and updates) straight from the bytes, without the generated
// accessor objects and without the full verifier. Every read is bounds-
// checked against the frame: a read outside it sets `bad` and returns 0, so
// a malformed frame is counted, never trusted. Vtable slots come from the
// generated layout (src/protocol/generated/layout.ts), so they follow the
// schema. Allocates nothing (Welcome's name is decoded by the caller, once).

import { fieldSlot } from '../../src/protocol/read.js';

/** vtable slots, resolved once from the generated layout (cold path). */
const S = {
  frameSeq: fieldSlot('ServerFrame.seq'),
  frameAck: fieldSlot('ServerFrame.ack'),
  frameMessages: fieldSlot('ServerFrame.messages'),
  msgType: fieldSlot('ServerMessage.body_type'),
  msgBody: fieldSlot('ServerMessage.body'),
  welcomeSession: fieldSlot('Welcome.session_id'),
  welcomeToken: fieldSlot('Welcome.resume_token'),
  welcomePlayer: fieldSlot('Welcome.entity_id'),
  welcomeName: fieldSlot('Welcome.name'),
  welcomeResumed: fieldSlot('Welcome.resumed'),
  welcomeReplayed: fieldSlot('Welcome.replayed'),
  pongClientTime: fieldSlot('Pong.client_time'),
  errorCode: fieldSlot('Error.code'),
  kickedCode: fieldSlot('Kicked.code'),
  selfX: fieldSlot('SelfState.x'),
  selfY: fieldSlot('SelfState.y'),
  snapshotSelf: fieldSlot('Snapshot.self'),
  respawnX: fieldSlot('Respawn.x'),
  respawnY: fieldSlot('Respawn.y'),
  zoneX: fieldSlot('ZoneChanged.x'),
  zoneY: fieldSlot('ZoneChanged.y'),
  rejectX: fieldSlot('MoveRejected.x'),
  rejectY: fieldSlot('MoveRejected.y'),
  rejectReason: fieldSlot('MoveRejected.reason'),
  deltaEnters: fieldSlot('Delta.enters'),
  deltaUpdates: fieldSlot('Delta.updates'),
  deltaDamages: fieldSlot('Delta.damages'),
  deltaDeaths: fieldSlot('Delta.deaths'),
  enterId: fieldSlot('EntityEnter.id'),
  enterKind: fieldSlot('EntityEnter.kind'),
  enterX: fieldSlot('EntityEnter.x'),
  enterY: fieldSlot('EntityEnter.y'),
  enterFlags: fieldSlot('EntityEnter.flags'),
  welcomeZone: fieldSlot('Welcome.zone'),
  zoneId: fieldSlot('ZoneChanged.zone'),
  chatChannel: fieldSlot('ChatMessage.channel'),
  chatFromName: fieldSlot('ChatMessage.from_name'),
  chatText: fieldSlot('ChatMessage.text'),
} as const;

/** Struct sizes of the schema: EntityState 12, DamageEvent 12, DeathEvent 8. */
export const ENTITY_STATE_BYTES = 12;
const DEATH_BYTES = 8;

const EMPTY = Buffer.allocUnsafe(0);

/**
 * One reader per worker thread, pointed at each frame in turn with read().
 * Positions it returns are absolute indexes into the frame's buffer, valid
 * until the next read().
 */
export class FramePeek {
  private b: Buffer = EMPTY;
  private base = 0;
  private end = 0;
  /** A read fell outside the frame: the frame is malformed. */
  bad = false;
  seq = 0;
  ack = 0;
  /** Messages in the frame. */
  count = 0;
  private vec = 0;

  /** Points the peek at a frame in b[off, off + len); false when even its header is malformed. */
  read(b: Buffer, off: number, len: number): boolean {
    this.b = b;
    this.base = off;
    this.end = off + len;
    this.bad = false;
    if (len < 8) return !(this.bad = true);
    const root = off + this.u32(off);
    this.seq = this.u32Field(root, S.frameSeq);
    this.ack = this.u32Field(root, S.frameAck);
    const v = this.refField(root, S.frameMessages);
    this.count = v === 0 ? 0 : this.u32(v);
    this.vec = v + 4;
    if (this.count > (this.end - this.vec) >> 2) this.bad = true;
    return !this.bad;
  }

  /** ServerBody type of message i (0 when absent). */
  type(i: number): number {
    return this.u8Field(this.message(i), S.msgType);
  }

  /** Position of message i's body table (0 when absent). */
  body(i: number): number {
    return this.refField(this.message(i), S.msgBody);
  }

  private message(i: number): number {
    const slot = this.vec + 4 * i;
    return slot + this.u32(slot);
  }

  // ---------------------------------------------------------- bodies

  welcomeSession(t: number): number {
    return this.u32Field(t, S.welcomeSession);
  }
  welcomePlayer(t: number): number {
    return this.u32Field(t, S.welcomePlayer);
  }
  welcomeResumed(t: number): boolean {
    return this.u8Field(t, S.welcomeResumed) !== 0;
  }
  welcomeReplayed(t: number): number {
    return this.u32Field(t, S.welcomeReplayed);
  }
  /** Copies the resume token into `into` (from 0); returns its length (-1 when longer than `into`). */
  welcomeToken(t: number, into: Uint8Array): number {
    const v = this.refField(t, S.welcomeToken);
    if (v === 0) return 0;
    const n = this.u32(v);
    if (n > into.length) return -1;
    if (!this.ok(v + 4, n)) return 0;
    for (let i = 0; i < n; i++) into[i] = this.b[v + 4 + i]!;
    return n;
  }
  /** Welcome's name (allocates the string: once per session). */
  welcomeName(t: number): string {
    const v = this.refField(t, S.welcomeName);
    if (v === 0) return '';
    const n = this.u32(v);
    return this.ok(v + 4, n) ? this.b.toString('utf8', v + 4, v + 4 + n) : '';
  }
  pongClientTime(t: number): number {
    return this.f64Field(t, S.pongClientTime);
  }
  errorCode(t: number): number {
    return this.u16Field(t, S.errorCode);
  }
  kickedCode(t: number): number {
    return this.u16Field(t, S.kickedCode);
  }
  selfX(t: number): number {
    return this.f32Field(t, S.selfX);
  }
  selfY(t: number): number {
    return this.f32Field(t, S.selfY);
  }
  /** Snapshot.self (a SelfState table), 0 when absent. */
  snapshotSelf(t: number): number {
    return this.refField(t, S.snapshotSelf);
  }
  respawnX(t: number): number {
    return this.f32Field(t, S.respawnX);
  }
  respawnY(t: number): number {
    return this.f32Field(t, S.respawnY);
  }
  zoneX(t: number): number {
    return this.f32Field(t, S.zoneX);
  }
  zoneY(t: number): number {
    return this.f32Field(t, S.zoneY);
  }
  rejectX(t: number): number {
    return this.f32Field(t, S.rejectX);
  }
  rejectY(t: number): number {
    return this.f32Field(t, S.rejectY);
  }
  rejectReason(t: number): number {
    return this.u8Field(t, S.rejectReason);
  }

  welcomeZone(t: number): number {
    return this.u16Field(t, S.welcomeZone);
  }
  /** ZoneChanged.zone: the zone id the player is now in. */
  zoneId(t: number): number {
    return this.u16Field(t, S.zoneId);
  }
  chatChannel(t: number): number {
    return this.u8Field(t, S.chatChannel);
  }
  /** Whether ChatMessage.from_name is exactly `name` (UTF-8 bytes; no string made). */
  chatFromIs(t: number, name: Uint8Array): boolean {
    const v = this.refField(t, S.chatFromName);
    if (v === 0 || this.u32(v) !== name.length || !this.ok(v + 4, name.length)) return false;
    for (let i = 0; i < name.length; i++) if (this.b[v + 4 + i] !== name[i]) return false;
    return true;
  }
  /** ChatMessage.text read as a decimal number (the cluster bots number their lines); -1 when it is not one. */
  chatNumber(t: number): number {
    const v = this.refField(t, S.chatText);
    if (v === 0) return -1;
    const n = this.u32(v);
    if (n === 0 || n > 15 || !this.ok(v + 4, n)) return -1;
    let x = 0;
    for (let i = 0; i < n; i++) {
      const c = this.b[v + 4 + i]! - 48;
      if (c < 0 || c > 9) return -1;
      x = x * 10 + c;
    }
    return x;
  }

  /** Delta vectors: position of the length word (0 when absent); vectorLength() reads it. */
  deltaEnters(t: number): number {
    return this.refField(t, S.deltaEnters);
  }
  deltaUpdates(t: number): number {
    return this.refField(t, S.deltaUpdates);
  }
  deltaDamages(t: number): number {
    return this.refField(t, S.deltaDamages);
  }
  deltaDeaths(t: number): number {
    return this.refField(t, S.deltaDeaths);
  }
  vectorLength(v: number): number {
    return v === 0 ? 0 : this.u32(v);
  }
  /** Entity of death event i of a deaths vector. */
  deathEntity(v: number, i: number): number {
    return this.u32(v + 4 + i * DEATH_BYTES);
  }
  /** EntityState i of an updates vector: id, x, y (1/16 unit), flags. */
  updateId(v: number, i: number): number {
    return this.u32(v + 4 + i * ENTITY_STATE_BYTES);
  }
  updateX(v: number, i: number): number {
    return this.u16(v + 4 + i * ENTITY_STATE_BYTES + 4);
  }
  updateY(v: number, i: number): number {
    return this.u16(v + 4 + i * ENTITY_STATE_BYTES + 6);
  }
  updateFlags(v: number, i: number): number {
    return this.u8(v + 4 + i * ENTITY_STATE_BYTES + 10);
  }
  /** EntityEnter table i of an enters vector. */
  enter(v: number, i: number): number {
    const slot = v + 4 + 4 * i;
    return slot + this.u32(slot);
  }
  enterId(t: number): number {
    return this.u32Field(t, S.enterId);
  }
  enterKind(t: number): number {
    return this.u8Field(t, S.enterKind);
  }
  enterX(t: number): number {
    return this.u16Field(t, S.enterX);
  }
  enterY(t: number): number {
    return this.u16Field(t, S.enterY);
  }
  enterFlags(t: number): number {
    return this.u8Field(t, S.enterFlags);
  }

  // ---------------------------------------------------------- plumbing

  private ok(p: number, n: number): boolean {
    if (p >= this.base && p + n <= this.end) return true;
    this.bad = true;
    return false;
  }
  private u8(p: number): number {
    return this.ok(p, 1) ? this.b[p]! : 0;
  }
  private u16(p: number): number {
    return this.ok(p, 2) ? this.b[p]! | (this.b[p + 1]! << 8) : 0;
  }
  private u32(p: number): number {
    if (!this.ok(p, 4)) return 0;
    const b = this.b;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }
  /** Absolute position of a table field, 0 when absent (or the table is out of bounds). */
  private field(t: number, slot: number): number {
    if (t === 0 || !this.ok(t, 4)) return 0;
    const b = this.b;
    const vt = t - (b[t]! | (b[t + 1]! << 8) | (b[t + 2]! << 16) | (b[t + 3]! << 24));
    const vtLen = this.u16(vt);
    if (slot + 2 > vtLen) return 0;
    const o = this.u16(vt + slot);
    return o === 0 ? 0 : t + o;
  }
  private u8Field(t: number, slot: number): number {
    const p = this.field(t, slot);
    return p === 0 ? 0 : this.u8(p);
  }
  private u16Field(t: number, slot: number): number {
    const p = this.field(t, slot);
    return p === 0 ? 0 : this.u16(p);
  }
  private u32Field(t: number, slot: number): number {
    const p = this.field(t, slot);
    return p === 0 ? 0 : this.u32(p);
  }
  private f32Field(t: number, slot: number): number {
    const p = this.field(t, slot);
    return p === 0 || !this.ok(p, 4) ? 0 : this.b.readFloatLE(p);
  }
  private f64Field(t: number, slot: number): number {
    const p = this.field(t, slot);
    return p === 0 || !this.ok(p, 8) ? 0 : this.b.readDoubleLE(p);
  }
  /** The table/vector/string an offset field points at, 0 when absent. */
  private refField(t: number, slot: number): number {
    const p = this.field(t, slot);
    if (p === 0) return 0;
    const q = p + this.u32(p);
    return this.ok(q, 4) ? q : 0;
  }
}
