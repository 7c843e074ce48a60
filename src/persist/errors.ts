// Errors of the persistence layer. Each carries a stable code; `transient`
// says whether trying again later can succeed (the database is down, the disk
// is full, the connection dropped) or not (a record the schema refuses).

export const PersistErrorCode = {
  /** The database cannot be reached or failed an I/O: retry later. */
  unavailable: 'MMO_ERR_PERSIST_UNAVAILABLE',
  /** A record or request the database (or our validation) refuses: retrying will not help. */
  invalid: 'MMO_ERR_PERSIST_INVALID',
  /** The database schema is newer than this code, or a migration failed. */
  schema: 'MMO_ERR_PERSIST_SCHEMA',
  /** Persistence is closed (shutdown); nothing more is accepted. */
  closed: 'MMO_ERR_PERSIST_CLOSED',
  /** Too many write-through events are waiting for a database that does not answer. */
  backlog: 'MMO_ERR_PERSIST_BACKLOG',
  /** A write-through was not confirmed within the caller's deadline (it is still retried). */
  timeout: 'MMO_ERR_PERSIST_TIMEOUT',
  /** A save for a player the queue was never given (load it through Persistence, or track() it): a programming error. */
  untracked: 'MMO_ERR_PERSIST_UNTRACKED',
} as const;
export type PersistErrorCode = (typeof PersistErrorCode)[keyof typeof PersistErrorCode];

export class PersistError extends Error {
  constructor(
    readonly code: PersistErrorCode,
    message: string,
    readonly transient = code === PersistErrorCode.unavailable,
  ) {
    super(message);
    this.name = 'PersistError';
  }
}

/** What crosses the piscina boundary instead of a thrown Error (structured clone drops custom fields). */
export interface WireError {
  code: PersistErrorCode;
  message: string;
  transient: boolean;
}

export function toWireError(err: unknown): WireError {
  const e = classify(err);
  return { code: e.code, message: e.message, transient: e.transient };
}

export function fromWireError(w: WireError): PersistError {
  return new PersistError(w.code, w.message, w.transient);
}

// SQLite result codes that mean "the storage failed", not "the data is wrong".
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|INTERRUPT|CORRUPT|NOTADB|PERM)/;
// PostgreSQL SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention
// (admin shutdown, crash), 58 system error, 40 serialization/deadlock.
const PG_TRANSIENT_CLASS = /^(08|53|57|58|40)/;
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT']);

/** Maps a driver error to a PersistError. Unknown errors count as transient: retrying is the safe default for a write queue. */
export function classify(err: unknown): PersistError {
  if (err instanceof PersistError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code.startsWith('SQLITE_')) {
    return SQLITE_TRANSIENT.test(code)
      ? new PersistError(PersistErrorCode.unavailable, `sqlite ${code}: ${message}`)
      : new PersistError(PersistErrorCode.invalid, `sqlite ${code}: ${message}`);
  }
  if (/^[0-9A-Z]{5}$/.test(code)) {
    return PG_TRANSIENT_CLASS.test(code)
      ? new PersistError(PersistErrorCode.unavailable, `postgres ${code}: ${message}`)
      : new PersistError(PersistErrorCode.invalid, `postgres ${code}: ${message}`);
  }
  if (NET_CODES.has(code)) return new PersistError(PersistErrorCode.unavailable, `${code}: ${message}`);
  return new PersistError(PersistErrorCode.unavailable, message);
}
