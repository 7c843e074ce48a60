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

/**
 * Slots for the values of hot metrics in memory another thread reads: a
 * gateway thread counts into an arena over a SharedArrayBuffer the main
 * thread made, and the main thread's metric of the same name adds that
 * arena's slots at scrape time (addSource). Both sides take slots in the same
 * order (the same constructor calls), so a slot means the same on both.
 * Without a buffer, slots are plain private memory.
 */
export class MetricArena {
  private used = 0;
  private readonly f64: Float64Array | null;

  constructor(sab: SharedArrayBuffer | null = null) {
    this.f64 = sab ? new Float64Array(sab) : null;
  }

  /** Bytes of SharedArrayBuffer that hold `slots` values. */
  static bytesFor(slots: number): number {
    return slots * 8;
  }

  take(n: number): Float64Array {
    if (this.f64 === null) return new Float64Array(n);
    if (this.used + n > this.f64.length) throw new RangeError(`metric arena of ${this.f64.length} slots is full`);
    const v = this.f64.subarray(this.used, this.used + n);
    this.used += n;
    return v;
  }
}

export class HotCounter implements HotMetricBase {
  readonly aggregator = 'sum' as const;
  readonly values: Float64Array;
  private readonly labels: readonly LabelSet[];
  /** Other threads' slots for this counter, added when read. */
  private readonly sources: Float64Array[] = [];

  /** Registered with `registry`; null: a thread's counter that another thread's reads (its values from `arena`). */
  constructor(
    registry: Registry | null,
    readonly name: string,
    readonly help: string,
    labels: readonly LabelSet[] = [{}],
    arena: MetricArena = new MetricArena(),
  ) {
    this.labels = labels;
    this.values = arena.take(labels.length);
    registry?.registerMetric(this as never);
  }

  inc(index = 0, by = 1): void {
    this.values[index]! += by;
  }

  /** Adds the same counter's slots of another thread (taken from its arena in the same order). */
  addSource(arena: MetricArena): void {
    this.sources.push(arena.take(this.labels.length));
  }

  private value(i: number): number {
    let v = this.values[i]!;
    for (const s of this.sources) v += s[i]!;
    return v;
  }

  /** Cold path: total over all label sets and sources (tests, logs). */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.values.length; i++) t += this.value(i);
    return t;
  }

  get(): Scraped {
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      aggregator: 'sum',
      values: this.labels.map((labels, i) => ({ labels, value: this.value(i) })),
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
  /** Other threads' slots (counts, sums) for this histogram, added when read. */
  private readonly sources: Array<{ counts: Float64Array; sums: Float64Array }> = [];

  /** Registered with `registry`; null: a thread's histogram that another thread's reads (its values from `arena`). */
  constructor(
    registry: Registry | null,
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    labels: readonly LabelSet[] = [{}],
    arena: MetricArena = new MetricArena(),
  ) {
    this.bounds = Float64Array.from(bounds);
    this.stride = bounds.length + 1;
    this.labels = labels;
    this.counts = arena.take(this.stride * labels.length);
    this.sums = arena.take(labels.length);
    registry?.registerMetric(this as never);
  }

  /** Adds the same histogram's slots of another thread (taken from its arena in the same order). */
  addSource(arena: MetricArena): void {
    this.sources.push({ counts: arena.take(this.stride * this.labels.length), sums: arena.take(this.labels.length) });
  }

  private countAt(i: number): number {
    let v = this.counts[i]!;
    for (const s of this.sources) v += s.counts[i]!;
    return v;
  }

  private sumAt(i: number): number {
    let v = this.sums[i]!;
    for (const s of this.sources) v += s.sums[i]!;
    return v;
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
    for (let i = 0; i < this.stride; i++) c += this.countAt(index * this.stride + i);
    return c;
  }

  /** Cold path: an upper bound for the q-quantile, from bucket bounds (tests, reports). */
  quantileUpperBound(q: number, index = 0): number {
    const total = this.count(index);
    if (total === 0) return 0;
    let acc = 0;
    for (let i = 0; i < this.stride; i++) {
      acc += this.countAt(index * this.stride + i);
      if (acc >= q * total) return i < this.bounds.length ? this.bounds[i]! : Infinity;
    }
    return Infinity;
  }

  get(): Scraped {
    const values: Scraped['values'] = [];
    this.labels.forEach((labels, li) => {
      let acc = 0;
      for (let i = 0; i < this.stride; i++) {
        acc += this.countAt(li * this.stride + i);
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: acc });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: this.sumAt(li) });
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
