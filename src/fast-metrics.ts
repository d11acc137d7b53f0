// Counters, gauges and histograms for the request hot path, registered on a prom-client Registry.
//
// prom-client's own `observe`/`inc` validate and hash the label set on every call, even through a `labels(…)`
// child, and key histogram buckets by float-as-string properties: ~1–2 µs per call, 8–10 calls per request. The
// gateway's label values are bounded by configuration, so these classes bind a child per label combination once
// (`labels(…)` returns the same object every time) and a child's `observe`/`inc` is a few array writes. Exposition
// goes through prom-client unchanged: `get()` returns the same shape as prom-client's metrics, so the Registry
// text format, `getMetricsAsJSON` and the cluster AggregatorRegistry (which sums workers) work as with its own.
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;
interface Value { labels: Labels; value: number; metricName?: string }
interface MetricJSON { name: string; help: string; type: string; values: Value[]; aggregator: string }

/** Joins label values into a child's key (label values come from configuration and never contain NUL). */
export const LABEL_SEP = '\0';

abstract class FastMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  /** How the cluster primary combines workers' values: `sum` (default), `max`, `min`, `average`, `first`… */
  readonly aggregator: string;
  readonly labelNames: readonly L[];
  readonly #children = new Map<string, C>();
  /** Children by frozen label object: callers that pass the same frozen `{ result: 'written' }` skip the key work. */
  readonly #byFrozen = new WeakMap<object, C>();

  constructor(o: { name: string; help: string; labelNames?: readonly L[]; registers?: Registry[]; aggregator?: string }) {
    this.name = o.name;
    this.help = o.help;
    this.aggregator = o.aggregator ?? 'sum';
    this.labelNames = Object.freeze([...(o.labelNames ?? [])]);
    for (const r of o.registers ?? []) r.registerMetric(this as never);
  }

  protected abstract create(labels: Labels): C;

  /** The child for these label values (in `labelNames` order), created once and reused. */
  labels(...values: (string | number)[]): C {
    return this.byKey(values.length === 1 ? String(values[0]) : values.join(LABEL_SEP));
  }

  /**
   * The child for label values already joined with LABEL_SEP (`${route}\0${status}`): the hot path's form, with no
   * array per call. The values are split out of the key only when the child is first created.
   */
  byKey(key: string): C {
    let c = this.#children.get(key);
    if (c === undefined) {
      const values = this.labelNames.length === 0 && key === '' ? [] : key.split(LABEL_SEP);
      if (values.length !== this.labelNames.length) {
        throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
      }
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => { labels[n] = values[i]!; });
      this.#children.set(key, (c = this.create(labels)));
    }
    return c;
  }

  /**
   * The child for a label object (prom-client's `inc({ a: 'x' })` form). Unknown label names are an error. A frozen
   * label object is remembered, so passing the same one again is one WeakMap lookup.
   */
  protected child(labels: Partial<Record<L, string | number>> | undefined): C {
    if (labels !== undefined && Object.isFrozen(labels)) {
      let c = this.#byFrozen.get(labels);
      if (c === undefined) this.#byFrozen.set(labels, (c = this.#childOf(labels)));
      return c;
    }
    return this.#childOf(labels);
  }

  #childOf(labels: Partial<Record<L, string | number>> | undefined): C {
    if (labels) {
      for (const k in labels) {
        if (!this.labelNames.includes(k as L)) throw new Error(`${this.name}: unknown label "${k}"`);
      }
    }
    const names = this.labelNames;
    if (names.length === 0) return this.labels();
    if (names.length === 1) return this.labels(labels?.[names[0]!] ?? '');
    return this.labels(...names.map((n) => labels?.[n] ?? ''));
  }

  protected get children(): IterableIterator<C> {
    return this.#children.values();
  }

  reset(): void {
    this.#children.clear();
  }

  protected abstract values(): Value[];

  async get(): Promise<MetricJSON> {
    if (this.labelNames.length === 0) this.labels(); // an unlabelled metric is exported from the start, at zero
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
}

function checkValue(name: string, v: number): void {
  if (!Number.isFinite(v)) throw new TypeError(`${name}: value is not a finite number: ${v}`);
}

class CounterChild {
  value = 0;
  readonly labels: Labels;
  readonly metric: string;
  constructor(labels: Labels, metric: string) { this.labels = labels; this.metric = metric; }
  inc(n = 1): void {
    if (!(n >= 0) || n === Infinity) throw new Error(`${this.metric}: a counter only goes up by a finite amount (got ${n})`);
    this.value += n;
  }
}

/** A counter; `labels(…)` children are bound once. Same calls as prom-client's Counter. */
export class FastCounter<L extends string = string> extends FastMetric<L, CounterChild> {
  readonly type = 'counter';
  protected create(labels: Labels): CounterChild { return new CounterChild(labels, this.name); }
  inc(labels?: Partial<Record<L, string | number>> | number, n?: number): void {
    if (typeof labels === 'number') this.child(undefined).inc(labels);
    else this.child(labels).inc(n);
  }
  protected values(): Value[] {
    return [...this.children].map((c) => ({ labels: c.labels, value: c.value }));
  }
}

class GaugeChild {
  value = 0;
  readonly labels: Labels;
  readonly metric: string;
  constructor(labels: Labels, metric: string) { this.labels = labels; this.metric = metric; }
  inc(n = 1): void { this.value += n; }
  dec(n = 1): void { this.value -= n; }
  set(v: number): void { checkValue(this.metric, v); this.value = v; }
}

/** A gauge; `labels(…)` children are bound once. */
export class FastGauge<L extends string = string> extends FastMetric<L, GaugeChild> {
  readonly type = 'gauge';
  protected create(labels: Labels): GaugeChild { return new GaugeChild(labels, this.name); }
  set(labels: Partial<Record<L, string | number>> | number, v?: number): void {
    if (typeof labels === 'number') this.child(undefined).set(labels);
    else this.child(labels).set(v!);
  }
  inc(labels?: Partial<Record<L, string | number>> | number, n?: number): void {
    if (typeof labels === 'number') this.child(undefined).inc(labels);
    else this.child(labels).inc(n);
  }
  dec(labels?: Partial<Record<L, string | number>> | number, n?: number): void {
    if (typeof labels === 'number') this.child(undefined).dec(labels);
    else this.child(labels).dec(n);
  }
  protected values(): Value[] {
    return [...this.children].map((c) => ({ labels: c.labels, value: c.value }));
  }
}

class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly labels: Labels;
  readonly bounds: Float64Array;
  readonly metric: string;
  constructor(labels: Labels, bounds: Float64Array, metric: string) {
    this.labels = labels;
    this.bounds = bounds;
    this.metric = metric;
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    checkValue(this.metric, v);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** A histogram with fixed buckets; `labels(…)` children are bound once. Same calls as prom-client's Histogram. */
export class FastHistogram<L extends string = string> extends FastMetric<L, HistogramChild> {
  readonly type = 'histogram';
  readonly bounds: Float64Array;
  constructor(o: { name: string; help: string; labelNames?: readonly L[]; buckets: readonly number[]; registers?: Registry[] }) {
    super(o);
    const sorted = [...o.buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) throw new Error(`${o.name}: buckets must be finite and distinct`);
    this.bounds = Float64Array.from(sorted);
  }
  protected create(labels: Labels): HistogramChild { return new HistogramChild(labels, this.bounds, this.name); }
  observe(labels: Partial<Record<L, string | number>> | number, v?: number): void {
    if (typeof labels === 'number') this.child(undefined).observe(labels);
    else this.child(labels).observe(v!);
  }
  protected values(): Value[] {
    const out: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.children) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!;
        out.push({ labels: { le: this.bounds[i]!, ...c.labels }, value: acc, metricName: bucket });
      }
      out.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: bucket });
      out.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      out.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
