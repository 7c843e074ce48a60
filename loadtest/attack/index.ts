// The attack registry: `--attacks a,b,c` picks from these by name; each runs
// alone or beside the others, all against the same server at once.

import type { Attack, AttackContext, AttackReport } from './types.js';
import { isLoopbackHost } from './types.js';
import { connFlood } from './conn-flood.js';
import { slowloris } from './slowloris.js';
import { handshakeFlood } from './handshake-flood.js';
import { garbage } from './garbage.js';
import { msgFlood } from './msg-flood.js';
import { slowReaders } from './slow-readers.js';
import { oversize } from './oversize.js';
import { authBruteforce } from './auth-bruteforce.js';
import { resumeForgery } from './resume-forgery.js';

export const attacks: ReadonlyMap<string, Attack> = new Map(
  [connFlood, slowloris, handshakeFlood, garbage, msgFlood, slowReaders, oversize, authBruteforce, resumeForgery].map((a) => [a.name, a]),
);

export const ALL_ATTACKS: readonly string[] = [...attacks.keys()];

/** Parses `a,b,c` (or `all`); throws with the known names on an unknown one. */
export function parseAttackList(text: string): string[] {
  const names = text === 'all' ? [...ALL_ATTACKS] : text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!attacks.has(n)) throw Object.assign(new Error(`unknown attack "${n}"; known: ${ALL_ATTACKS.join(', ')}, or all`), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
  }
  if (names.length === 0) throw Object.assign(new Error('--attacks needs at least one attack'), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
  return [...new Set(names)];
}

/** Runs the named attacks at once; resolves when every one has accounted for all its sockets. */
export async function runAttacks(names: readonly string[], ctx: AttackContext): Promise<AttackReport[]> {
  if (!isLoopbackHost(ctx.host)) throw Object.assign(new Error(`attacks only target 127.0.0.0/8, not ${ctx.host}`), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
  return Promise.all(names.map((n, i) => attacks.get(n)!.run({ ...ctx, seed: ctx.seed * 31 + i })));
}

export type { AttackReport } from './types.js';
