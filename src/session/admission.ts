// Admission control on the WebSocket upgrade: token buckets for new
// handshakes, per source address and global. After an outage every client
// reconnects at once; resumes are what brings players back, so they are
// admitted ahead of fresh logins: a fresh login may only use the part of the
// global budget above a reserve kept for resumes.
//
// The client says it is resuming in the upgrade URL (`/ws?resume=<sessionId>`);
// the claim only chooses the queue. A claim for a session that does not exist
// is treated as a fresh login, and the Resume message itself is checked later
// against the session's secret token.

import { TokenBucket } from './token-bucket.js';

export interface AdmissionConfig {
  /** Global new handshakes per second (resumes and logins together). */
  handshakesPerSec: number;
  handshakeBurst: number;
  /** Fraction of the global burst only resumes may use (0..1). */
  resumeReserve: number;
  /** Per source address, fresh logins. */
  perAddressLoginsPerSec: number;
  perAddressLoginBurst: number;
  /** Per source address, resumes (generous: many players may share a NAT address). */
  perAddressResumesPerSec: number;
  perAddressResumeBurst: number;
  /** Tracked source addresses before idle ones are evicted. */
  maxTrackedAddresses: number;
}

export const Admit = { ok: 0 } as const;

export interface AdmissionStats {
  admittedLogins: number;
  admittedResumes: number;
  refusedGlobal: number;
  refusedAddress: number;
}

interface AddressBuckets {
  login: TokenBucket;
  resume: TokenBucket;
  lastSeen: number;
}

export class Admission {
  private readonly global: TokenBucket;
  private readonly reserve: number;
  private readonly addresses = new Map<string, AddressBuckets>();
  readonly stats: AdmissionStats = { admittedLogins: 0, admittedResumes: 0, refusedGlobal: 0, refusedAddress: 0 };

  constructor(
    private readonly cfg: AdmissionConfig,
    nowMs: number,
  ) {
    this.global = new TokenBucket(cfg.handshakesPerSec, cfg.handshakeBurst, nowMs);
    this.reserve = Math.floor(cfg.handshakeBurst * cfg.resumeReserve);
  }

  /**
   * Returns 0 to admit, or a delay in ms after which a retry may succeed.
   * `resume` is true when the client claims to resume an existing session.
   */
  admit(address: string, resume: boolean, nowMs: number): number {
    const a = this.bucketsFor(address, nowMs);
    const own = resume ? a.resume : a.login;
    const ownWait = own.waitMs(nowMs);
    if (ownWait > 0) {
      this.stats.refusedAddress++;
      return ownWait;
    }
    const floor = resume ? 0 : this.reserve;
    if (!this.global.take(nowMs, 1, floor)) {
      this.stats.refusedGlobal++;
      return Math.max(1, this.global.waitMs(nowMs, 1, floor));
    }
    own.take(nowMs);
    if (resume) this.stats.admittedResumes++;
    else this.stats.admittedLogins++;
    return 0;
  }

  get trackedAddresses(): number {
    return this.addresses.size;
  }

  private bucketsFor(address: string, nowMs: number): AddressBuckets {
    let a = this.addresses.get(address);
    if (!a) {
      if (this.addresses.size >= this.cfg.maxTrackedAddresses) this.evictIdle(nowMs);
      a = {
        login: new TokenBucket(this.cfg.perAddressLoginsPerSec, this.cfg.perAddressLoginBurst, nowMs),
        resume: new TokenBucket(this.cfg.perAddressResumesPerSec, this.cfg.perAddressResumeBurst, nowMs),
        lastSeen: nowMs,
      };
      this.addresses.set(address, a);
    }
    a.lastSeen = nowMs;
    return a;
  }

  /**
   * Drops addresses whose buckets have refilled (they carry no state worth
   * keeping); if none qualify, drops the least recently seen half. Cold path.
   */
  private evictIdle(nowMs: number): void {
    const fullAfterMs = Math.max(
      (this.cfg.perAddressLoginBurst / this.cfg.perAddressLoginsPerSec) * 1000,
      (this.cfg.perAddressResumeBurst / this.cfg.perAddressResumesPerSec) * 1000,
    );
    for (const [k, a] of this.addresses) if (nowMs - a.lastSeen >= fullAfterMs) this.addresses.delete(k);
    if (this.addresses.size < this.cfg.maxTrackedAddresses) return;
    const byAge = [...this.addresses].sort((x, y) => x[1].lastSeen - y[1].lastSeen);
    for (let i = 0; i < byAge.length / 2; i++) this.addresses.delete(byAge[i]![0]);
  }
}
