// The hot-path metric classes must export exactly what prom-client's own would for the same calls: same text
// exposition, same JSON (so the cluster AggregatorRegistry sums workers the same way), same input errors.
import { describe, expect, it } from 'vitest';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram } from '../../src/fast-metrics.ts';

const BUCKETS = [0.00001, 0.0005, 0.001, 0.25, 1, 60];
const VALUES = [0, 0.00001, 0.000010001, 0.0004, 0.0005, 0.9, 1, 59.9, 60, 61, 1e9, 0.002];

function pair() {
  const a = new Registry();
  const b = new Registry();
  return { a, b };
}

describe('fast metrics match prom-client', () => {
  it('histogram: same exposition for labelled children, object labels and unlabelled metrics', async () => {
    const { a, b } = pair();
    const ph = new Histogram({ name: 'h_seconds', help: 'h.', labelNames: ['route', 'stream'], buckets: BUCKETS, registers: [a] });
    const fh = new FastHistogram({ name: 'h_seconds', help: 'h.', labelNames: ['route', 'stream'], buckets: BUCKETS, registers: [b] });
    const pu = new Histogram({ name: 'u_seconds', help: 'u.', buckets: BUCKETS, registers: [a] });
    const fu = new FastHistogram({ name: 'u_seconds', help: 'u.', buckets: BUCKETS, registers: [b] });
    VALUES.forEach((v, i) => {
      const route = i % 3 === 0 ? 'v1' : 'policy';
      const stream = i % 2 === 0 ? 'true' : 'false';
      ph.labels(route, stream).observe(v);
      if (i % 2) fh.labels(route, stream).observe(v); else fh.observe({ route, stream }, v);
    });
    expect(await b.metrics()).toBe(await a.metrics()); // u_seconds exported at zero before any observation
    for (const v of VALUES) { pu.observe(v); fu.observe(v); }
    expect(await b.metrics()).toBe(await a.metrics());
    // prom-client adds `exemplar: null` / `undefined` entries (exemplars are off); everything else is equal.
    const plain = (j: unknown) => JSON.parse(JSON.stringify(j, (k, v) => (k === 'exemplar' ? undefined : v)));
    expect(plain(await b.getMetricsAsJSON())).toEqual(plain(await a.getMetricsAsJSON()));
  });

  it('counter and gauge: same exposition', async () => {
    const { a, b } = pair();
    const pc = new Counter({ name: 'c_total', help: 'c.', labelNames: ['policy_id', 'type'], registers: [a] });
    const fc = new FastCounter({ name: 'c_total', help: 'c.', labelNames: ['policy_id', 'type'], registers: [b] });
    const pg = new Gauge({ name: 'g', help: 'g.', labelNames: ['route'], registers: [a] });
    const fg = new FastGauge({ name: 'g', help: 'g.', labelNames: ['route'], registers: [b] });
    const pn = new Gauge({ name: 'n', help: 'n.', registers: [a] });
    const fn = new FastGauge({ name: 'n', help: 'n.', registers: [b] });
    for (const [p, t, n] of [['x', 'email', 1], ['x', 'phone', 3], ['y', 'email', 2], ['x', 'email', 0.5]] as const) {
      pc.inc({ policy_id: p, type: t }, n);
      fc.inc({ policy_id: p, type: t }, n);
      pc.labels(p, t).inc();
      fc.labels(p, t).inc();
    }
    pg.labels('v1').inc(); fg.labels('v1').inc();
    pg.labels('v1').inc(); fg.labels('v1').inc();
    pg.labels('v1').dec(); fg.labels('v1').dec();
    pg.inc({ route: 'policy' }); fg.inc({ route: 'policy' });
    pn.set(7); fn.set(7);
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('the cluster aggregator sums two workers the same way', async () => {
    const worker = (Fast: boolean, n: number) => {
      const r = new Registry();
      const h = Fast ? new FastHistogram({ name: 'h_seconds', help: 'h.', labelNames: ['route'], buckets: BUCKETS, registers: [r] })
        : new Histogram({ name: 'h_seconds', help: 'h.', labelNames: ['route'], buckets: BUCKETS, registers: [r] });
      const c = Fast ? new FastCounter({ name: 'c_total', help: 'c.', labelNames: ['route'], registers: [r] })
        : new Counter({ name: 'c_total', help: 'c.', labelNames: ['route'], registers: [r] });
      for (let i = 0; i < n; i++) { h.labels('v1').observe(VALUES[i % VALUES.length]!); c.labels('v1').inc(); }
      return r.getMetricsAsJSON();
    };
    const fast = AggregatorRegistry.aggregate([await worker(true, 5), await worker(true, 9)]);
    const prom = AggregatorRegistry.aggregate([await worker(false, 5), await worker(false, 9)]);
    expect(await fast.metrics()).toBe(await prom.metrics());
    expect(await fast.metrics()).toContain('c_total{route="v1"} 14');
  });

  it('rejects what prom-client rejects', () => {
    const r = new Registry();
    const c = new FastCounter({ name: 'c_total', help: 'c.', labelNames: ['a'], registers: [r] });
    const h = new FastHistogram({ name: 'h', help: 'h.', labelNames: ['a'], buckets: [1], registers: [r] });
    expect(() => c.labels('x').inc(-1)).toThrow(/only goes up/);
    expect(() => c.inc({ b: 'x' } as never)).toThrow(/unknown label "b"/);
    expect(() => c.labels('x', 'y')).toThrow(/expected 1 label values/);
    expect(() => h.labels('x').observe(Number.NaN)).toThrow(/finite/);
    expect(() => new FastHistogram({ name: 'd', help: 'd.', buckets: [1, 1] })).toThrow(/distinct/);
    expect(() => new FastCounter({ name: 'c_total', help: 'again', registers: [r] })).toThrow(/already been registered/);
    expect(c.labels('x')).toBe(c.labels('x')); // children are bound once
  });

  it('a frozen label object is remembered: same counts as fresh objects, unknown labels still refused', async () => {
    const r = new Registry();
    const c = new FastCounter<'result'>({ name: 'x_total', help: 'x', labelNames: ['result'], registers: [r] });
    const written = Object.freeze({ result: 'written' });
    for (let i = 0; i < 3; i++) c.inc(written);
    c.inc({ result: 'written' }, 2);
    c.inc(Object.freeze({ result: 'dropped' }));
    expect(await r.metrics()).toContain('x_total{result="written"} 5');
    expect(await r.metrics()).toContain('x_total{result="dropped"} 1');
    const bad = Object.freeze({ nope: 'x' }) as unknown as { result: string };
    expect(() => c.inc(bad)).toThrow('unknown label "nope"');
    expect(() => c.inc(bad)).toThrow('unknown label "nope"');
  });
});
