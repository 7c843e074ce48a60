// Hot-path metrics: counters and histograms that cost one typed-array store
// per event and no allocation. prom-client's own inc()/observe() hash label
// sets on every call; these are read by prom-client only at scrape time.
//
// Label sets are fixed when the metric is created (the close reasons, the
// zone ids...) and addressed by index: `closes.inc(CloseReason.oversize)`.

import type { Registry } from 'prom-client';

type LabelSet = Record<string, string | number>;

/** The shape prom-client's Registry reads from a metric's get() when rendering. */
interface Scraped {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  values: Array<{ metricName?: string; labels: LabelSet; value: number }>;
}

interface HotMetricBase {
  name: string;
  help: string;
  aggregator: 'sum';
}

export class HotCounter implements HotMetricBase {
  readonly aggregator = 'sum' as const;
  readonly values: Float64Array;
  private readonly labels: readonly LabelSet[];

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    labels: readonly LabelSet[] = [{}],
  ) {
    this.labels = labels;
    this.values = new Float64Array(labels.length);
    registry.registerMetric(this as never);
  }

  inc(index = 0, by = 1): void {
    this.values[index]! += by;
  }

  /** Cold path: total over all label sets (tests, logs). */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.values.length; i++) t += this.values[i]!;
    return t;
  }

  get(): Scraped {
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      aggregator: 'sum',
      values: this.labels.map((labels, i) => ({ labels, value: this.values[i]! })),
    };
  }

  reset(): void {
    this.values.fill(0);
  }
}

/** A gauge read from a callback at scrape time. */
export class PullGauge implements HotMetricBase {
  readonly aggregator = 'sum' as const;
  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | Array<{ labels: LabelSet; value: number }>,
  ) {
    registry.registerMetric(this as never);
  }

  get(): Scraped {
    const v = this.read();
    return {
      name: this.name,
      help: this.help,
      type: 'gauge',
      aggregator: 'sum',
      values: typeof v === 'number' ? [{ labels: {}, value: v }] : v,
    };
  }

  reset(): void {}
}

/** A counter whose value is read from a callback at scrape time (a total kept elsewhere). */
export class PullCounter implements HotMetricBase {
  readonly aggregator = 'sum' as const;
  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {
    registry.registerMetric(this as never);
  }

  get(): Scraped {
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values: [{ labels: {}, value: this.read() }] };
  }

  reset(): void {}
}

/**
 * Fixed-bucket histogram; observe() is a short linear scan over the bounds
 * (10-20 buckets beat a binary search at this size) and three stores.
 * Several label sets share one bounds array.
 */
export class HotHistogram implements HotMetricBase {
  readonly aggregator = 'sum' as const;
  private readonly bounds: Float64Array;
  /** [labelSet][bucket]; the last bucket of each row is +Inf. */
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly stride: number;
  private readonly labels: readonly LabelSet[];

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    labels: readonly LabelSet[] = [{}],
  ) {
    this.bounds = Float64Array.from(bounds);
    this.stride = bounds.length + 1;
    this.labels = labels;
    this.counts = new Float64Array(this.stride * labels.length);
    this.sums = new Float64Array(labels.length);
    registry.registerMetric(this as never);
  }

  observe(value: number, index = 0): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[index * this.stride + i]! += 1;
    this.sums[index]! += value;
  }

  /** Cold path: number of observations for a label set. */
  count(index = 0): number {
    let c = 0;
    for (let i = 0; i < this.stride; i++) c += this.counts[index * this.stride + i]!;
    return c;
  }

  /** Cold path: an upper bound for the q-quantile, from bucket bounds (tests, reports). */
  quantileUpperBound(q: number, index = 0): number {
    const total = this.count(index);
    if (total === 0) return 0;
    let acc = 0;
    for (let i = 0; i < this.stride; i++) {
      acc += this.counts[index * this.stride + i]!;
      if (acc >= q * total) return i < this.bounds.length ? this.bounds[i]! : Infinity;
    }
    return Infinity;
  }

  get(): Scraped {
    const values: Scraped['values'] = [];
    this.labels.forEach((labels, li) => {
      let acc = 0;
      for (let i = 0; i < this.stride; i++) {
        acc += this.counts[li * this.stride + i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: acc });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: this.sums[li]! });
      values.push({ metricName: `${this.name}_count`, labels, value: acc });
    });
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sums.fill(0);
  }
}

/** Exponential bucket bounds: start, start*factor, ... (count values). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(Number(v.toPrecision(6)));
  return out;
}
