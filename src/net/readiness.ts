/**
 * What /readyz reports: the server is ready when every registered component
 * says so (the listener, each zone...). Checks are cheap reads of state kept
 * elsewhere; they run only when /readyz is asked.
 */
export class Readiness {
  private readonly checks = new Map<string, () => string | true>();
  /** Components reported but not required (a zone another cluster node runs): down does not make this server unready. */
  private readonly optional = new Set<string>();

  /** `check` returns true when up, or a short reason why not. */
  register(component: string, check: () => string | true, required = true): void {
    this.checks.set(component, check);
    if (required) this.optional.delete(component);
    else this.optional.add(component);
  }

  unregister(component: string): void {
    this.checks.delete(component);
  }

  status(): { ready: boolean; components: Record<string, string> } {
    const components: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      let r: string | true;
      try {
        r = check();
      } catch (err) {
        r = `check failed: ${(err as Error).message}`;
      }
      components[name] = r === true ? 'up' : r;
      if (r !== true && !this.optional.has(name)) ready = false;
    }
    return { ready, components };
  }
}
