// Metrics as plugins declare them: each plugin lists all its metrics in one object (`defineMetrics`) in its definition;
// the gateway creates them on its registry at startup and a hook gets them with `ctx.services.metricsOf(DECLS)`.

/** A bounded-label counter as plugins see it. Label values MUST come from configuration, never from user input. */
export interface CounterLike {
  inc(labels: Record<string, string>, value?: number): void;
}
/** A histogram as plugins see it. */
export interface HistogramLike {
  observe(labels: Record<string, string>, value: number): void;
}
/** A gauge as plugins see it. */
export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  inc(labels: Record<string, string>, value?: number): void;
  dec(labels: Record<string, string>, value?: number): void;
}

/** Buckets of a histogram: sub-millisecond `overhead` (time in the gateway), `latency` (up to a minute), or explicit. */
export type Buckets = 'latency' | 'overhead' | readonly number[];

/** One metric: `policy_gateway_<subsystem>_<what>_<unit>`, counters ending in `_total`, durations in `_seconds`. */
export type MetricDecl =
  | { readonly type: 'counter'; readonly name: string; readonly help: string; readonly labels: readonly string[] }
  | { readonly type: 'gauge'; readonly name: string; readonly help: string; readonly labels: readonly string[] }
  | { readonly type: 'histogram'; readonly name: string; readonly help: string; readonly labels: readonly string[]; readonly buckets: Buckets };

/** A plugin's metrics by the names its code uses. */
export type MetricDecls = Readonly<Record<string, MetricDecl>>;

/** The live metrics of a declaration object. */
export type MetricsOf<D extends MetricDecls> = {
  readonly [K in keyof D]: D[K] extends { readonly type: 'counter' } ? CounterLike : D[K] extends { readonly type: 'histogram' } ? HistogramLike : GaugeLike;
};

/** Freezes a plugin's metric declarations (keep the object: `metricsOf` finds the live metrics by it). */
export function defineMetrics<const D extends MetricDecls>(decls: D): D {
  for (const d of Object.values(decls)) Object.freeze(d);
  return Object.freeze(decls);
}
