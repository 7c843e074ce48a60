// The peers' wire format: the same message sizes and rates as our protocol,
// without FlatBuffers. Client -> server messages are padded to the size of
// our own (measured from our ClientMessageBuilder at start-up), so the
// servers read the same bytes per input.
//
//   client -> server   [type u8][pad][...]
//     1 move   seq u32 @4, x f32 @8, y f32 @12         (size of our Move)
//     2 ping   clientTime f64 @8                      (size of our Ping)
//     3 chat   channel u8 @1, text bytes @8...        (size of our Chat)
//     4 attack target u32 @4                          (size of our Attack)
//   server -> client
//     1 state  tick u32 @4, count u16 @8, then count x 12-byte entity states @12
//     2 pong   clientTime f64 @8                      (16 bytes)
//     3 chat   echo of the chat payload
//     4 hello  x f32 @4, y f32 @8, id u32 @12         (16 bytes)

import { ClientMessageBuilder } from '../../src/protocol/build.js';

export const PeerMsg = { move: 1, ping: 2, chat: 3, attack: 4 } as const;
export const PeerOut = { state: 1, pong: 2, chat: 3, hello: 4 } as const;

/** Bytes per entity state in a state frame: id u32, x u16, y u16, hp u16, flags u8, dir u8 (as our EntityState). */
export const ENTITY_BYTES = 12;
export const STATE_HEADER = 12;

const b = new ClientMessageBuilder();
/** Our message sizes, so the peers carry the same bytes. */
export const SIZES = {
  move: b.move(123456, 512.25, 300.5).length,
  ping: b.ping(123456.789).length,
  chat: b.chat(1, 0, 'anyone seen the bears near the river?', null).length,
  attack: b.attack(5, 65537).length,
} as const;

/** Scratch buffers a bot reuses for its sends (the transports copy or send synchronously). */
export class PeerEncoder {
  readonly move = new Uint8Array(SIZES.move);
  readonly ping = new Uint8Array(SIZES.ping);
  readonly chat = new Uint8Array(SIZES.chat);
  readonly attack = new Uint8Array(SIZES.attack);
  private readonly mv = new DataView(this.move.buffer);
  private readonly pv = new DataView(this.ping.buffer);
  private readonly av = new DataView(this.attack.buffer);

  constructor() {
    this.move[0] = PeerMsg.move;
    this.ping[0] = PeerMsg.ping;
    this.chat[0] = PeerMsg.chat;
    this.attack[0] = PeerMsg.attack;
    const text = new TextEncoder().encode('anyone seen the bears near the river?');
    this.chat.set(text.subarray(0, this.chat.length - 8), 8);
  }

  encodeMove(seq: number, x: number, y: number): Uint8Array {
    this.mv.setUint32(4, seq, true);
    this.mv.setFloat32(8, x, true);
    this.mv.setFloat32(12, y, true);
    return this.move;
  }

  encodePing(t: number): Uint8Array {
    this.pv.setFloat64(8, t, true);
    return this.ping;
  }

  encodeChat(channel: number): Uint8Array {
    this.chat[1] = channel;
    return this.chat;
  }

  encodeAttack(target: number): Uint8Array {
    this.av.setUint32(4, target, true);
    return this.attack;
  }
}
