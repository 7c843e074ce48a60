// The main thread's handle on a socket that lives on a gateway thread. The
// session layer talks to it as to a uWS WebSocket (the Socket interface);
// sends and closes become records on that thread's ToSockets ring.
//
// Backpressure is known late: the gateway thread reports the bytes a socket
// has buffered after a send that had to queue (ToCore.buffered) and when it
// drains (ToCore.drain). send() answers from the last report: 1 while nothing
// is buffered, 0 (queued) otherwise, 2 when the ring itself is full, which
// the session layer treats as a frame dropped past the limit (the frame is in
// the replay buffer; the client resumes).

import type { Socket, SocketData } from './gateway.js';
import type { SpscRing } from '../ring/index.js';
import { writeEnd, writeSend } from './gateway-records.js';

/** The per-thread side a RemoteSocket writes through (threaded-gateway.ts). */
export interface SocketThreadPort {
  readonly index: number;
  readonly toSockets: SpscRing;
  /** Publishes the ring at the end of this batch of sends. */
  commitSoon(): void;
  /** A close that did not fit in the ring: sent when there is room. */
  deferEnd(conn: number, code: number, reason: number, text: string): void;
  /** Frames that did not fit in the ring (counted). */
  ringFull: number;
}

export class RemoteSocket implements Socket {
  /** Bytes the gateway thread last reported buffered for this socket. */
  buffered = 0;
  /**
   * Set by end(): messages the thread had already queued behind the close are
   * not delivered, as uWS delivers none after end() on its own thread.
   */
  ending = false;

  constructor(
    readonly data: SocketData,
    readonly thread: SocketThreadPort,
  ) {}

  getUserData(): SocketData {
    return this.data;
  }

  /** Hot: one record per frame, published with the rest of the flush. */
  send(message: Uint8Array, _isBinary: boolean): number {
    const t = this.thread;
    if (!writeSend(t.toSockets, this.data.id, message, 0, message.byteLength)) {
      t.ringFull++;
      return 2;
    }
    t.commitSoon();
    return this.buffered === 0 ? 1 : 0;
  }

  /** Sends are batched per flush on the ring; the gateway thread corks each. */
  cork(cb: () => void): this {
    cb();
    return this;
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  /** The reason the gateway records is the one set in getUserData().closeReason before this call. */
  end(code = 1000, shortMessage = ''): void {
    const t = this.thread;
    this.ending = true;
    const reason = this.data.closeReason < 0 ? 0 : this.data.closeReason;
    if (!writeEnd(t.toSockets, this.data.id, code, reason, shortMessage)) t.deferEnd(this.data.id, code, reason, shortMessage);
    else t.commitSoon();
  }
}
