// A client's session as plain JSON, for a client that restarts (a browser tab
// reload, an app restart): MmoClient.savedSession() writes it, connect(url,
// { resume }) continues from it in a brand-new client object.
//
// It carries what the resume needs (session id, resume token, the last frame
// processed), the input counter (the server drops an input whose seq is not
// above the last it accepted, so a client that restarted its count at 1 would
// lose its inputs silently), the unacknowledged inputs (sent again; the
// server drops the ones it already has), and the local model the replayed
// frames apply to (they are deltas from lastSeq on). The resume token is a
// secret: keep the JSON where the page's own origin alone can read it
// (sessionStorage), and use it once (the server rotates the token on resume).

import type { EntityView, SelfView } from './types.js';

export const SAVED_SESSION_VERSION = 1;

export interface SavedSession {
  v: typeof SAVED_SESSION_VERSION;
  sessionId: number;
  /** base64 of the session's secret resume token. */
  resumeToken: string;
  /** seq of the last frame the model below reflects (Resume.last_seq). */
  lastSeq: number;
  /** The last input seq used: the resumed client numbers on from inputSeq + 1. */
  inputSeq: number;
  /** Highest input seq the server acknowledged. */
  ackedInput: number;
  /** Inputs sent or queued and not acknowledged: seq and base64 of the ClientMessage bytes. */
  pending: Array<{ seq: number; bytes: string }>;
  /** Moves not yet seen in the server's position (the prediction). */
  moves: Array<{ seq: number; x: number; y: number }>;
  entityId: number;
  name: string;
  zone: number;
  tickRate: number;
  self: SelfView | null;
  serverPosition: { x: number; y: number };
  entities: EntityView[];
  /** Date.now() when saved: past the server's sessions.zombieTtlMs the resume is refused. */
  savedAt: number;
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin);
}

export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function optionsError(message: string): Error {
  return Object.assign(new Error(`options.resume: ${message}`), { code: 'MMO_ERR_OPTIONS' });
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Checks a saved session (it comes back from storage: anything may be in it)
 * and decodes its byte fields. Throws MMO_ERR_OPTIONS naming the bad field.
 */
export function readSavedSession(s: unknown): { saved: SavedSession; token: Uint8Array; pending: Array<{ seq: number; bytes: Uint8Array }> } {
  if (typeof s !== 'object' || s === null) throw optionsError('must be the object savedSession() returned');
  const o = s as Partial<SavedSession>;
  if (o.v !== SAVED_SESSION_VERSION) throw optionsError(`version ${String(o.v)} is not ${SAVED_SESSION_VERSION}`);
  for (const k of ['sessionId', 'lastSeq', 'inputSeq', 'ackedInput', 'entityId', 'zone', 'tickRate'] as const) {
    if (!isCount(o[k])) throw optionsError(`${k} must be a non-negative integer, got ${String(o[k])}`);
  }
  if (o.sessionId === 0) throw optionsError('sessionId 0 is no session');
  if (o.ackedInput! > o.inputSeq!) throw optionsError(`ackedInput ${o.ackedInput} is above inputSeq ${o.inputSeq}`);
  if (typeof o.resumeToken !== 'string' || o.resumeToken.length === 0) throw optionsError('resumeToken must be a base64 string');
  if (!Array.isArray(o.pending) || !Array.isArray(o.moves) || !Array.isArray(o.entities)) throw optionsError('pending, moves and entities must be arrays');
  let token: Uint8Array;
  const pending: Array<{ seq: number; bytes: Uint8Array }> = [];
  try {
    token = fromBase64(o.resumeToken);
    for (const p of o.pending) {
      if (!isCount(p?.seq) || p.seq > o.inputSeq! || typeof p.bytes !== 'string') throw new Error('bad entry');
      pending.push({ seq: p.seq, bytes: fromBase64(p.bytes) });
    }
  } catch {
    throw optionsError('resumeToken and pending[].bytes must be base64, pending[].seq at most inputSeq');
  }
  if (typeof o.name !== 'string') throw optionsError('name must be a string');
  return { saved: o as SavedSession, token, pending };
}
