// The OpenAI endpoints' route (chat completions, Responses, embeddings, legacy completions): the body read and
// validated for its endpoint, the policy resolved from the serving rule-set snapshot, the request context built, the
// policy's request hooks run, then a local answer, an error, or the upstream call.
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { RequestCtx } from '../chain/request-context.ts';
import { runRequestPhase } from '../chain/run-policy.ts';
import type { CompiledPolicy, CompiledPolicySet } from '../policy/types.ts';
import type { RequestAction } from '../sdk/plugin.ts';
import type { Edge } from './edge.ts';
import { Flight, FLIGHT, type Req } from './flight.ts';
import { answerLocally } from './local-answer.ts';
import { parseApiRequest } from './parse-request.ts';
import { readBody } from './read-body.ts';
import { spliceBody } from './request-bytes.ts';
import { completeFlight, endUnchained, failFlight, inflightKey } from './request-end.ts';
import { apiRouteName } from './routes.ts';
import type { UpstreamProxy } from './upstream.ts';
import { ENDPOINT_PATHS, type Endpoint } from '../sdk/types.ts';
import { liveTraceFor } from './live-trace.ts';

type Route = 'policy' | 'v1';
/** The member a stream's bytes get when the client sent no stream_options (the gateway always asks for usage). */
const STREAM_USAGE = Buffer.from('"stream_options":{"include_usage":true}');
type PolicyInfo = { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
const POLICY_INFO = new WeakMap<CompiledPolicy, PolicyInfo>();

/** `ctx.policy` for a policy and rule-set revision: one frozen object per policy, not one per request. */
function policyInfo(p: CompiledPolicy, revision: string): PolicyInfo {
  let info = POLICY_INFO.get(p);
  if (info === undefined || info.revision !== revision) {
    info = Object.freeze({ id: p.id, file: p.file, line: p.line, revision });
    POLICY_INFO.set(p, info);
  }
  return info;
}

/** Handles `POST /policy/<endpoint>` and `POST /v1/<endpoint>` (chat/completions, responses, embeddings, completions). */
export function handleApiRequest(edge: Edge, proxy: UpstreamProxy, req: Req, res: http.ServerResponse, route: Route, endpoint: Endpoint,
  reqId: string, start: number, startedAt: number): void {
  const name = apiRouteName(route, endpoint);
  if (edge.shuttingDown) return endUnchained(edge, req, res, reqId, name, start, new GatewayError(E.GW_ERR_SHUTTING_DOWN));
  readBody(edge, req, res, name, reqId, start, (body) => afterBody(edge, proxy, req, res, route, endpoint, reqId, start, startedAt, body));
}

/** The policy a request names (or the default one on /v1); throws the GatewayError that answers it otherwise. */
function resolvePolicy(edge: Edge, route: Route, policyId: string | null, from: 'body' | 'header' | null, set: CompiledPolicySet | undefined): CompiledPolicy {
  if (!set) throw new GatewayError(E.GW_ERR_SHUTTING_DOWN);
  let id = policyId;
  if (route === 'policy') {
    if (from !== 'body') throw new GatewayError(E.GW_ERR_POLICY_ID_MISSING, [''], { param: 'policy_id' });
  } else {
    id ??= edge.o.defaultPolicy ?? set.defaultPolicyId;
    if (id === null || id === undefined) throw new GatewayError(E.GW_ERR_POLICY_ID_MISSING, [', send the X-Policy-Id header, or mark a policy `default`'], { param: 'policy_id' });
  }
  const p = set.policies.get(id!);
  if (!p) throw new GatewayError(E.GW_ERR_POLICY_NOT_FOUND, [id!], { param: 'policy_id' });
  return p;
}

function afterBody(edge: Edge, proxy: UpstreamProxy, req: Req, res: http.ServerResponse, route: Route, endpoint: Endpoint, reqId: string,
  start: number, startedAt: number, body: Buffer): void {
  let ctx: RequestCtx;
  let policy: CompiledPolicy;
  let revision = '';
  try {
    const parsed = parseApiRequest(endpoint, body, req.headers, edge.maxDepth);
    const set = edge.o.policies.current;
    policy = resolvePolicy(edge, route, parsed.policyId, parsed.policyIdFrom, set);
    revision = set!.revision;
    const request = parsed.request;
    // Embeddings never stream. Chat and legacy completions streams are asked for their usage (quota settles from it,
    // the tokens metric counts it); a Responses stream reports it on its terminal event anyway.
    const stream = endpoint !== 'embeddings' && request.stream === true;
    const so = request.stream_options as { include_usage?: boolean } | null | undefined;
    const clientWantsUsage = stream && so?.include_usage === true;
    const askUsage = stream && endpoint !== 'responses' && !clientWantsUsage;
    if (askUsage) request.stream_options = { ...so, include_usage: true };
    // The upstream gets the client's own bytes (policy_* members spliced out) unless they repeat a key, or the usage
    // request must be written into stream_options the client sent (only a re-serialised body can carry that); when
    // the client sent no stream_options, the member is added to its bytes.
    const raw: Buffer | undefined = parsed.duplicateKeys || (askUsage && so !== undefined) ? undefined : body;
    ctx = new RequestCtx({
      id: reqId, rootLog: edge.log, now: edge.now, services: edge.o.services, route, endpoint,
      policy: policyInfo(policy, revision),
      meta: { policyId: policy.id, user: parsed.user, project: parsed.project, target: parsed.target },
      headers: req.headers, request, clientWantsUsage, trace: liveTraceFor(req.headers),
      timings: { startedAt, start, upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
    });
    req[FLIGHT] = new Flight(ctx, policy, stream, raw, parsed.scan);
    if (askUsage && so === undefined) req[FLIGHT].addedMember = STREAM_USAGE;
  } catch (e) {
    return endUnchained(edge, req, res, reqId, apiRouteName(route, endpoint), start, toGatewayError(e));
  }
  const flight = req[FLIGHT]!;
  flight.res = res;
  edge.open(flight);
  edge.inflight++;
  edge.metrics.inflight.byKey(inflightKey(route, endpoint)).inc();
  res.once('close', () => completeFlight(edge, flight, res));
  const refused = checkEndpoint(policy, flight);
  if (refused !== undefined) return failFlight(edge, res, flight, refused);
  // An open policy never hands out traces (with an auth block, auth checks the key's `debug` grant).
  if (ctx.trace !== undefined && !policy.plugins.some((p) => p.name === 'auth')) {
    return failFlight(edge, res, flight, new GatewayError(E.GW_ERR_TRACE_FORBIDDEN, [`policy "${policy.id}" has no auth block`]));
  }
  const action = runRequestPhase(edge.runner, policy, ctx);
  if (action instanceof Promise) {
    action.then((a) => afterRequestHooks(edge, proxy, req, res, flight, a), (e: unknown) => failFlight(edge, res, flight, toGatewayError(e)));
  } else {
    afterRequestHooks(edge, proxy, req, res, flight, action);
  }
}

/** What of a Responses request relies on state the upstream keeps (a `stateless` policy refuses it), or undefined. */
function statefulPart(r: Record<string, unknown>): { readonly what: string; readonly param: string } | undefined {
  if (typeof r.previous_response_id === 'string' && r.previous_response_id !== '') return { what: '"previous_response_id"', param: 'previous_response_id' };
  if (r.conversation !== undefined && r.conversation !== null) return { what: '"conversation"', param: 'conversation' };
  if (r.background === true) return { what: '"background": true', param: 'background' };
  if (r.prompt !== null && typeof r.prompt === 'object') return { what: 'a stored "prompt" template', param: 'prompt' };
  if (Array.isArray(r.input)) {
    const i = (r.input as unknown[]).findIndex((it) => it !== null && typeof it === 'object' && (it as { type?: unknown }).type === 'item_reference');
    if (i >= 0) return { what: `an item_reference input item (input[${i}])`, param: `input[${i}]` };
  }
  return undefined;
}

/**
 * The policy's own limits on the request before any hook runs: an endpoint its `routes` setting leaves out (404), and
 * for a `stateless` policy a Responses request that relies on state the upstream keeps (400); a stateless policy's
 * Responses requests go upstream with `store: false`. Returns the error that answers the request, or undefined.
 */
function checkEndpoint(policy: CompiledPolicy, f: Flight): GatewayError | undefined {
  const ctx = f.ctx;
  const endpoint = ctx.endpoint;
  if (!policy.endpoints.includes(endpoint)) {
    return new GatewayError(E.GW_ERR_ENDPOINT_NOT_SERVED, [policy.id, `/${ctx.route}${ENDPOINT_PATHS[endpoint]}`, policy.endpoints.join(', ')]);
  }
  if (policy.stateless && endpoint === 'responses') {
    const r = ctx.request as Record<string, unknown>;
    const part = statefulPart(r);
    if (part !== undefined) return new GatewayError(E.GW_ERR_STATEFUL_REQUEST, [policy.id, part.what], { param: part.param });
    if (r.store !== false) {
      r.store = false;
      f.rawBody = undefined; // changed: re-serialised on the way upstream
    }
  }
  return undefined;
}

function afterRequestHooks(edge: Edge, proxy: UpstreamProxy, req: Req, res: http.ServerResponse, f: Flight, action: RequestAction): void {
  try {
    if (res.destroyed) return;
    if (action) {
      if (action.kind === 'reject') return failFlight(edge, res, f, action.error);
      f.synthesized = true;
      return answerLocally(res, f, action.content);
    }
    const ctx = f.ctx;
    // The upstream gets what the policy saw. When every request hook declared what it does with the body and none
    // changed it, that is the client's own bytes with the policy_* members spliced out (no re-serialising); otherwise
    // — or when the body repeats a key, which parsers resolve differently — the request as parsed, re-serialised.
    const use = f.policy.chain.requestUse;
    const payload = f.rawBody !== undefined && (use === 'untouched' || (use === 'marked' && !ctx.requestChanged))
      ? spliceBody(f.rawBody, f.scan!, f.addedMember) : Buffer.from(JSON.stringify(ctx.request));
    proxy.forward(req, res, f, payload);
  } catch (e) {
    // NOTE: nothing here is expected to throw (bodies are depth-checked before parsing); if something does, this one
    // request fails with a 500 and the process keeps serving.
    failFlight(edge, res, f, toGatewayError(e));
  }
}
