// What --print-config shows: the merged configuration with its secrets
// masked. A string key named like a secret (tokenSecret, any *Token,
// *Password, *Secret: the admin token of the dashboard too) is replaced
// whole; a URL keeps everything but its password
// (postgres://mmo:***@db:5432/mmo). Cold path.

import type { Config } from './schema.js';

export const REDACTED = '***';

const SECRET_NAME = /(secret|password|token|apikey)$/i;

/** A deep copy of `config` with secrets masked; the input is not changed. */
export function redactConfig(config: Config): Config {
  return redactValue(config, '') as Config;
}

function redactValue(value: unknown, key: string): unknown {
  if (typeof value === 'string') {
    if (value === '') return value;
    if (SECRET_NAME.test(key)) return REDACTED;
    return redactUrl(value);
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k);
    return out;
  }
  return value;
}

/** scheme://user:password@host... -> scheme://user:***@host...; anything else as it is. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/i, `$1:${REDACTED}@`);
}
