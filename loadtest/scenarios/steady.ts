// steady: ramp up to N players, play for the duration, measure.

import type { Scenario } from './types.js';
import { commonChecks } from './checks.js';

export const steady: Scenario = {
  name: 'steady',
  description: 'ramp up to --clients players, play for --duration seconds, measure throughput, RTT and server cost',
  async run(ctx) {
    await ctx.ramp(ctx.opts.clients);
    await ctx.startWindow();
    await ctx.sleep(ctx.opts.durationSec * 1000);
    await ctx.endWindow();
  },
  check(r, o) {
    return commonChecks(r, o);
  },
};
