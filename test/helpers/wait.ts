// Polling until a condition holds, for tests that watch another process or
// thread (a server, a zone, a proxy) and have no event to await.

/**
 * Resolves once `cond` is true (it may be async); throws, naming `what`,
 * when `timeoutMs` passes first. `what` may be a function, evaluated only on
 * timeout, to describe the state that did not converge.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what: string | (() => string) = 'the condition',
  pollMs = 20,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
