// A resume that reaches a node which does not hold the session (a load
// balancer moved the client): this node asks the others over NATS "do you
// hold session S with this token?", and the one that does is named by its
// public URL (cluster.publicUrl, announced in its heartbeats). The session
// layer then closes the socket with CloseCode.movedTo and the reason
// `resume-at=<url>`; the SDK reconnects there and sends the same Resume, and
// the holder replays what was missed as for any resume.
//
// Why ask rather than read the node from the session id: session ids are
// random 31-bit numbers (SessionRegistry.create) that double as zone-ring and
// cluster-wire ids, and node ids are free-form strings with no numbering and
// no election. Carving a node number out of the id would shrink its
// randomness and need a numbering every node agrees on; a question costs one
// NATS round trip, only for the rare resume of a session unknown here, and
// stays right when a node restarts (its new run does not hold the old
// sessions and answers no). The question carries the token and the holder
// checks it without spending it: a guessed or colliding id is never sent
// anywhere, and nobody learns which ids exist.
//
//   ask     mmo.resume      {id, node, session, token (base64)}
//   answer  mmo.rr.<node>   {id, node, held}
//
// Every alive peer answers; the lookup ends at the first `held`, when all
// said no, or after cluster.requestTimeoutMs (then: not held anywhere).

import type { Directory } from './directory.js';
import { NODE_ID, decodeJson, encodeJson, type Publisher } from './json-message.js';

export const RESUME_SUBJECT = 'mmo.resume';
export const resumeReplySubject = (node: string): string => `mmo.rr.${node}`;

/** The close reason of a redirect: `resume-at=<url>` (the URL is at most 110 characters, cluster.publicUrl). */
export const RESUME_AT = 'resume-at=';

interface Pending {
  waiting: number;
  resolve: (url: string | null) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Questions open at once, at most: past this a resume is answered "not held" at once (4101), so Resumes sent in a flood cannot flood NATS. */
export const MAX_OPEN_LOOKUPS = 1024;


export class ResumeLookup {
  /** Resumes of sessions not held here that were asked of the other nodes. */
  lookups = 0;
  /** Of those, the ones another alive node held: the client was sent there. */
  redirects = 0;
  /** Resumes refused without asking because MAX_OPEN_LOOKUPS questions were open. */
  shed = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly self: string,
    private readonly link: Publisher,
    private readonly directory: Directory,
    private readonly timeoutMs: number,
    /** Whether this node holds session `session` and `token` would resume it (checked, not spent). */
    private readonly holds: (session: number, token: Uint8Array) => boolean,
  ) {}

  /** The public URL of the node holding the session, or null (no node does, none answered in time, or NATS is away). Never rejects. */
  ask(session: number, token: Uint8Array): Promise<string | null> {
    const peers = this.directory.alive().length;
    if (peers === 0 || !this.link.up) return Promise.resolve(null);
    if (this.pending.size >= MAX_OPEN_LOOKUPS) {
      this.shed++;
      return Promise.resolve(null);
    }
    this.lookups++;
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.done(id, null), this.timeoutMs);
      timer.unref?.();
      this.pending.set(id, { waiting: peers, resolve, timer });
      const ask = { id, node: this.self, session, token: Buffer.from(token).toString('base64') };
      this.link.publish(RESUME_SUBJECT, encodeJson(ask));
    });
  }

  /** Another node asks: answer whether this node holds the session. */
  onAsk(data: Uint8Array): void {
    const a = decodeJson(data);
    if (!a || typeof a.node !== 'string' || a.node === this.self || !NODE_ID.test(a.node) || typeof a.token !== 'string') return;
    const session = Number(a.session) >>> 0;
    const held = this.holds(session, Buffer.from(a.token, 'base64'));
    this.link.publish(resumeReplySubject(a.node), encodeJson({ id: a.id, node: this.self, held }));
  }

  /** An answer to one of this node's questions. */
  onAnswer(data: Uint8Array): void {
    const r = decodeJson(data);
    const id = Number(r?.id);
    const p = this.pending.get(id);
    if (!r || !p) return;
    const url = r.held === true && typeof r.node === 'string' ? this.directory.urlOf(r.node) : '';
    if (url !== '') {
      this.redirects++;
      return this.done(id, url);
    }
    if (--p.waiting <= 0) this.done(id, null);
  }

  private done(id: number, url: string | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(url);
  }

  /** Answers every open question with null (shutdown). */
  stop(): void {
    for (const id of [...this.pending.keys()]) this.done(id, null);
  }
}
