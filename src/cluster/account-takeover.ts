// One account in one place: a login on this node first asks every other
// alive node to let go of the account, so a player is never live on two
// nodes at once and the login loads what the other node saved, not an
// older row (no progress lost, none duplicated).
//
//   ask     mmo.acct        {id, node, account}
//   answer  mmo.ar.<node>   {id, node, saved}
//
// A node asked ends its session of the account (live or zombie) exactly as a
// local takeover ends the older socket (close 4100), takes the player out of
// its zone, and answers once the final state is durable in the shared
// database: saved true (also when it held nothing of the account), or saved
// false when the save did not land within half of cluster.nodeTimeoutMs (the
// database is slow or down; the state stays queued and is retried there).
//
// The asking node loads the player when every peer said saved. It refuses the
// login (4200, retry-after) when one said not saved: loading now would read
// an older state, and the client's retry finds the save landed. Bounds, so a
// dead or silent node never blocks logins:
//   - only nodes alive in the directory are asked; one that is marked gone
//     while the question is open is no longer waited for (its sessions died
//     with it, their last periodic save stands);
//   - the question ends after cluster.nodeTimeoutMs and a tenth: a node still
//     silent then is skipped (counted, logged) and the login goes ahead. A
//     node that neither answers nor heartbeats is marked gone before; one that
//     heartbeats but does not answer for that long is broken, and refusing
//     every login to its accounts forever would be worse than the risk.
//   - NATS away: nobody can be asked; the login goes ahead (as resumes do).
// Guests are not asked about: their characters are never saved, and their
// names are unique per node only.

import type { Directory } from './directory.js';
import { NODE_ID, decodeJson, encodeJson, type Publisher } from './json-message.js';

export const ACCOUNT_SUBJECT = 'mmo.acct';
export const accountReplySubject = (node: string): string => `mmo.ar.${node}`;

/** What this node holds of accounts, as the takeover needs it. */
export interface AccountHolder {
  /**
   * Ends what this node holds of the account (its session, as a takeover)
   * and resolves once the player's final state is durable: true, also when
   * nothing was held; false when not durable within `withinMs`. Never rejects.
   */
  letGo(accountId: number, by: string, withinMs: number): Promise<boolean>;
}

interface Pending {
  waiting: Set<string>;
  unsaved: string[];
  resolve: (refusal: string | null) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Questions open at once, at most: past this a login is refused at once (4200), so a flood of logins cannot flood NATS. */
export const MAX_OPEN_TAKEOVERS = 1024;

export class AccountTakeover {
  /** Logins that asked the other nodes. */
  asks = 0;
  /** Logins refused because a node could not save the account's player in time. */
  refused = 0;
  /** Alive nodes that did not answer within the bound (the login went ahead). */
  unanswered = 0;
  /** Sessions of this node ended because the account logged in on another node. */
  letGoes = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly self: string,
    private readonly link: Publisher,
    private readonly directory: Directory,
    /** cluster.nodeTimeoutMs: how long a question waits; a node asked saves within half of it. */
    private readonly waitMs: number,
    private readonly holder: AccountHolder,
    private readonly warn: (what: Record<string, unknown>, msg: string) => void = () => undefined,
  ) {}

  /** Before loading account `accountId`'s player: null to go ahead, else the reason to refuse the login now. Never rejects. */
  ask(accountId: number): Promise<string | null> {
    const peers = this.directory.alive();
    if (peers.length === 0 || !this.link.up) return Promise.resolve(null);
    if (this.pending.size >= MAX_OPEN_TAKEOVERS) {
      this.refused++;
      return Promise.resolve('too many logins at once; retry-after-ms=1000');
    }
    this.asks++;
    const id = ++this.seq;
    return new Promise((resolve) => {
      // A dead node is marked gone within nodeTimeoutMs of its last heartbeat (before this question) plus a sweep (a twentieth):
      // the bound is a little longer, so it only ever ends the wait for a node that is alive and silent.
      const timer = setTimeout(() => this.timedOut(id), this.waitMs + Math.ceil(this.waitMs / 10));
      timer.unref?.();
      this.pending.set(id, { waiting: new Set(peers), unsaved: [], resolve, timer });
      this.link.publish(ACCOUNT_SUBJECT, encodeJson({ id, node: this.self, account: accountId }));
    });
  }

  /** Another node's login asks: let go of the account, answer when saved. */
  onAsk(data: Uint8Array): void {
    const a = decodeJson(data);
    if (!a || typeof a.node !== 'string' || a.node === this.self || !NODE_ID.test(a.node) || !Number.isInteger(a.account)) return;
    const node = a.node;
    const id = a.id;
    void this.holder
      .letGo(a.account as number, node, Math.max(1, Math.floor(this.waitMs / 2)))
      .catch(() => false)
      .then((saved) => this.link.publish(accountReplySubject(node), encodeJson({ id, node: this.self, saved })));
  }

  /** An answer to one of this node's questions. */
  onAnswer(data: Uint8Array): void {
    const r = decodeJson(data);
    const id = Number(r?.id);
    const p = this.pending.get(id);
    if (!r || !p || typeof r.node !== 'string' || !p.waiting.delete(r.node)) return;
    if (r.saved !== true) p.unsaved.push(r.node);
    if (p.waiting.size === 0) this.done(id);
  }

  /** A node is gone: no open question waits for it any longer. */
  nodeGone(node: string): void {
    for (const [id, p] of [...this.pending]) if (p.waiting.delete(node) && p.waiting.size === 0) this.done(id);
  }

  private timedOut(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    const silent = [...p.waiting].filter((n) => this.directory.isAlive(n));
    if (silent.length > 0) {
      this.unanswered += silent.length;
      this.warn({ nodes: silent, waitedMs: this.waitMs }, 'nodes did not answer a login takeover in time; the login goes ahead');
    }
    this.done(id);
  }

  private done(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (p.unsaved.length === 0) return p.resolve(null);
    this.refused++;
    p.resolve(`this account's player is still being saved on node ${p.unsaved[0]}; retry-after-ms=1000`);
  }

  /** Lets every open question go ahead (shutdown). */
  stop(): void {
    for (const p of this.pending.values()) p.unsaved.length = 0;
    for (const id of [...this.pending.keys()]) this.done(id);
  }
}
