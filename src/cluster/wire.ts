// The records nodes send each other over NATS, batched: every record a node
// has for one other node in an event-loop turn travels in one NATS message on
// `mmo.z.<to>.<from>` (one publish per peer per turn, not per record). The
// batch starts with a header that makes the stream of batches between two
// nodes reliable and ordered (stream.ts), then the records:
//
//   header:  u8 version | u8 flags | u16 0 | u32 stream | u32 seq | u32 ackStream | u32 ack
//   record:  u8 kind | u8 type | u16 zone id | u32 session | u32 length | payload
//
//   stream     the sender's id for its stream to this receiver (random, never 0; new when the stream is reset)
//   seq        this batch's number in that stream, from 1 (flags.data); ignored in a header alone (an ack)
//   ackStream  the receiver's stream to the sender that `ack` is about (0: none adopted yet)
//   ack        the last batch of ackStream the sender received in order (cumulative);
//              flags.nack: and it saw a later one, or one of a stream it does not know: resend after `ack`
//
//   kind toZone    gateway node -> zone owner: a ToZone record of a session of the gateway node
//   kind fromZone  zone owner -> gateway node: a FromZone record for that session
//   kind mail      any node -> zone owner: a zone-to-zone Mail record (global chat)
//   kind who       gateway node -> zone owner, after a join: u32 player id | u32 account id (0: guest), to save the player if the gateway dies
//
// `session` is always the id on the gateway node that holds the session; the
// owner maps it to its own proxy id (proxies.ts). Little-endian like the rings.

export const Kind = { toZone: 1, fromZone: 2, mail: 3, who: 4 } as const;
export const RECORD_HEADER = 12;
export const BATCH_HEADER = 20;
export const BATCH_VERSION = 1;
export const BatchFlag = { data: 1, nack: 2 } as const;

/** The header of a batch (or of an ack alone), written by the sender's stream and read by the receiver's. */
export const BatchHeader = {
  write(d: Uint8Array, flags: number, stream: number, seq: number, ackStream: number, ack: number): void {
    d[0] = BATCH_VERSION;
    d[1] = flags;
    d[2] = 0;
    d[3] = 0;
    writeU32(d, 4, stream);
    writeU32(d, 8, seq);
    writeU32(d, 12, ackStream);
    writeU32(d, 16, ack);
  },
  /** False for anything too short or of another version: not read further. */
  valid: (d: Uint8Array): boolean => d.length >= BATCH_HEADER && d[0] === BATCH_VERSION,
  flags: (d: Uint8Array): number => d[1]!,
  stream: (d: Uint8Array): number => readU32(d, 4),
  seq: (d: Uint8Array): number => readU32(d, 8),
  ackStream: (d: Uint8Array): number => readU32(d, 12),
  ack: (d: Uint8Array): number => readU32(d, 16),
} as const;

/** Subject of the batches `to` receives from `from`. */
export const zoneSubject = (to: string, from: string): string => `mmo.z.${to}.${from}`;
export const HEARTBEAT_SUBJECT = 'mmo.hb';
export const WHISPER_SUBJECT = 'mmo.whisper';
export const whisperReplySubject = (node: string): string => `mmo.wr.${node}`;

/** The payload of a `who` record, written by the gateway node and read by the zone owner. */
export const WhoRecord = {
  bytes: 8,
  write(d: Uint8Array, at: number, player: number, account: number): void {
    writeU32(d, at, player);
    writeU32(d, at + 4, account);
  },
  player: (d: Uint8Array, at: number): number => readU32(d, at),
  /** 0: a guest (never saved). */
  account: (d: Uint8Array, at: number): number => readU32(d, at + 4),
} as const;

function readU32(d: Uint8Array, o: number): number {
  return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}

function writeU32(d: Uint8Array, o: number, v: number): void {
  d[o] = v & 0xff;
  d[o + 1] = (v >>> 8) & 0xff;
  d[o + 2] = (v >>> 16) & 0xff;
  d[o + 3] = (v >>> 24) & 0xff;
}

export type BatchHandler = (kind: number, type: number, zone: number, session: number, data: Uint8Array, offset: number, length: number) => void;

/** Records bound for one peer, gathered until the end of the turn behind room for the batch header. One per peer, reused. */
export class Outbox {
  private buf = new Uint8Array(16 * 1024);
  private view = new DataView(this.buf.buffer);
  length = BATCH_HEADER;
  records = 0;

  constructor(readonly subject: string) {}

  /** Appends one record; the payload is copied. */
  write(kind: number, type: number, zone: number, session: number, src: Uint8Array | null, offset: number, length: number): void {
    const at = this.reserve(kind, type, zone, session, length);
    if (src && length > 0) this.buf.set(src.subarray(offset, offset + length), at);
  }

  /** Appends a record header and returns where its `length` payload bytes go (write them into `bytes` before the next call). */
  reserve(kind: number, type: number, zone: number, session: number, length: number): number {
    const need = this.length + RECORD_HEADER + length;
    if (need > this.buf.length) this.grow(need);
    const v = this.view;
    const o = this.length;
    v.setUint8(o, kind);
    v.setUint8(o + 1, type);
    v.setUint16(o + 2, zone, true);
    v.setUint32(o + 4, session >>> 0, true);
    v.setUint32(o + 8, length, true);
    this.length = need;
    this.records++;
    return o + RECORD_HEADER;
  }

  get bytes(): Uint8Array {
    return this.buf;
  }

  /**
   * The batch as its own bytes, its header written (a data batch: seq in
   * `stream`, acknowledging `ack` of `ackStream`), and empties the box. One
   * allocation per batch: the NATS client keeps the bytes until it writes
   * them, and the stream keeps them until the peer acknowledges them.
   */
  take(stream = 0, seq = 0, ackStream = 0, ack = 0): Uint8Array {
    BatchHeader.write(this.buf, BatchFlag.data, stream, seq, ackStream, ack);
    const out = this.buf.slice(0, this.length);
    this.length = BATCH_HEADER;
    this.records = 0;
    return out;
  }

  private grow(need: number): void {
    let n = this.buf.length * 2;
    while (n < need) n *= 2;
    const b = new Uint8Array(n);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
}

/** Calls `handler` for each record of a batch (after its header); returns the records read, or -1 when the batch is malformed (what was before it was delivered). */
export function readBatch(bytes: Uint8Array, handler: BatchHandler): number {
  if (bytes.length < BATCH_HEADER) return -1;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = BATCH_HEADER;
  let n = 0;
  while (o < bytes.length) {
    if (o + RECORD_HEADER > bytes.length) return -1;
    const len = v.getUint32(o + 8, true);
    if (o + RECORD_HEADER + len > bytes.length) return -1;
    handler(v.getUint8(o), v.getUint8(o + 1), v.getUint16(o + 2, true), v.getUint32(o + 4, true), bytes, o + RECORD_HEADER, len);
    o += RECORD_HEADER + len;
    n++;
  }
  return n;
}
