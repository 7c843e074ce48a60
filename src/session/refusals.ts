// Turning a socket away, for both halves of the session layer (the service
// for sockets with no session, each owner for its own): a Kicked message
// that says why, then the close; or, for a protocol violation, a count, a
// rate-limited debug line and the close. Only that socket is touched.

import type { Logger } from '../log/logger.js';
import type { Socket } from '../net/gateway.js';
import { CloseReason, type CloseReasonIndex } from '../net/stats.js';
import { ServerMessageBuilder } from '../protocol/build.js';
import { FrameWriter } from '../protocol/frame.js';
import { lastVerifyFailure } from '../protocol/verify.js';
import { sendAlone } from './flusher.js';
import { Rejected, type RejectedIndex, type SessionMetrics } from './metrics.js';

/** Closes a socket with a close frame; the gateway's close handler records `reason`. */
export type SocketCloser = (ws: Socket, reason: CloseReasonIndex, code: number, text: string) => void;

/** Longest close reason sent (RFC 6455 allows 123 bytes with the code). */
const MAX_REASON = 120;

export class SocketRefusals {
  private readonly msg = new ServerMessageBuilder();
  private readonly frames = new FrameWriter({ maxMessages: 4 });
  private lastLog = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly metrics: SessionMetrics,
    private readonly close: SocketCloser,
  ) {}

  /** Tells a socket why (Kicked), then closes it with `code`. Cold path. */
  kick(ws: Socket, code: number, reason: string, closeReason: CloseReasonIndex, metric: RejectedIndex | -1 = -1): void {
    if (!ws.getUserData().open) return;
    if (metric >= 0) this.metrics.verifyFailures.inc(metric);
    this.msg.kicked(code, reason);
    sendAlone(this.frames, ws, this.msg);
    this.close(ws, closeReason, code, reason.length > MAX_REASON ? reason.slice(0, MAX_REASON) : reason);
  }

  /** A protocol violation: count it, log it (rate-limited, debug), close that socket only. */
  refuse(ws: Socket, metric: RejectedIndex, code: number, reason: string, detail: string): void {
    this.metrics.verifyFailures.inc(metric);
    const log = this.log;
    if (log.isLevelEnabled('debug')) {
      const now = Date.now();
      if (now - this.lastLog >= 1000) {
        const f = metric === Rejected.malformed ? lastVerifyFailure() : null;
        log.debug({ conn: ws.getUserData().id, ip: ws.getUserData().ip, detail, at: f, suppressed: this.suppressed }, 'protocol violation; socket closed');
        this.lastLog = now;
        this.suppressed = 0;
      } else this.suppressed++;
    }
    this.close(ws, CloseReason.malformed, code, reason.length > MAX_REASON ? reason.slice(0, MAX_REASON) : reason);
  }
}
