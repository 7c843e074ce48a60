// Log lines for content hook faults (content-host.ts counts them; this says
// what happened): at most one line per hook per LOG_EVERY_MS, carrying how
// many faults of that hook went unlogged since its last line, so a hook that
// throws every tick costs a line a second, not twenty.

import type { Logger } from '../log/logger.js';
import { HOOK_NAMES, type HookName } from '../world/index.js';

const LOG_EVERY_MS = 1000;

export class ContentFaultLog {
  private readonly lastAt = new Float64Array(HOOK_NAMES.length).fill(-Infinity);
  private readonly suppressed = new Float64Array(HOOK_NAMES.length);

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One fault: logs it unless this hook logged within LOG_EVERY_MS. Returns whether it logged. */
  note(hook: HookName, reason: 'threw' | 'overran', ms: number, err: unknown): boolean {
    const i = HOOK_NAMES.indexOf(hook);
    const t = this.now();
    if (t - this.lastAt[i]! < LOG_EVERY_MS) {
      this.suppressed[i]!++;
      return false;
    }
    const suppressed = this.suppressed[i]!;
    this.lastAt[i] = t;
    this.suppressed[i] = 0;
    if (reason === 'threw') this.log.error({ hook, err, suppressed }, `content hook ${hook} threw`);
    else this.log.warn({ hook, ms: Math.round(ms * 1000) / 1000, suppressed }, `content hook ${hook} overran its budget (world.contentHookBudgetMs)`);
    return true;
  }
}
