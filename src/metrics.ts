// prom-client metrics of one gateway instance: core's own declared here, each plugin's from its declaration, all
// created by `createMetrics(registry, plugins)` (a Registry per test and per worker). The metric objects are
// src/fast-metrics.ts (label children bound once, no per-call label hashing), exported through prom-client.
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { FastCounter as Counter, FastGauge as Gauge, FastHistogram as Histogram } from './fast-metrics.ts';
import type { MetricDecls, MetricsOf } from './sdk/metrics.ts';
import { VERSION } from './version.ts';

/** Latency buckets in seconds: sub-millisecond resolution for gateway overhead, up to a minute for model calls. */
export const LATENCY_BUCKETS = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);
/** Buckets for the gateway's own time: finer at the low end. */
export const OVERHEAD_BUCKETS = Object.freeze([
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
]);

/** Default process metrics dropped from the exposition because their names break Prometheus conventions. */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The metric declarations of a plugin, as createMetrics reads them. */
export interface MetricSource {
  readonly name: string;
  readonly metrics?: MetricDecls;
}

/** Every metric the gateway exports (core's here, the plugins' through `of`); documented in docs/metrics.md. */
export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'endpoint' | 'status'>;
  readonly requestSeconds: Histogram<'route' | 'endpoint' | 'stream'>;
  readonly overheadSeconds: Histogram<'route' | 'endpoint' | 'stream'>;
  readonly upstreamSeconds: Histogram<'upstream' | 'stream'>;
  readonly upstreamTtfbSeconds: Histogram<'upstream' | 'stream'>;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  readonly decisions: Counter<'policy_id' | 'endpoint' | 'decision' | 'effective_decision' | 'reason_code' | 'rollout_mode'>;
  readonly tokens: Counter<'policy_id' | 'endpoint' | 'project' | 'type'>;
  readonly pluginSeconds: Histogram<'plugin' | 'hook'>;
  readonly pluginErrors: Counter<'plugin' | 'hook'>;
  readonly policyReloads: Counter<'result'>;
  readonly policiesLoaded: Gauge;
  /** 1, labelled with this build's version and Node.js version. */
  readonly buildInfo: Gauge<'version' | 'node'>;
  /** 1, labelled with the serving rule set's revision (only the current one: see setRulesRevision). */
  readonly rulesInfo: Gauge<'revision'>;
  readonly rulesLastReloadSuccess: Gauge;
  readonly inflight: Gauge<'route' | 'endpoint'>;
  readonly openConnections: Gauge;
  readonly connectionsRejected: Counter;
  readonly consoleDropped: Counter;
  /** The live metrics of a plugin's declaration object; throws for a declaration that was not registered. */
  of<D extends MetricDecls>(decls: D): MetricsOf<D>;
}

/**
 * Records a successful policy load: `rules_info` then carries only `revision` (the previous one removed, so the
 * label stays bounded to one value per process), and the last-success time is `nowMs`.
 */
export function recordRulesLoaded(m: Metrics, revision: string, policies: number, nowMs: number): void {
  m.rulesInfo.reset();
  m.rulesInfo.set({ revision }, 1);
  m.rulesLastReloadSuccess.set(nowMs / 1000);
  m.policiesLoaded.set(policies);
}

/**
 * Creates every gateway metric on `registry`: core's, then each plugin's declared metrics in registry order (plus
 * Node's default process metrics unless `defaults` is false). A metric name declared twice is an error.
 */
export function createMetrics(registry: Registry, plugins: readonly MetricSource[] = [], opts: { defaults?: boolean } = {}): Metrics {
  if (opts.defaults !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (that suffix is for counters);
    // the per-type gauges `nodejs_active_handles` / `_requests` / `_resources` carry the same numbers.
    for (const name of NON_CONFORMING_DEFAULTS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers });
  const core = {
    registry,
    requests: counter('policy_gateway_requests_total', 'HTTP requests answered, by route, endpoint and status code.', ['route', 'endpoint', 'status']),
    requestSeconds: histogram('policy_gateway_request_duration_seconds', 'End-to-end request latency, first byte in to last byte out.', ['route', 'endpoint', 'stream'], LATENCY_BUCKETS),
    overheadSeconds: histogram('policy_gateway_overhead_seconds', 'Time spent in the gateway itself (excluding the upstream), per request.', ['route', 'endpoint', 'stream'], OVERHEAD_BUCKETS),
    upstreamSeconds: histogram('policy_gateway_upstream_duration_seconds', 'Upstream latency from request sent to last byte received.', ['upstream', 'stream'], LATENCY_BUCKETS),
    upstreamTtfbSeconds: histogram('policy_gateway_upstream_ttfb_seconds', 'Upstream time to first byte (response head).', ['upstream', 'stream'], LATENCY_BUCKETS),
    upstreamErrors: counter('policy_gateway_upstream_errors_total', 'Upstream failures by kind (unreachable, timeout, bad_response, status_5xx, interrupted).', ['upstream', 'kind']),
    decisions: counter('policy_gateway_decisions_total', 'Policy decisions.', ['policy_id', 'endpoint', 'decision', 'effective_decision', 'reason_code', 'rollout_mode']),
    tokens: counter('policy_gateway_tokens_total', 'Tokens reported by upstream usage, by policy, endpoint, project and type (prompt, completion).', ['policy_id', 'endpoint', 'project', 'type']),
    pluginSeconds: histogram('policy_gateway_plugin_duration_seconds', 'Time spent in each plugin hook.', ['plugin', 'hook'], OVERHEAD_BUCKETS),
    pluginErrors: counter('policy_gateway_plugin_errors_total', 'Plugin hooks that threw or timed out.', ['plugin', 'hook']),
    policyReloads: counter('policy_gateway_policy_reloads_total', 'Policy (re)loads by result (success, error).', ['result']),
    policiesLoaded: new Gauge({ name: 'policy_gateway_policies_loaded', help: 'Policies in the serving rule set.', registers, aggregator: 'max' }),
    // `max` across --workers: every worker reports the same 1 (a sum would count the workers).
    buildInfo: new Gauge<'version' | 'node'>({ name: 'policy_gateway_build_info', help: 'Always 1; labels name the gateway version and the Node.js version running it.', labelNames: ['version', 'node'], registers, aggregator: 'max' }),
    rulesInfo: new Gauge<'revision'>({ name: 'policy_gateway_rules_info', help: 'Always 1; the revision label names the rule set serving (only the current one).', labelNames: ['revision'], registers, aggregator: 'max' }),
    rulesLastReloadSuccess: new Gauge({ name: 'policy_gateway_rules_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful policy load (the initial load or a reload that swapped in a new rule set).', registers, aggregator: 'max' }),
    inflight: new Gauge<'route' | 'endpoint'>({ name: 'policy_gateway_inflight_requests', help: 'Requests in flight.', labelNames: ['route', 'endpoint'], registers }),
    openConnections: new Gauge({ name: 'policy_gateway_open_connections', help: 'Client connections open on the main listener (--max-connections applies per process).', registers }),
    consoleDropped: counter('policy_gateway_console_dropped_total', 'Decision records the console did not stream: a console client that did not keep up, or a full batch queue.', []),
    connectionsRejected: counter('policy_gateway_connections_rejected_total', 'Connections answered with a canned 503 before any request was read: beyond --max-connections plus --ops-reserve.', []),
  };
  core.buildInfo.set({ version: VERSION, node: process.version }, 1);
  const pluginMetrics = new Map<MetricDecls, Record<string, unknown>>();
  for (const p of plugins) {
    if (!p.metrics) continue;
    const live: Record<string, unknown> = {};
    for (const [key, d] of Object.entries(p.metrics)) {
      if (registry.getSingleMetric(d.name)) throw new Error(`plugin "${p.name}": metric ${d.name} is already declared`);
      live[key] = d.type === 'counter' ? counter(d.name, d.help, d.labels)
        : d.type === 'gauge' ? new Gauge({ name: d.name, help: d.help, labelNames: d.labels, registers })
          : histogram(d.name, d.help, d.labels, d.buckets === 'latency' ? LATENCY_BUCKETS : d.buckets === 'overhead' ? OVERHEAD_BUCKETS : d.buckets);
    }
    pluginMetrics.set(p.metrics, Object.freeze(live));
  }
  return {
    ...core,
    of<D extends MetricDecls>(decls: D): MetricsOf<D> {
      const live = pluginMetrics.get(decls);
      if (live === undefined) throw new Error('metrics requested for a declaration no registered plugin made');
      return live as MetricsOf<D>;
    },
  };
}
