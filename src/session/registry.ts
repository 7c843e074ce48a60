// The session registry: lookup by id (resume), by account (take-over on a
// second login) and by name (whispers); the zombie timers; counts by state.
//
// Zombie expiry uses one FIFO queue rather than a timer per session: every
// zombie gets the same TTL, so expiry order is insertion order, and a sweep
// every few hundred ms pops what is due. An entry whose session has changed
// state since (resumed, taken over) is recognised by its epoch and dropped.

import { randomInt } from 'node:crypto';
import type { Socket } from '../net/gateway.js';
import { Session, SessionState, type SessionIdentity } from './session.js';

export const ResumeResult = {
  ok: 0,
  unknownSession: 1,
  expired: 2,
  wrongToken: 3,
  replayedToken: 4,
} as const;
export type ResumeResultValue = (typeof ResumeResult)[keyof typeof ResumeResult];
export const RESUME_RESULT_NAMES = ['ok', 'unknown_session', 'expired', 'wrong_token', 'replayed_token'] as const;

export interface RegistryConfig {
  zombieTtlMs: number;
}

/** Remembered ids of expired sessions, so a late resume is told "expired" rather than "unknown". */
const EXPIRED_MEMORY = 16_384;

export class SessionRegistry {
  private readonly byId = new Map<number, Session>();
  private readonly byAccount = new Map<string, Session>();
  private readonly byName = new Map<string, Session>();
  private readonly expired = new Set<number>();
  private queueIds: number[] = [];
  private queueEpochs: number[] = [];
  private queueHead = 0;
  readonly count = [0, 0, 0];
  readonly resumes = new Float64Array(5);
  /** Accepted resumes (counted in resumes[ok] too) that repeated an earlier resume whose Welcome the client never saw. */
  resumeRetries = 0;
  zombieExpiries = 0;

  /** Told of every session created and ended (the gateway threads' shared admission reads it). */
  onLive: ((id: number, live: boolean) => void) | null = null;

  constructor(private readonly cfg: RegistryConfig) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: number): Session | undefined {
    return this.byId.get(id);
  }

  /** The live session of an account (or guest name), for take-over. */
  findByIdentity(identity: SessionIdentity): Session | undefined {
    return this.byAccount.get(accountKey(identity));
  }

  /** A live session by player name, case-insensitive (whispers). */
  findByName(name: string): Session | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** Creates a connected session with a fresh id and token, served by owner `owner`. Cold path (login). */
  create(identity: SessionIdentity, socket: Socket | null, zone: number, owner: number): Session {
    let id: number;
    // Below 2^31: ids with the top bit set name players of other cluster nodes inside this node's zones (src/cluster/proxies.ts).
    do id = randomInt(1, 0x8000_0000);
    while (this.byId.has(id) || this.expired.has(id));
    const s = new Session(id, identity, socket, zone, owner);
    this.byId.set(id, s);
    this.byAccount.set(accountKey(identity), s);
    this.byName.set(identity.name.toLowerCase(), s);
    this.count[SessionState.connected]!++;
    this.onLive?.(id, true);
    return s;
  }

  /** The socket is gone: the session becomes a zombie until resumed or expired. */
  toZombie(s: Session, nowMs: number): void {
    if (s.state !== SessionState.connected) return;
    this.setState(s, SessionState.zombie);
    s.socket = null;
    s.zombieUntil = nowMs + this.cfg.zombieTtlMs;
    this.queueIds.push(s.id);
    this.queueEpochs.push(s.epoch);
  }

  /**
   * Checks a resume attempt. On success the token is rotated and the session
   * is connected to `socket`; on failure nothing about the session changes
   * (a wrong or replayed token must not disturb the zombie or its timer).
   */
  resume(id: number, token: Uint8Array, socket: Socket, nowMs: number): { result: ResumeResultValue; session?: Session } {
    const s = this.byId.get(id);
    let result: ResumeResultValue;
    if (!s) result = this.expired.has(id) ? ResumeResult.expired : ResumeResult.unknownSession;
    else if (s.state === SessionState.zombie && s.zombieUntil <= nowMs) result = ResumeResult.expired;
    else {
      const check = s.checkToken(token);
      result = check === 'ok' || check === 'retry' ? ResumeResult.ok : check === 'replayed' ? ResumeResult.replayedToken : ResumeResult.wrongToken;
      if (check === 'retry') this.resumeRetries++;
    }
    this.resumes[result]!++;
    if (result !== ResumeResult.ok || !s) return { result };
    s.rotateToken(token);
    this.bind(s, socket);
    return { result, session: s };
  }

  /** Binds a session to a (new) socket: resume, or take-over by a second login. */
  bind(s: Session, socket: Socket): void {
    s.socket = socket;
    if (s.state !== SessionState.connected) this.setState(s, SessionState.connected);
    else s.epoch++;
  }

  /** Ends a session: it leaves every index. The caller saves and removes the character. */
  end(s: Session): void {
    if (s.state === SessionState.closed) return;
    this.setState(s, SessionState.closed);
    s.socket = null;
    this.byId.delete(s.id);
    this.onLive?.(s.id, false);
    if (this.byAccount.get(accountKey(s.identity)) === s) this.byAccount.delete(accountKey(s.identity));
    if (this.byName.get(s.identity.name.toLowerCase()) === s) this.byName.delete(s.identity.name.toLowerCase());
  }

  /** Expires zombies whose time is up; `onExpire` saves and removes each. */
  sweep(nowMs: number, onExpire: (s: Session) => void): number {
    let n = 0;
    while (this.queueHead < this.queueIds.length) {
      const id = this.queueIds[this.queueHead]!;
      const epoch = this.queueEpochs[this.queueHead]!;
      const s = this.byId.get(id);
      if (s && s.epoch === epoch && s.state === SessionState.zombie) {
        if (s.zombieUntil > nowMs) break;
        this.end(s);
        this.rememberExpired(id);
        this.zombieExpiries++;
        n++;
        onExpire(s);
      }
      this.queueHead++;
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queueIds.length) {
      this.queueIds = this.queueIds.slice(this.queueHead);
      this.queueEpochs = this.queueEpochs.slice(this.queueHead);
      this.queueHead = 0;
    }
    return n;
  }

  /** Every live session (cold path: shutdown, zone restart). */
  all(): IterableIterator<Session> {
    return this.byId.values();
  }

  private setState(s: Session, state: Session['state']): void {
    this.count[s.state]!--;
    this.count[state]!++;
    s.state = state;
    s.epoch++;
  }

  private rememberExpired(id: number): void {
    this.expired.add(id);
    if (this.expired.size > EXPIRED_MEMORY) {
      const first = this.expired.values().next().value as number;
      this.expired.delete(first);
    }
  }
}

function accountKey(identity: SessionIdentity): string {
  return identity.guest ? `g:${identity.name.toLowerCase()}` : `a:${identity.accountId}`;
}
