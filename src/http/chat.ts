// The chat completions route: the body read and validated, the policy resolved from the serving rule-set snapshot,
// the request context built, the policy's request hooks run, then a local answer, an error, or the upstream call.
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { RequestCtx } from '../chain/request-context.ts';
import { runRequestPhase } from '../chain/run-policy.ts';
import type { CompiledPolicy, CompiledPolicySet } from '../policy/types.ts';
import type { RequestAction } from '../sdk/plugin.ts';
import type { Edge } from './edge.ts';
import { Flight, FLIGHT, type Req } from './flight.ts';
import { answerLocally } from './local-answer.ts';
import { parseChatRequest } from './parse-request.ts';
import { readBody } from './read-body.ts';
import { spliceBody } from './request-bytes.ts';
import { completeFlight, endUnchained, failFlight } from './request-end.ts';
import type { UpstreamProxy } from './upstream.ts';

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

/** Handles `POST /policy/chat/completions` and `POST /v1/chat/completions`. */
export function handleChat(edge: Edge, proxy: UpstreamProxy, req: Req, res: http.ServerResponse, route: Route, reqId: string, start: number, startedAt: number): void {
  if (edge.shuttingDown) return endUnchained(edge, req, res, reqId, route, start, new GatewayError(E.GW_ERR_SHUTTING_DOWN));
  readBody(edge, req, res, route, reqId, start, (body) => afterBody(edge, proxy, req, res, route, reqId, start, startedAt, body));
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

function afterBody(edge: Edge, proxy: UpstreamProxy, req: Req, res: http.ServerResponse, route: Route, reqId: string, start: number, startedAt: number, body: Buffer): void {
  let ctx: RequestCtx;
  let policy: CompiledPolicy;
  let revision = '';
  try {
    const parsed = parseChatRequest(body, req.headers, edge.maxDepth);
    const set = edge.o.policies.current;
    policy = resolvePolicy(edge, route, parsed.policyId, parsed.policyIdFrom, set);
    revision = set!.revision;
    const request = parsed.request;
    const stream = request.stream === true;
    const clientWantsUsage = stream && request.stream_options?.include_usage === true;
    // Streams always ask the upstream for usage (quotas, metrics): added to the client's bytes when it sent no
    // stream_options; when it sent some without include_usage, only a re-serialised body can carry the change.
    const hadOptions = request.stream_options !== undefined;
    const raw: Buffer | undefined = parsed.duplicateKeys || (stream && hadOptions && !clientWantsUsage) ? undefined : body;
    if (stream) request.stream_options = { ...request.stream_options, include_usage: true };
    ctx = new RequestCtx({
      id: reqId, rootLog: edge.log, now: edge.now, services: edge.o.services, route,
      policy: policyInfo(policy, revision),
      meta: { policyId: policy.id, user: parsed.user, project: parsed.project, target: parsed.target },
      headers: req.headers, request, clientWantsUsage,
      timings: { startedAt, start, upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
    });
    req[FLIGHT] = new Flight(ctx, policy, stream, raw, parsed.scan);
    if (stream && !hadOptions) req[FLIGHT].addedMember = STREAM_USAGE;
  } catch (e) {
    return endUnchained(edge, req, res, reqId, route, start, toGatewayError(e));
  }
  const flight = req[FLIGHT]!;
  flight.res = res;
  edge.open(flight);
  edge.inflight++;
  edge.metrics.inflight.byKey(route).inc();
  res.once('close', () => completeFlight(edge, flight, res));
  const action = runRequestPhase(edge.runner, policy, ctx);
  if (action instanceof Promise) {
    action.then((a) => afterRequestHooks(edge, proxy, req, res, flight, a), (e: unknown) => failFlight(edge, res, flight, toGatewayError(e)));
  } else {
    afterRequestHooks(edge, proxy, req, res, flight, action);
  }
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
