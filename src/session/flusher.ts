// The session layer's outbound half: messages staged for sessions during a
// drain become frames at the flush, sent inside each socket's cork and kept
// for replay; owed input acks go out as bare frames when nothing else carried
// them. The inbound half (protocol, logins, resumes, inputs, zone records) is
// SessionCore (core.ts), which stages into this and calls flush() when the
// zones' rings are drained.
//
// Per flush (hot): for each session with staged messages, one sequenced frame
// (pushed to its replay buffer) and, when needed, one unsequenced frame
// (Welcome, Pong, Kicked). Nothing is allocated per message in steady state:
// the staging arena, the frame buffer and its views by length are reused.
//
// The owner's thread only (a gateway thread, or the main thread).

import type { Socket } from '../net/gateway.js';
import type { NetStats } from '../net/stats.js';
import { FrameWriter } from '../protocol/frame.js';
import type { ServerMessageBuilder } from '../protocol/build.js';
import type { HotHistogram } from '../metrics/hot.js';
import { Staging } from './outbound.js';
import type { OwnedSession } from './owned.js';

/** How long an accepted input may wait for a frame to carry its ack before a bare one is sent. */
export const ACK_DELAY_MS = 100;
/** How often owed acks are looked at. */
export const ACK_SWEEP_MS = 50;

export interface FlusherDeps {
  stats: NetStats;
  /** Bytes buffered on a socket past which its position deltas are dropped until it drains (then a snapshot). */
  lagBytes: number;
  /** Bytes buffered past which the socket is closed as a slow consumer. */
  closeBytes: number;
  frameBytes: HotHistogram;
  /** A send found the socket past closeBytes (or dropped by uWS): the session layer closes it; the frame is in replay. */
  slowConsumer(s: OwnedSession, ws: Socket): void;
}

export class SessionFlusher {
  private readonly staging = new Staging();
  private readonly dirty: OwnedSession[] = [];
  private readonly frames = new FrameWriter();
  private frameBuf = new Uint8Array(64 * 1024);
  /**
   * Views of frameBuf by length: uWS needs a view with the frame's exact
   * length, and frame lengths repeat (a tick's Delta is much the same size
   * each time), so a view made once per length is reused instead of a
   * subarray per send. Reset when frameBuf grows.
   */
  private frameViews: Uint8Array[] = [];
  /** Sessions with accepted inputs not yet acknowledged in any frame (see flushAcks). */
  private readonly ackQueue: OwnedSession[] = [];
  private flushScheduled = false;
  // Cork plumbing: one bound function, fields instead of a closure per send.
  private corkWs: Socket | null = null;
  private corkBytes: Uint8Array | null = null;
  private corkResult = 0;
  private readonly corkedSend = (): void => {
    this.corkResult = this.corkWs!.send(this.corkBytes!, true);
  };
  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(private readonly d: FlusherDeps) {}

  /** Copies a message into this flush's arena; link the entry to one or more sessions. */
  store(data: Uint8Array, offset: number, length: number): number {
    return this.staging.store(data, offset, length);
  }

  /** Stages the message `msg` just built for `s`. */
  stageBuilt(s: OwnedSession, msg: ServerMessageBuilder, unsequenced: boolean): void {
    this.link(s, this.staging.store(msg.bytes, msg.start, msg.length), unsequenced);
  }

  link(s: OwnedSession, entry: number, unsequenced: boolean): void {
    this.staging.link(s.staged, entry, unsequenced);
    if (!s.staged.dirty) {
      s.staged.dirty = true;
      this.dirty.push(s);
    }
  }

  /** A flush at the end of this event-loop turn, for messages staged outside a drain. */
  schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushNow);
  }

  /** The flush: every session with staged messages gets its frame(s). */
  flush(): void {
    const now = performance.now();
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; i++) this.flushSession(dirty[i]!, now);
    dirty.length = 0;
    this.staging.reset();
  }

  /** Composes what is staged for `s` now, ahead of the flush (its frames go to replay, and out if connected). */
  flushOne(s: OwnedSession): void {
    if (s.staged.dirty) this.flushSession(s, performance.now());
  }

  /** An input of `s` was accepted at `now`: its ack is owed (carried by the next frame, or bare after ACK_DELAY_MS). */
  owesAck(s: OwnedSession, now: number): void {
    if (s.ackQueued) return;
    s.ackQueued = true;
    s.ackDueAt = now + ACK_DELAY_MS;
    this.ackQueue.push(s);
  }

  private flushSession(s: OwnedSession, now: number): void {
    const l = s.staged;
    l.dirty = false;
    const ws = s.socket;
    if (l.unseqHead >= 0) {
      if (ws) this.composeAndSend(s, ws, l.unseqHead, 0, now);
      l.unseqHead = l.unseqTail = -1;
    }
    if (l.seqHead >= 0 && !s.gone) this.composeAndSend(s, ws, l.seqHead, 1, now);
    l.seqHead = l.seqTail = -1;
  }

  /** Composes frames from a staged list (more than one only past FrameWriter.maxMessages) and sends or stores them. */
  private composeAndSend(s: OwnedSession, socket: Socket | null, head: number, sequenced: number, now: number): void {
    let ws = socket;
    const st = this.staging;
    const fw = this.frames;
    let link = head;
    while (link >= 0) {
      const seq = sequenced ? ++s.outSeq : 0;
      fw.begin(seq, s.inSeq);
      while (link >= 0 && fw.add(st.arena, st.offsetOf(link), st.lengthOf(link))) link = st.next(link);
      const need = fw.measure();
      if (need > this.frameBuf.length) {
        this.frameBuf = new Uint8Array(Math.max(need, this.frameBuf.length * 2));
        this.frameViews = [];
      }
      const n = fw.finishInto(this.frameBuf, 0);
      const frame = (this.frameViews[n] ??= this.frameBuf.subarray(0, n));
      if (sequenced) s.replay.push(seq, frame, now);
      if (ws) {
        this.sendView(s, ws, frame, fw.count);
        s.ackSent = s.inSeq;
        // A send past the backpressure limit closes the socket: the rest of this flush goes to the replay buffer only.
        if (s.socket !== ws) ws = null;
      }
    }
  }

  /** One frame to one socket (a view made for it). Cold-ish paths: replay, bare acks. */
  sendFrame(s: OwnedSession, ws: Socket, bytes: Uint8Array, offset: number, length: number, messages: number): void {
    this.sendView(s, ws, offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length), messages);
  }

  /**
   * One frame to one socket, corked. uWS's send result says whether anything
   * is queued (0) or the frame was dropped past net.maxBackpressure (2), so
   * the queue is only measured when it exists: one native call per frame
   * saved on the common path.
   */
  private sendView(s: OwnedSession, ws: Socket, view: Uint8Array, messages: number): void {
    const length = view.byteLength;
    const result = this.corkSend(ws, view);
    const st = this.d.stats;
    if (result !== 1) {
      const buffered = result === 2 ? Infinity : ws.getBufferedAmount();
      if (buffered > this.d.closeBytes) {
        // Dropped by uWS, or queued past the limit: the frame is in the replay buffer; the client resumes.
        st.backpressureDrops.inc();
        this.d.slowConsumer(s, ws);
        return;
      }
      if (buffered > this.d.lagBytes) s.lagging = true;
    }
    st.sendBatches.inc();
    st.packetsOut.inc(0, messages);
    st.bytesOut.inc(0, length);
    st.packetsPerBatch.observe(messages);
    this.d.frameBytes.observe(length);
  }

  private corkSend(ws: Socket, view: Uint8Array): number {
    this.corkWs = ws;
    this.corkBytes = view;
    ws.cork(this.corkedSend);
    this.corkWs = null;
    this.corkBytes = null;
    return this.corkResult;
  }

  /**
   * Inputs are acknowledged in the ack field of every frame. A player whose
   * inputs produced nothing for it to receive (its own moves are not in its
   * own view) gets a bare unsequenced frame once ACK_DELAY_MS (two ticks) has
   * passed with no frame to carry the ack, so its client can forget them.
   * Waiting two ticks matters: sent at once, bare acks were 16% of all frames
   * at 500 players (2,000 of 12,400 frames/s), each a write syscall.
   */
  flushAcks(): void {
    const q = this.ackQueue;
    const now = performance.now();
    let keep = 0;
    for (let i = 0; i < q.length; i++) {
      const s = q[i]!;
      const ws = s.socket;
      if (!ws || s.ackSent >= s.inSeq) {
        s.ackQueued = false;
        continue;
      }
      if (now < s.ackDueAt) {
        q[keep++] = s;
        continue;
      }
      s.ackQueued = false;
      this.frames.begin(0, s.inSeq);
      const n = this.frames.finishInto(this.frameBuf, 0);
      this.sendFrame(s, ws, this.frameBuf, 0, n, 0);
      s.ackSent = s.inSeq;
    }
    q.length = keep;
  }
}

const aloneScratch = new Uint8Array(512);
/** One unsequenced frame holding only the message `msg` just built, written with `fw`, sent corked. Cold path (a Kicked before a close). */
export function sendAlone(fw: FrameWriter, ws: Socket, msg: ServerMessageBuilder): void {
  fw.begin(0, 0);
  fw.add(msg.bytes, msg.start, msg.length);
  const need = fw.measure();
  const buf = aloneScratch.length >= need ? aloneScratch : new Uint8Array(need);
  const n = fw.finishInto(buf, 0);
  const view = buf.subarray(0, n);
  ws.cork(() => ws.send(view, true));
}
