// prom-client metrics of one gateway instance, all declared in one place (names, labels, buckets).
// `createMetrics(registry)` takes a Registry so every test (and every worker) gets its own. The metric objects are
// src/fast-metrics.ts (label children bound once, no per-call label hashing), exported through prom-client.
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { FastCounter as Counter, FastGauge as Gauge, FastHistogram as Histogram } from './fast-metrics.ts';
import type { PluginMetrics } from './sdk/context.ts';

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

/** Every metric the gateway exports; documented in docs/metrics.md. */
export interface Metrics extends PluginMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'status'>;
  readonly requestSeconds: Histogram<'route' | 'stream'>;
  readonly overheadSeconds: Histogram<'route' | 'stream'>;
  readonly upstreamSeconds: Histogram<'upstream' | 'stream'>;
  readonly upstreamTtfbSeconds: Histogram<'upstream' | 'stream'>;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  readonly decisions: Counter<'policy_id' | 'decision' | 'effective_decision' | 'reason_code' | 'rollout_mode'>;
  readonly tokens: Counter<'policy_id' | 'project' | 'type'>;
  readonly pluginSeconds: Histogram<'plugin' | 'hook'>;
  readonly pluginErrors: Counter<'plugin' | 'hook'>;
  readonly policyReloads: Counter<'result'>;
  readonly policiesLoaded: Gauge;
  readonly inflight: Gauge<'route'>;
  readonly auditRecords: Counter<'result'>;
  readonly openConnections: Gauge;
  readonly connectionsRejected: Counter;
}

/** Creates every gateway metric on `registry` (plus Node's default process metrics when `defaults` is true). */
export function createMetrics(registry: Registry, opts: { defaults?: boolean } = {}): Metrics {
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
  return {
    registry,
    requests: counter('policy_gateway_requests_total', 'HTTP requests answered, by route and status code.', ['route', 'status']),
    requestSeconds: histogram('policy_gateway_request_duration_seconds', 'End-to-end request latency, first byte in to last byte out.', ['route', 'stream'], LATENCY_BUCKETS),
    overheadSeconds: histogram('policy_gateway_overhead_seconds', 'Time spent in the gateway itself (excluding the upstream), per request.', ['route', 'stream'], OVERHEAD_BUCKETS),
    upstreamSeconds: histogram('policy_gateway_upstream_duration_seconds', 'Upstream latency from request sent to last byte received.', ['upstream', 'stream'], LATENCY_BUCKETS),
    upstreamTtfbSeconds: histogram('policy_gateway_upstream_ttfb_seconds', 'Upstream time to first byte (response head).', ['upstream', 'stream'], LATENCY_BUCKETS),
    upstreamErrors: counter('policy_gateway_upstream_errors_total', 'Upstream failures by kind (unreachable, timeout, bad_response, status_5xx, interrupted).', ['upstream', 'kind']),
    decisions: counter('policy_gateway_decisions_total', 'Policy decisions.', ['policy_id', 'decision', 'effective_decision', 'reason_code', 'rollout_mode']),
    tokens: counter('policy_gateway_tokens_total', 'Tokens reported by upstream usage, by policy, project and type (prompt, completion).', ['policy_id', 'project', 'type']),
    pluginSeconds: histogram('policy_gateway_plugin_duration_seconds', 'Time spent in each plugin hook.', ['plugin', 'hook'], OVERHEAD_BUCKETS),
    pluginErrors: counter('policy_gateway_plugin_errors_total', 'Plugin hooks that threw or timed out.', ['plugin', 'hook']),
    policyReloads: counter('policy_gateway_policy_reloads_total', 'Policy (re)loads by result (success, error).', ['result']),
    policiesLoaded: new Gauge({ name: 'policy_gateway_policies_loaded', help: 'Policies in the serving rule set.', registers, aggregator: 'max' }),
    inflight: new Gauge<'route'>({ name: 'policy_gateway_inflight_requests', help: 'Requests in flight.', labelNames: ['route'], registers }),
    auditRecords: counter('policy_gateway_audit_records_total', 'Audit records, by result (written, dropped, error).', ['result']),
    openConnections: new Gauge({ name: 'policy_gateway_open_connections', help: 'Client connections open on the main listener (--max-connections applies per process).', registers }),
    connectionsRejected: counter('policy_gateway_connections_rejected_total', 'Connections answered with a canned 503 before any request was read: beyond --max-connections plus --ops-reserve.', []),
    redactions: counter('policy_gateway_redactions_total', 'Sensitive spans redacted, by policy and detector type.', ['policy_id', 'type']),
    moderationFlags: counter('policy_gateway_moderation_flags_total', 'Moderation categories flagged, by policy and category.', ['policy_id', 'category']),
    moderationSeconds: histogram('policy_gateway_moderation_duration_seconds', 'Moderation provider latency.', ['provider'], LATENCY_BUCKETS),
    moderationErrors: counter('policy_gateway_moderation_errors_total', 'Moderation provider failures, by provider and fail mode applied.', ['provider', 'result']),
    quotaRejections: counter('policy_gateway_quota_rejections_total', 'Requests rejected by quotas and budgets, by policy and scope.', ['policy_id', 'scope']),
    quotaStoreErrors: counter('policy_gateway_quota_store_errors_total', 'Quota store failures, by store and fail mode applied.', ['store', 'result']),
    escalations: counter('policy_gateway_escalations_total', 'Escalation webhooks, by policy and result (sent, failed).', ['policy_id', 'result']),
    authFailures: counter('policy_gateway_auth_failures_total', 'Rejected credentials, by reason.', ['reason']),
  };
}
