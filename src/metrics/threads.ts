// mmo_thread_cpu_seconds_total{thread, source}: CPU seconds per named server
// thread (gateway, zone-N, pool-N...), read from the shared thread table at
// scrape time: no messages to the workers. source="native" is the kernel's
// per-thread clock; source="estimate" is event-loop active time, used when the
// native addon is not loaded (see native-bindings/index.ts).

import type { Registry } from 'prom-client';
import type { ThreadRegistry } from '../../native-bindings/threads.js';

export const THREAD_CPU_METRIC = 'mmo_thread_cpu_seconds_total';

/** Registers the counter; it samples `threads` on each scrape (cold path: allocates per scrape). */
export function registerThreadCpuMetric(registry: Registry, threads: ThreadRegistry): void {
  const metric = {
    name: THREAD_CPU_METRIC,
    help: 'CPU seconds (user+system) used by each named server thread. source="estimate" means event-loop active time, not CPU: the native addon is not loaded.',
    aggregator: 'sum' as const,
    get() {
      return {
        name: THREAD_CPU_METRIC,
        help: metric.help,
        type: 'counter' as const,
        aggregator: 'sum' as const,
        values: threads.sample().map((t) => ({ labels: { thread: t.name, source: t.source }, value: t.cpuSeconds })),
      };
    },
    reset() {},
  };
  registry.registerMetric(metric as never);
}
