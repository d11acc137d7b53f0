// Test helper: a real RequestContext and GatewayServices for driving plugin hooks directly in unit tests.
// Metrics go to a fresh prom-client Registry per call; logs go to an in-memory array.
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createMetrics } from '../../src/metrics.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import type { GatewayServices, RequestContext, RequestMeta, StateKey } from '../../src/sdk/context.ts';
import type { ChatRequest } from '../../src/sdk/types.ts';

/** Services backed by a fresh registry; `logs` collects every log line written. */
export function testServices(opts: { redisUrl?: string; env?: Record<string, string> } = {}):
  GatewayServices & { registry: Registry; logs: string[]; closers: (() => unknown)[]; tasks: Promise<void>[] } {
  const registry = new Registry();
  // The bundled plugins' metrics, created the way the gateway creates them.
  const metrics = createMetrics(registry, ALL_PLUGINS, { defaults: false });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { logs.push(s); } });
  const closers: (() => unknown)[] = [];
  const tasks: Promise<void>[] = [];
  return {
    log, registry, logs, closers, tasks,
    metricsOf: (decls) => metrics.of(decls),
    env: opts.env ?? {},
    redisUrl: opts.redisUrl,
    audit: { destination: 'off', format: 'logfmt' },
    onClose: (fn) => { closers.push(fn); },
    onReopen: () => undefined,
    background: (task) => { tasks.push(task().catch(() => undefined)); },
  };
}

/** A fresh RequestContext for `request`, with optional metadata, headers, clock and services. */
export function ctxFor(request: ChatRequest, opts: {
  meta?: Partial<RequestMeta>; headers?: Record<string, string>; now?: () => number;
  services?: GatewayServices; id?: string; signal?: AbortSignal;
} = {}): RequestContext {
  const services = opts.services ?? testServices();
  const state = new Map<symbol, unknown>();
  const nowFn = opts.now ?? (() => Date.now());
  return {
    id: opts.id ?? 'req-test',
    log: services.log.child({ reqId: opts.id ?? 'req-test' }), // as the gateway's context: reqId bound once
    signal: opts.signal ?? new AbortController().signal,
    now: nowFn,
    services,
    policy: { id: opts.meta?.policyId ?? 'test', file: 'test.policy', line: 1, revision: 'test-revision' },
    route: 'policy',
    meta: { policyId: 'test', user: null, project: null, target: null, ...opts.meta },
    headers: opts.headers ?? {},
    request,
    markRequestChanged() { (this as { requestChanged?: boolean }).requestChanged = true; },
    markResponseChanged() { (this as { responseChanged?: boolean }).responseChanged = true; },
    clientWantsUsage: request.stream_options?.include_usage === true,
    verdict: {
      decision: 'allow', effectiveDecision: 'allow', reasonCode: 'ALLOW', triggeredCategories: [],
      allowlistHits: [], denylistHits: [], rolloutMode: 'enforced', enforced: true, rule: null,
    },
    audit: {},
    responseHeaders: {},
    usage: undefined,
    upstreamStatus: 0,
    timings: { startedAt: nowFn(), start: performance.now(), upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
    get: <T>(k: StateKey<T>) => state.get(k) as T | undefined,
    set: <T>(k: StateKey<T>, v: T) => { state.set(k, v); },
  };
}
