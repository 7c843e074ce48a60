// Accounts: registration, login, guests and token checks. Transport-free
// (the HTTP routes in net/auth-routes.ts and the WebSocket Hello both call
// it). Passwords are hashed on the hash pool, records read on the database
// thread: the gateway thread only validates, signs and verifies tokens.
//
// Guests are not stored: a guest is a name and an id in a signed token, and
// its character lives only for its session. Storing them would fill the
// database with throwaway rows (bots reconnecting in a loop) and every guest
// would need an expiry sweep; a game that wants "guest now, register later"
// can add it as an upgrade of the live session.

import { randomBytes } from 'node:crypto';
import { classify, PersistError } from './errors.js';
import { HashBusyError, type PasswordPool } from './password-pool.js';
import type { TokenClaims, TokenSigner, VerifyResult } from './token.js';
import { GUEST_ID_BASE, type PlayerState, type Store } from './types.js';

/** Why a request was refused; the HTTP layer maps each to a status. */
export type AuthError =
  | 'invalid_name'
  | 'invalid_password'
  | 'name_taken'
  | 'bad_credentials'
  | 'guests_disabled'
  | 'busy'
  | 'unavailable';

export type AuthResult<T> = ({ ok: true } & T) | { ok: false; error: AuthError; message: string; field?: 'name' | 'password' };

export interface LoginGrant {
  accountId: number;
  name: string;
  token: string;
  /** ms since the Unix epoch. */
  expiresAt: number;
}

export interface RegisterGrant extends LoginGrant {
  /** The account's character (its player row). Not the entity id a Welcome carries (that is per zone and per session). */
  characterId: number;
}

export interface AccountsOptions {
  guests: boolean;
  /** State of a new character (registration) and of every guest. */
  newPlayer: PlayerState;
}

export const NAME_RULE = '3 to 16 characters: letters, digits and _, starting with a letter';
export const PASSWORD_RULE = '8 to 128 characters';
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{2,15}$/;
/** Prefix of guest names; refused for registration so a guest never looks like an account. */
export const GUEST_PREFIX = 'guest_';

export function nameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'name must be a string';
  if (!NAME_RE.test(name)) return `name must be ${NAME_RULE}`;
  if (name.toLowerCase().startsWith('guest')) return 'names starting with "guest" are reserved for guests';
  return null;
}

export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string') return 'password must be a string';
  const chars = [...password].length;
  if (chars < 8 || chars > 128) return `password must be ${PASSWORD_RULE}`;
  return null;
}

export class Accounts {
  private nextGuest = 0;

  constructor(
    private readonly store: Store,
    private readonly hasher: PasswordPool,
    private readonly signer: TokenSigner,
    readonly opts: AccountsOptions,
  ) {}

  get guestsAllowed(): boolean {
    return this.opts.guests;
  }

  /** Creates an account and its character; answers with a login token as well. */
  async register(name: unknown, password: unknown): Promise<AuthResult<RegisterGrant>> {
    const np = nameProblem(name);
    if (np) return { ok: false, error: 'invalid_name', message: np, field: 'name' };
    const pp = passwordProblem(password);
    if (pp) return { ok: false, error: 'invalid_password', message: pp, field: 'password' };
    const n = name as string;
    try {
      // Cheap early answer for the common duplicate; the unique index decides races.
      if (await this.store.findAccountByName(n)) return taken(n);
      const hash = await this.hasher.hash(password as string);
      const now = Date.now();
      const r = await this.store.createAccount({ name: n, password: hash, createdAt: now, player: this.opts.newPlayer });
      if (!r.ok) return taken(n);
      const t = this.signer.sign({ accountId: r.account.id, name: r.account.name, guest: false }, now);
      return { ok: true, accountId: r.account.id, characterId: r.player.id, name: r.account.name, ...t };
    } catch (err) {
      return failure(err);
    }
  }

  /**
   * Checks a name and password. An unknown name costs the same hash as a
   * wrong password and gets the same answer, so neither timing nor text tells
   * which names exist.
   */
  async login(name: unknown, password: unknown): Promise<AuthResult<LoginGrant>> {
    if (typeof name !== 'string' || typeof password !== 'string' || name.length > 64 || password.length > 1024) {
      return { ok: false, error: 'bad_credentials', message: 'wrong name or password' };
    }
    try {
      const account = await this.store.findAccountByName(name);
      const ok = await this.hasher.verify(password, account?.password ?? null);
      if (!ok || !account) return { ok: false, error: 'bad_credentials', message: 'wrong name or password' };
      return { ok: true, accountId: account.id, name: account.name, ...this.signer.sign({ accountId: account.id, name: account.name, guest: false }) };
    } catch (err) {
      return failure(err);
    }
  }

  /**
   * A guest identity: a fresh player id (>= GUEST_ID_BASE) and a name
   * "guest_<name or random>", signed like a login. Nothing is stored.
   */
  guest(requested?: unknown): AuthResult<LoginGrant> {
    if (!this.opts.guests) return { ok: false, error: 'guests_disabled', message: 'guest logins are disabled on this server; register an account' };
    let suffix: string;
    if (requested === undefined || requested === null || requested === '') suffix = randomBytes(3).toString('hex');
    else if (typeof requested === 'string' && /^[A-Za-z0-9_]{1,10}$/.test(requested)) suffix = requested;
    else return { ok: false, error: 'invalid_name', message: 'guest name must be 1 to 10 letters, digits or _', field: 'name' };
    const id = GUEST_ID_BASE + (this.nextGuest++ % 0x7fff_ffff);
    const name = `${GUEST_PREFIX}${suffix}`;
    return { ok: true, accountId: id, name, ...this.signer.sign({ accountId: id, name, guest: true }) };
  }

  /** The claims of a token presented in the WebSocket Hello, or why it is refused. Guest tokens are refused once guests are disabled. */
  verifyToken(token: unknown, nowMs = Date.now()): VerifyResult {
    const r = this.signer.verify(token, nowMs);
    if (r.ok && r.claims.guest && !this.opts.guests) return { ok: false, reason: 'guests_disabled' };
    return r;
  }
}

function taken(name: string): AuthResult<never> {
  return { ok: false, error: 'name_taken', message: `the name ${name} is taken`, field: 'name' };
}

function failure(err: unknown): AuthResult<never> {
  if (err instanceof HashBusyError) return { ok: false, error: 'busy', message: 'too many logins at once; try again shortly' };
  const e = err instanceof PersistError ? err : classify(err);
  return { ok: false, error: 'unavailable', message: `accounts are unavailable right now (${e.code})` };
}

export type { TokenClaims };
