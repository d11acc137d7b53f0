// The end of every request: a chained request fails (answered with its error) or completes (metrics, access log,
// the plugins' onComplete), and a request that never reached a policy chain is answered and recorded once.
import type http from 'node:http';
import type { GatewayError } from '../errors.ts';
import type { RequestCtx } from '../chain/request-context.ts';
import type { Outcome } from '../sdk/plugin.ts';
import type { Upstream } from '../upstream/router.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';
import { responsesErrorEvent, sendError, sendLingering } from './respond-error.ts';
import { endpointLabel, routeLabel } from './routes.ts';
import { ENDPOINTS, type Endpoint } from '../sdk/types.ts';
import { traceMember } from './live-trace.ts';
import { hasGrant, principalKey } from '../sdk/state-keys.ts';

type Route = 'policy' | 'v1';

/** Metric child keys of one route and endpoint (`route\0endpoint\0…` in label order). */
interface RouteKeys {
  readonly inflight: string;
  readonly stream: readonly [string, string];
  readonly status: string[];
  /** `\0endpoint\0` for the keys that start with the policy id. */
  readonly mid: string;
}

/**
 * Metric child keys built once and reused: a reused string keeps its hash, so the children Map lookup does no
 * concatenation or hashing per request.
 */
const ROUTE_KEYS: Record<Route, Record<Endpoint, RouteKeys>> = {
  policy: keysOf('policy'),
  v1: keysOf('v1'),
};

function keysOf(route: Route): Record<Endpoint, RouteKeys> {
  const out = {} as Record<Endpoint, RouteKeys>;
  for (const e of ENDPOINTS) {
    out[e] = { inflight: `${route}\0${e}`, stream: [`${route}\0${e}\0false`, `${route}\0${e}\0true`], status: [], mid: `\0${e}\0` };
  }
  return out;
}

/** The `inflight_requests` child key of a route and endpoint. */
export function inflightKey(route: Route, endpoint: Endpoint): string {
  return ROUTE_KEYS[route][endpoint].inflight;
}

/** The `requests_total` child key of a request that ended outside a chain, from its route name (`v1/embeddings`, `unknown`). */
export function unchainedKey(name: string, status: number): string {
  return `${routeLabel(name)}\0${endpointLabel(name)}\0${status}`;
}
/** Per upstream: its metric child keys for stream false/true (see ROUTE_KEYS). */
const UPSTREAM_KEYS = new WeakMap<Upstream, readonly [string, string]>();

function upstreamKeys(u: Upstream): readonly [string, string] {
  let k = UPSTREAM_KEYS.get(u);
  if (k === undefined) UPSTREAM_KEYS.set(u, (k = [`${u.name}\0false`, `${u.name}\0true`]));
  return k;
}

/**
 * Answers an error for a request that never reached a policy chain, and records it when the response closes.
 * `linger`: the client may still be sending its body — see sendLingering.
 */
export function endUnchained(edge: Edge, req: http.IncomingMessage, res: http.ServerResponse, reqId: string, route: string, start: number,
  err: GatewayError, extra?: Record<string, string>, ctx?: RequestCtx, linger = false): void {
  if (!req.readableEnded) req.resume();
  edge.inflight++;
  res.once('close', () => {
    const durationMs = performance.now() - start;
    edge.metrics.requests.byKey(unchainedKey(route, err.status)).inc();
    edge.log.info({ reqId, route, status: err.status, code: err.code, durationMs: Math.round(durationMs * 1000) / 1000 }, 'request rejected');
    edge.o.onUnchainedEnd?.({ ctx, reqId, route, status: err.status, error: err, durationMs, revision: edge.o.policies.current?.revision });
    edge.done();
  });
  if (linger && !req.readableEnded) sendLingering(req, res, err, reqId);
  else sendError(res, err, reqId, extra, edge.shuttingDown);
}

/** Ends a chained request with an error (before or during the answer); the upstream call, if any, is dropped. */
export function failFlight(edge: Edge, res: http.ServerResponse, f: Flight, err: GatewayError): void {
  if (f.error === undefined) f.error = err;
  if (err.status >= 500 && err.expose === false) {
    const cause = err.cause instanceof Error ? { message: err.cause.message, stack: err.cause.stack } : undefined;
    f.ctx.log.error({ code: err.code, cause }, 'request failed');
  }
  if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
  if (f.upstreamBody && !f.upstreamBody.destroyed) f.upstreamBody.destroy();
  f.call?.destroy();
  if (res.destroyed || res.writableEnded) return;
  const extra: Record<string, string> = {};
  for (const k in f.ctx.responseHeaders) extra[k] = f.ctx.responseHeaders[k]!;
  // The first error wins: destroying the upstream call above can report its own error (synchronously, through the
  // proxy's error handler) — a consequence of this failure, not its cause.
  if (res.headersSent && f.stream && f.ctx.endpoint === 'responses') {
    if (!res.writableEnded) res.end(responsesErrorEvent(f.error, f.events++));
    return;
  }
  // A live trace rides on the error too, but only for a key allowed it (auth rejections, 401/403, never carry one).
  const trace = f.ctx.trace !== undefined && hasGrant(f.ctx.get(principalKey), 'debug') ? traceMember(f.ctx) : '';
  sendError(res, f.error, f.ctx.id, extra, edge.shuttingDown, trace);
}

/** Runs exactly once per chained request when the response is done or the client went away. */
export function completeFlight(edge: Edge, f: Flight, res: http.ServerResponse): void {
  if (f.ended) return;
  f.ended = true;
  edge.close(f);
  const ctx = f.ctx;
  const end = performance.now();
  ctx.timings.end = end;
  const aborted = !res.writableFinished;
  if (aborted) {
    f.abort(new Error('client closed the connection'));
    if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
  }
  const status = aborted && !res.headersSent ? 0 : res.statusCode;
  const t = ctx.timings;
  const m = edge.metrics;
  const route = ctx.route;
  const s = f.stream ? 1 : 0;
  const total = (end - t.start) / 1000;
  const keys = ROUTE_KEYS[route][ctx.endpoint];
  m.requests.byKey(keys.status[status] ??= `${keys.inflight}\0${status}`).inc();
  m.requestSeconds.byKey(keys.stream[s]).observe(total);
  const pre = f.upstreamCalled && t.upstreamStart ? t.upstreamStart - t.start : end - t.start;
  m.overheadSeconds.byKey(keys.stream[s]).observe((pre + (f.upstreamCalled ? f.postMs : 0)) / 1000);
  if (f.upstreamCalled && t.upstreamFirstByte) {
    const uk = upstreamKeys(f.upstream);
    m.upstreamTtfbSeconds.byKey(uk[s]).observe((t.upstreamFirstByte - t.upstreamStart) / 1000);
    if (t.upstreamEnd) m.upstreamSeconds.byKey(uk[s]).observe((t.upstreamEnd - t.upstreamStart) / 1000);
  }
  m.inflight.byKey(keys.inflight).dec();
  const v = ctx.sealVerdict(); // sealed already, unless the client left while request hooks were still running
  const pid = ctx.meta.policyId;
  const decided = f.error === undefined || f.synthesized;
  if (decided) {
    m.decisions.byKey(`${pid}${keys.mid}${v.decision}\0${v.effectiveDecision}\0${v.reasonCode}\0${v.rolloutMode}`).inc();
  }
  if (ctx.usage) {
    const p = ctx.meta.project;
    const project = p === null ? 'none' : edge.o.metricProjects?.has(p) ? p : 'other';
    m.tokens.byKey(`${pid}${keys.mid}${project}\0prompt`).inc(ctx.usage.prompt_tokens || 0);
    m.tokens.byKey(`${pid}${keys.mid}${project}\0completion`).inc(ctx.usage.completion_tokens || 0);
  }
  const log = edge.log;
  if (log.isLevelEnabled('info')) {
    log.info({
      reqId: ctx.id, route, endpoint: ctx.endpoint, policy_id: pid, status, decision: decided ? v.decision : 'reject', effective_decision: decided ? v.effectiveDecision : 'reject',
      code: f.error?.code, aborted, stream: f.stream, durationMs: Math.round((end - t.start) * 1000) / 1000,
    }, aborted ? 'request aborted' : 'request completed');
  }
  const outcome: Outcome = { status, error: f.error, upstreamCalled: f.upstreamCalled, aborted, synthesized: f.synthesized };
  const done = edge.runner.runComplete(f.policy.chain, outcome, ctx);
  if (done === undefined) edge.done();
  else void done.finally(() => edge.done());
}
