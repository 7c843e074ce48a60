// Pass criteria shared by the scenarios.

import type { LoadtestOptions } from './types.js';

/** Everyone connected at the end, nobody dropped unexpectedly, no errors. */
export function commonChecks(r: Record<string, unknown>, o: LoadtestOptions): string[] {
  const f: string[] = [];
  if ((r.connected as number) < o.clients) f.push(`only ${r.connected as number} of ${o.clients} clients connected at the end`);
  if ((r.unexpectedDisconnects as number) > 0) f.push(`${r.unexpectedDisconnects as number} unexpected disconnects`);
  if ((r.errors as number) > 0) f.push(`${r.errors as number} errors (${JSON.stringify(r.errorCodes)})`);
  return f;
}
