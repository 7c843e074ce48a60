// Reconnect timing: full-jitter exponential backoff, and the server's retry hints.

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * sleep = random(0, min(cap, base * 2^attempt)), attempt counting from 0.
 * Spreads a crowd of clients that lost the server at the same instant.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The delay a refused WebSocket upgrade asks for, in ms (0 when none):
 * `x-retry-after-ms` (the gateway's precise hint) or else `retry-after`
 * (seconds, or an HTTP date).
 */
export function retryHintFromHeaders(header: (name: string) => string | undefined, now = Date.now()): number {
  const ms = header('x-retry-after-ms');
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms.trim());
  const ra = header('retry-after');
  if (ra === undefined) return 0;
  const t = ra.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  return Number.isNaN(date) ? 0 : Math.max(0, date - now);
}

/**
 * The delay in a close reason such as "try again later; retry-after-ms=1500"
 * (close code 4200 tryAgainLater), in ms; 0 when the reason carries none.
 * Accepted spellings: retry-after-ms, retry_after_ms, retryAfterMs, followed
 * by '=', ':' or a space and decimal digits.
 */
export function retryHintFromReason(reason: string): number {
  const m = /retry[-_ ]?after[-_ ]?ms\s*[=: ]\s*(\d+)/i.exec(reason);
  return m ? Number(m[1]) : 0;
}
