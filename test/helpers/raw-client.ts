// A bare protocol client for tests that need control the SDK deliberately
// hides: which last_seq a Resume names, duplicate input seqs, hand-made bytes.
// Every frame received is verified, decoded and kept in order.

import { once } from 'node:events';
import WebSocket from 'ws';
import { ByteBuffer } from 'flatbuffers';
import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { serverVerifyLimits, verifyServerFrame } from '../../src/protocol/verify.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { decodeFrame, type FrameSpec, type ServerSpec } from './protocol.js';

const limits = serverVerifyLimits();

export interface RawOptions {
  localAddress?: string;
  query?: string;
}

export class RawClient {
  readonly frames: FrameSpec[] = [];
  readonly b = new ClientMessageBuilder();
  closed: { code: number; reason: string } | null = null;
  /** The last socket error ws reported (the reason of a 1006 close). */
  error: string | null = null;
  private readonly waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error('server sent a text frame');
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      const code = verifyServerFrame(bytes, 0, bytes.length, limits);
      if (code !== 0) throw new Error(`server sent a frame that fails verification (${code})`);
      this.frames.push(decodeFrame(new ByteBuffer(bytes)));
      this.wake();
    });
    ws.on('error', (err: Error) => {
      // ws reports a broken connection or a bad frame from the server here, then closes with 1006: keep why.
      this.error = err.message;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() || (this.error ?? '') };
      this.wake();
    });
  }

  static async open(url: string, opts: RawOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(opts.query ? `${url}?${opts.query}` : url, { localAddress: opts.localAddress });
    const c = new RawClient(ws);
    await Promise.race([
      once(ws, 'open'),
      once(ws, 'unexpected-response').then(([, res]) => {
        throw new Error(`upgrade refused: ${(res as { statusCode: number }).statusCode}`);
      }),
    ]);
    return c;
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes.slice());
  }

  hello(guestName: string | null, token: string | null = null, version = PROTOCOL_VERSION): void {
    this.send(this.b.hello(version, token, guestName, 'raw-test'));
  }

  resume(sessionId: number, token: Uint8Array, lastSeq: number): void {
    this.send(this.b.resume(PROTOCOL_VERSION, sessionId, token, lastSeq));
  }

  /** All messages received, in order, with the seq of the frame that carried them. */
  messages(): Array<ServerSpec & { frameSeq: number }> {
    return this.frames.flatMap((f) => f.messages.map((m) => ({ ...m, frameSeq: f.seq })));
  }

  find<T extends ServerSpec['type']>(type: T): Extract<ServerSpec, { type: T }> | undefined {
    for (const f of this.frames) for (const m of f.messages) if (m.type === type) return m as Extract<ServerSpec, { type: T }>;
    return undefined;
  }

  /** Highest sequenced frame received. */
  get lastSeq(): number {
    let s = 0;
    for (const f of this.frames) if (f.seq > s) s = f.seq;
    return s;
  }

  /** Resolves when pred() holds (checked on every frame and close), or rejects after ms. */
  until(pred: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; closed=${JSON.stringify(this.closed)} frames=${this.frames.length}`)), ms);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  /** The welcome, once it arrives. */
  async welcome(ms = 10_000): Promise<Extract<ServerSpec, { type: 'welcome' }>> {
    await this.until(() => this.find('welcome') !== undefined || this.closed !== null, ms, 'welcome');
    const w = this.find('welcome');
    if (!w) throw new Error(`closed before welcome: ${JSON.stringify(this.closed)}`);
    return w;
  }

  /** Closes without a close frame, as a dropped network would. */
  drop(): void {
    this.ws.terminate();
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
