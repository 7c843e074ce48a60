// The server's /auth routes from a client (browser or Node: global fetch), and
// what a client may read of a login token without the server's secret.
//
// A token is base64url(JSON payload) "." signature (src/persist/token.ts); the
// payload is not secret: {"a": account id, "n": name, "e": expiry (Unix s), "g": 1 if guest}.
// The client reads it only to decide (is it a guest's? has it expired?); the
// server alone verifies it.

import type { Credentials } from './types.js';

/** What /auth/register, /auth/login and /auth/guest answer with on success. */
export interface AuthGrant {
  /** The account (for a guest: its temporary id). */
  accountId: number;
  /** /auth/register only: the account's character (its player row). */
  characterId?: number;
  name: string;
  /** Present it in connect({ token }). Short-lived. */
  token: string;
  /** ms since the Unix epoch. */
  expiresAt: number;
  guest?: boolean;
}

/** An /auth request the server refused; `status` is the HTTP status, `error` its stable code (e.g. 'bad_credentials'). */
export class AuthError extends Error {
  readonly code = 'MMO_ERR_AUTH';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
  /** Whether trying again later may succeed (busy, unavailable, rate limited, network). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** The HTTP base URL of a server from its WebSocket URL: ws://h:p/ws -> http://h:p. */
export function authBaseFromWsUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.origin;
}

async function post(base: string, path: string, body: unknown): Promise<AuthGrant> {
  let r: Response;
  try {
    r = await fetch(new URL(path, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    throw new AuthError(0, 'network', `POST ${path}: ${(e as Error).message}`);
  }
  let json: Record<string, unknown> | null = null;
  try {
    json = (await r.json()) as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (r.ok && json && typeof json.token === 'string') return json as unknown as AuthGrant;
  throw new AuthError(r.status, typeof json?.error === 'string' ? json.error : 'bad_answer', typeof json?.message === 'string' ? json.message : `POST ${path}: HTTP ${r.status}`);
}

/** POST /auth/login: a token for an existing account. `base` is the server's HTTP URL (see authBaseFromWsUrl). */
export function login(base: string, credentials: Credentials): Promise<AuthGrant> {
  return post(base, '/auth/login', { name: credentials.name, password: credentials.password });
}

/** POST /auth/register: creates the account and its character, and logs in. */
export function register(base: string, credentials: Credentials): Promise<AuthGrant> {
  return post(base, '/auth/register', { name: credentials.name, password: credentials.password });
}

/** POST /auth/guest: a guest token (name optional; the server prefixes it with "guest_"). */
export function guest(base: string, name?: string): Promise<AuthGrant> {
  return post(base, '/auth/guest', name === undefined ? {} : { name });
}

export interface TokenPayload {
  accountId: number;
  name: string;
  /** ms since the Unix epoch. */
  expiresAt: number;
  guest: boolean;
}

/** The payload of a login token as the client can read it (unverified), or null when it is not one. */
export function readToken(token: string): TokenPayload | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  try {
    const b64 = token.slice(0, dot).replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const p = JSON.parse(new TextDecoder().decode(bytes)) as { a?: unknown; n?: unknown; e?: unknown; g?: unknown };
    if (typeof p.a !== 'number' || typeof p.n !== 'string' || typeof p.e !== 'number') return null;
    return { accountId: p.a, name: p.n, expiresAt: p.e * 1000, guest: p.g === 1 };
  } catch {
    return null;
  }
}
