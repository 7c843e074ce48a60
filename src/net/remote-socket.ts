// The main thread's handle on a socket that lives on a gateway thread, for
// the session service, which talks to it as to a uWS WebSocket (the Socket
// interface) while the socket has no session: its Kicked frame and its close
// become records on that thread's ToSockets ring. Once in a session, the
// socket is served by its thread's owner (session/core.ts), and nothing of
// it comes here but its close.

import type { Socket, SocketData } from './gateway.js';
import type { RecordSink } from '../ring/index.js';
import { writeEnd, writeSend } from './gateway-records.js';

/** The per-thread side a RemoteSocket writes through (threaded-gateway.ts). */
export interface SocketThreadPort {
  readonly index: number;
  /** The thread's ToSockets ring, through a producer that never refuses and keeps order. */
  readonly sink: RecordSink;
  /** Publishes the ring at the end of this batch of sends. */
  commitSoon(): void;
  /** Frames too large for the ring (counted). */
  ringFull: number;
}

export class RemoteSocket implements Socket {
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

  /** One record per frame, published with the rest of the batch. */
  send(message: Uint8Array, _isBinary: boolean): number {
    const t = this.thread;
    if (!writeSend(t.sink, this.data.id, message, 0, message.byteLength)) {
      t.ringFull++;
      return 2;
    }
    t.commitSoon();
    return 1;
  }

  /** Sends are batched per flush on the ring; the gateway thread corks each. */
  cork(cb: () => void): this {
    cb();
    return this;
  }

  /** Its thread's owner watches the socket's backpressure; the service sends too little to need it. */
  getBufferedAmount(): number {
    return 0;
  }

  /** The reason the gateway records is the one set in getUserData().closeReason before this call. */
  end(code = 1000, shortMessage = ''): void {
    const t = this.thread;
    this.ending = true;
    const reason = this.data.closeReason < 0 ? 0 : this.data.closeReason;
    if (writeEnd(t.sink, this.data.id, code, reason, shortMessage)) t.commitSoon();
  }
}
