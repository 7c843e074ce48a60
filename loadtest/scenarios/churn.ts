// churn: a constant population with connections closing and opening all the
// time (logins, handshakes, session teardown and player removal under load).

import type { Scenario } from './types.js';
import { commonChecks } from './checks.js';
import { round } from '../server/probe.js';

export const churn: Scenario = {
  name: 'churn',
  description: 'N players; every second --churn of them leave and as many new ones join (default 2 % of N per second)',
  async run(ctx) {
    const { clients, durationSec } = ctx.opts;
    const perSec = ctx.opts.churnPerSec > 0 ? ctx.opts.churnPerSec : Math.max(1, Math.round(clients * 0.02));
    await ctx.ramp(clients);
    await ctx.startWindow();
    const start = ctx.now();
    let cycled = 0;
    while (ctx.now() - start < durationSec - 1) {
      const t = ctx.now();
      ctx.swarm.leave(perSec);
      await ctx.swarm.spawn(perSec, 0);
      cycled += perSec;
      await ctx.sleep(Math.max(0, 1000 - (ctx.now() - t) * 1000));
    }
    await ctx.waitConnected(clients, 15_000);
    await ctx.endWindow();
    ctx.extra.churnPerSec = perSec;
    ctx.extra.cycled = cycled;
    ctx.extra.cycledPerSec = round(cycled / Math.max(1, ctx.now() - start), 1);
  },
  check(r, o) {
    return commonChecks(r, o);
  },
};
