// A client's socket as the session layer sees it (the Socket interface),
// with no network: every frame it is sent is decoded and kept, and end()
// records the close.

import { ByteBuffer } from 'flatbuffers';
import type { Socket, SocketData } from '../../src/net/gateway.js';
import { decodeFrame, type FrameSpec } from './protocol.js';

export class FakeSocket implements Socket {
  readonly frames: FrameSpec[] = [];
  closed: { code: number; text: string } | null = null;
  readonly data: SocketData;

  constructor(id: number, ip = '127.0.0.1') {
    this.data = { id, ip, closeReason: -1, open: true, attachment: null, service: null };
  }

  getUserData(): SocketData {
    return this.data;
  }

  send(message: Uint8Array): number {
    this.frames.push(decodeFrame(new ByteBuffer(message.slice())));
    return 1;
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  getBufferedAmount(): number {
    return 0;
  }

  end(code = 1000, text = ''): void {
    this.closed = { code, text };
  }

  /** The text of every chat line received, in order. */
  chats(): string[] {
    return this.frames.flatMap((f) => f.messages.flatMap((m) => (m.type === 'chat' ? [m.text ?? ''] : [])));
  }
}
