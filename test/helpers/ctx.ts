// Test helper: a real request context (the gateway's own constructor) and GatewayServices for driving plugin hooks
// directly in unit tests. Metrics go to a fresh prom-client Registry per call; logs go to an in-memory array.
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { RequestCtx } from '../../src/chain/request-context.ts';
import type { GatewayServices, RequestContext, RequestMeta } from '../../src/sdk/context.ts';
import { decisionKey, moderationKey, rolloutKey, topicsKey } from '../../src/sdk/state-keys.ts';
import type { ApiRequest, Decision, Endpoint, RolloutMode } from '../../src/sdk/types.ts';

/** Services backed by a fresh registry; `logs` collects every log line written. */
export function testServices(opts: { redisUrl?: string; env?: Record<string, string> } = {}):
  GatewayServices & { registry: Registry; metrics: Metrics; logs: string[]; closers: (() => unknown)[]; tasks: Promise<void>[] } {
  const registry = new Registry();
  // The bundled plugins' metrics, created the way the gateway creates them.
  const metrics = createMetrics(registry, ALL_PLUGINS, { defaults: false });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { logs.push(s); } });
  const closers: (() => unknown)[] = [];
  const tasks: Promise<void>[] = [];
  return {
    log, registry, metrics, logs, closers, tasks,
    metricsOf: (decls) => metrics.of(decls),
    env: opts.env ?? {},
    redisUrl: opts.redisUrl,
    audit: { destination: 'off', format: 'logfmt' },
    onClose: (fn) => { closers.push(fn); },
    onReopen: () => undefined,
    background: (task) => { tasks.push(task().catch(() => undefined)); },
  };
}

/**
 * A fresh request context for `request` (a chat request unless `endpoint` says otherwise), built by the gateway's own constructor (RequestCtx), with optional metadata,
 * headers, clock and services. `signal`: aborting it aborts the request (the client went away).
 */
export function ctxFor(request: ApiRequest, opts: {
  meta?: Partial<RequestMeta>; headers?: Record<string, string>; now?: () => number;
  services?: GatewayServices; id?: string; signal?: AbortSignal; endpoint?: Endpoint;
} = {}): RequestCtx {
  const services = opts.services ?? testServices();
  const nowFn = opts.now ?? (() => Date.now());
  const ctx = new RequestCtx({
    id: opts.id ?? 'req-test', rootLog: services.log, now: nowFn, services, route: 'policy', endpoint: opts.endpoint ?? 'chat',
    policy: { id: opts.meta?.policyId ?? 'test', file: 'test.policy', line: 1, revision: 'test-revision' },
    meta: { policyId: 'test', user: null, project: null, target: null, ...opts.meta },
    headers: opts.headers ?? {},
    request,
    clientWantsUsage: (request.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
    timings: { startedAt: nowFn(), start: performance.now(), upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
  });
  const signal = opts.signal;
  if (signal?.aborted) ctx.abort(signal.reason);
  else signal?.addEventListener('abort', () => ctx.abort(signal.reason), { once: true });
  return ctx;
}

/**
 * Publishes what the verdict is assembled from, as the plugins would (decide, rollout, topics, moderation): for tests
 * of code that reads the verdict (the auditor) without running those plugins.
 */
export function publishVerdict(ctx: RequestContext, v: {
  decision?: Decision; reasonCode?: string; rule?: string | null; rolloutMode?: RolloutMode;
  triggeredCategories?: readonly string[]; allowlistHits?: readonly string[]; denylistHits?: readonly string[];
}): void {
  const d = ctx.get(decisionKey) ?? { decision: 'allow' as Decision, reasonCode: 'ALLOW', rule: null };
  ctx.set(decisionKey, { decision: v.decision ?? d.decision, reasonCode: v.reasonCode ?? d.reasonCode, rule: v.rule === undefined ? d.rule : v.rule });
  if (v.rolloutMode) ctx.set(rolloutKey, { mode: v.rolloutMode, rule: null, source: 'default' });
  if (v.allowlistHits || v.denylistHits) {
    ctx.set(topicsKey, { allowlistConfigured: false, allowlistHits: v.allowlistHits ?? [], denylistHits: v.denylistHits ?? [], denyRule: null });
  }
  if (v.triggeredCategories) ctx.set(moderationKey, { flagged: v.triggeredCategories, scores: {}, provider: 'builtin', rules: {} });
}
