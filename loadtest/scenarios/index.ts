// The scenario registry. A scenario is a module exporting a Scenario; add it
// here and `--scenario NAME` finds it.

import type { Scenario } from './types.js';
import { steady } from './steady.js';
import { soak } from './soak.js';
import { reconnectStorm } from './reconnect-storm.js';
import { churn } from './churn.js';
import { attack } from '../attack/scenario.js';

export const scenarios: ReadonlyMap<string, Scenario> = new Map([steady, soak, reconnectStorm, churn, attack].map((s) => [s.name, s]));

export function getScenario(name: string): Scenario {
  const s = scenarios.get(name);
  if (!s) throw Object.assign(new Error(`unknown scenario "${name}"; known: ${[...scenarios.keys()].join(', ')}`), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
  return s;
}

export type { Scenario, ScenarioContext, LoadtestOptions } from './types.js';
