/**
 * What /readyz reports: the server is ready when every registered component
 * says so (the listener, each zone...). Checks are cheap reads of state kept
 * elsewhere; they run only when /readyz is asked.
 */
export class Readiness {
  private readonly checks = new Map<string, () => string | true>();

  /** `check` returns true when up, or a short reason why not. */
  register(component: string, check: () => string | true): void {
    this.checks.set(component, check);
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
      if (r !== true) ready = false;
    }
    return { ready, components };
  }
}
