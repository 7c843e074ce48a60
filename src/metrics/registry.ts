// The process's Prometheus registry. Every metric name starts with mmo_.
// Default Node metrics (RSS, heap, GC, handles) come from prom-client with the
// mmo_ prefix; the event-loop delay histogram is ours, sampled by a timer so
// it is a real histogram rather than prom-client's percentile gauges.

import { Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsConfig } from '../config/schema.js';
import { HotHistogram, exponentialBuckets } from './hot.js';

/** Told of every sample: the gateway's loop ran `lateMs` late at `nowMs` (performance.now()). */
export type LoopSampleListener = (lateMs: number, nowMs: number) => void;

export interface MetricsRuntime {
  registry: Registry;
  eventLoopDelay: HotHistogram;
  /** Adds a listener to the event-loop sampler (the zones' stall allowance uses it). */
  onLoopSample(fn: LoopSampleListener): void;
  /** Stops the sampler timer (shutdown, tests). */
  stop(): void;
}

export function createMetrics(cfg: MetricsConfig): MetricsRuntime {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mmo_', eventLoopMonitoringPrecision: cfg.eventLoopSampleMs });

  // 0.5 ms .. ~1 s: the gateway's budget is a few ms per turn; anything past 100 ms is an incident.
  const eventLoopDelay = new HotHistogram(
    registry,
    'mmo_eventloop_delay_seconds',
    'How late the gateway event loop ran a timer that was due (sampled).',
    exponentialBuckets(0.0005, 2, 12),
  );
  const period = cfg.eventLoopSampleMs;
  const listeners: LoopSampleListener[] = [];
  let expected = performance.now() + period;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - expected);
    eventLoopDelay.observe(late / 1000);
    expected = now + period;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(late, now);
  }, period);
  timer.unref();

  return {
    registry,
    eventLoopDelay,
    onLoopSample: (fn) => void listeners.push(fn),
    stop: () => clearInterval(timer),
  };
}
