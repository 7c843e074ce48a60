// Login tokens: what POST /auth/login hands out and the WebSocket Hello
// presents. Short-lived (auth.tokenTtlSeconds): after the Hello the session's
// own resume token takes over, so a stolen login token is useful for minutes.
//
//   token   = base64url(payload) "." base64url(HMAC-SHA256(secret, "mmo1." + base64url(payload)))
//   payload = JSON {"a": account id (or guest player id), "n": name, "e": expiry (Unix s), "g": 1 if guest}
//
// verify() checks the shape, then the signature (constant time), and only
// then parses the payload: a forged token is never parsed. It is a few
// microseconds of HMAC on the gateway thread, once per Hello.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export interface TokenClaims {
  /** Account id; for a guest, the guest's player id (>= GUEST_ID_BASE). */
  accountId: number;
  name: string;
  /** Expiry, ms since the Unix epoch (second precision). */
  expiresAt: number;
  guest: boolean;
}

/** 'guests_disabled' comes only from Accounts.verifyToken (a valid guest token on a server that no longer allows guests). */
export type TokenRejection = 'malformed' | 'bad_signature' | 'expired' | 'guests_disabled';
export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenRejection };

const DOMAIN = 'mmo1.';
const MAX_TOKEN_LENGTH = 512;
const B64URL = /^[A-Za-z0-9_-]+$/;
const SIG_BYTES = 32;

export class TokenSigner {
  constructor(
    private readonly secret: Buffer,
    readonly ttlSeconds: number,
  ) {
    if (secret.length < 32) throw Object.assign(new Error('token secret must be at least 32 bytes'), { code: 'MMO_ERR_AUTH_SECRET' });
  }

  /** Signs claims valid for ttlSeconds from nowMs. Returns the token and its expiry (ms). */
  sign(subject: { accountId: number; name: string; guest: boolean }, nowMs = Date.now()): { token: string; expiresAt: number } {
    const exp = Math.floor(nowMs / 1000) + this.ttlSeconds;
    const body: Record<string, unknown> = { a: subject.accountId, n: subject.name, e: exp };
    if (subject.guest) body.g = 1;
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return { token: `${payload}.${this.mac(payload).toString('base64url')}`, expiresAt: exp * 1000 };
  }

  /** The claims of a token signed here and not expired at nowMs, or why not. */
  verify(token: unknown, nowMs = Date.now()): VerifyResult {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, reason: 'malformed' };
    const payload = token.slice(0, dot);
    const sigText = token.slice(dot + 1);
    if (!B64URL.test(payload) || !B64URL.test(sigText)) return { ok: false, reason: 'malformed' };
    const sig = Buffer.from(sigText, 'base64url');
    if (sig.length !== SIG_BYTES) return { ok: false, reason: 'malformed' };
    if (!timingSafeEqual(sig, this.mac(payload))) return { ok: false, reason: 'bad_signature' };
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      // Signed by us yet unparsable: only if the secret leaked or a bug; treat as malformed.
      return { ok: false, reason: 'malformed' };
    }
    const b = body as { a?: unknown; n?: unknown; e?: unknown; g?: unknown };
    if (!Number.isSafeInteger(b.a) || typeof b.n !== 'string' || !Number.isSafeInteger(b.e)) return { ok: false, reason: 'malformed' };
    const expiresAt = (b.e as number) * 1000;
    if (nowMs >= expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, claims: { accountId: b.a as number, name: b.n, expiresAt, guest: b.g === 1 } };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(DOMAIN).update(payload).digest();
  }
}

export const SECRET_FILE = 'auth-token.key';

/**
 * The signing secret: auth.tokenSecret when set, else the file
 * <dataDir>/auth-token.key, created on first start with 32 random bytes and
 * mode 0600 (tightened to 0600 if found looser). Tokens survive restarts;
 * deleting the file logs everyone's pending tokens out. Start-up only.
 */
export function loadTokenSecret(configured: string, dataDir: string): { secret: Buffer; source: string; fixedMode?: number } {
  if (configured) {
    if (Buffer.byteLength(configured) < 32) throw Object.assign(new Error('auth.tokenSecret must be at least 32 bytes'), { code: 'MMO_ERR_AUTH_SECRET' });
    return { secret: Buffer.from(configured), source: 'auth.tokenSecret' };
  }
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, SECRET_FILE);
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let fixedMode: number | undefined;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    chmodSync(file, 0o600);
    fixedMode = mode;
  }
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64,}$/.test(text)) throw Object.assign(new Error(`${file} does not hold a hex secret of at least 32 bytes; delete it to have a new one made`), { code: 'MMO_ERR_AUTH_SECRET' });
  return { secret: Buffer.from(text, 'hex'), source: file, ...(fixedMode !== undefined ? { fixedMode } : {}) };
}
