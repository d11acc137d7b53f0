// Non-streaming answers: the upstream's answer (a chat or text completion, a Response, an embeddings list) read whole
// (bounded), passed through the plugins' response hooks and sent with the policy block; the upstream's own 3xx/4xx
// errors passed through as they are.
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { runResponsePhase } from '../chain/run-policy.ts';
import { policyBlock } from '../chain/verdict.ts';
import { jsonNestsDeeper } from '../json-depth.ts';
import type { ApiAnswer, Endpoint } from '../sdk/types.ts';
import { usageOf } from '../chain/usage.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';
import { policyHeaders } from './local-answer.ts';
import { failFlight } from './request-end.ts';
import { JSON_TYPE } from './respond-error.ts';
import { traceMember, traceObject } from './live-trace.ts';

/** What an answer of each endpoint must have to be one (else the upstream's answer is broken: 502). */
const ANSWER_SHAPE: Readonly<Record<Endpoint, { readonly field: string; readonly what: string }>> = {
  chat: { field: 'choices', what: 'a chat completion' },
  completions: { field: 'choices', what: 'a text completion' },
  responses: { field: 'output', what: 'a Response' },
  embeddings: { field: 'data', what: 'an embeddings list' },
};

/**
 * Reads a non-streaming upstream answer (bounded by --upstream-body-limit), runs the plugins' onResponse hooks on it
 * and sends it with the policy block: spliced into the upstream's own bytes when no hook changed the answer,
 * re-serialised otherwise.
 */
export function respondJson(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight): void {
  const ctx = f.ctx;
  readUpstreamBody(edge, proxyRes, res, f, (raw) => {
    const t = performance.now();
    ctx.timings.upstreamEnd = t;
    let body: ApiAnswer;
    try {
      if (jsonNestsDeeper(raw, edge.maxDepth)) throw new Error(`JSON nested deeper than ${edge.maxDepth} levels`);
      body = JSON.parse(raw.toString('utf8'));
      const shape = ANSWER_SHAPE[ctx.endpoint];
      if (body === null || typeof body !== 'object' || !Array.isArray((body as Record<string, unknown>)[shape.field])) throw new Error(`not ${shape.what}`);
    } catch (e) {
      edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
      return failFlight(edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: e }));
    }
    if (body.usage) ctx.usage = usageOf(ctx.endpoint, body.usage);
    const chain = f.policy.chain;
    try {
      runResponsePhase(edge.runner, f.policy, ctx, body);
    } catch (e) {
      return failFlight(edge, res, f, toGatewayError(e));
    }
    let out: Buffer;
    const rw = chain.responseRewrites;
    try {
      if (chain.onResponse.length === 0 || rw === 'never' || (rw === 'marked' && !ctx.responseChanged)) {
        // Nothing changed the answer: splice the policy block into the upstream's bytes instead of re-serialising.
        let end = raw.length - 1;
        while (end > 0 && raw[end] !== 0x7d) end--;
        out = Buffer.concat([raw.subarray(0, end), Buffer.from(`,"policy":${JSON.stringify(policyBlock(ctx))}${traceMember(ctx)}}`)]);
      } else {
        body.policy = policyBlock(ctx);
        if (ctx.trace !== undefined) (body as Record<string, unknown>).policy_gateway = traceObject(ctx);
        out = Buffer.from(JSON.stringify(body));
      }
    } catch (e) {
      return failFlight(edge, res, f, toGatewayError(e));
    }
    if (res.destroyed) return;
    res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': out.length }));
    res.end(out);
    f.postMs += performance.now() - t;
  });
}

/** Collects an upstream body, decoded, up to --upstream-body-limit (past it: 502, see tooLargeUpstream), then calls `onEnd`. */
function readUpstreamBody(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight, onEnd: (raw: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  proxyRes.on('data', (c: Buffer) => {
    if (size < 0) return;
    size += c.length;
    if (size > edge.upstreamLimit) { size = -1; chunks.length = 0; tooLargeUpstream(edge, res, f); return; }
    chunks.push(c);
  });
  proxyRes.on('end', () => {
    if (size >= 0) onEnd(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
}

/** An upstream answer (decoded) past --upstream-body-limit: 502, the upstream call dropped. */
export function tooLargeUpstream(edge: Edge, res: http.ServerResponse, f: Flight): void {
  edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
  failFlight(edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`upstream answer larger than ${edge.upstreamLimit} bytes (--upstream-body-limit)`) }));
}

/** Upstream 3xx/4xx or a non-JSON 2xx: pass the upstream's own error through (it is already OpenAI-shaped). */
export function passUpstreamError(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight, status: number, ct: string): void {
  readUpstreamBody(edge, proxyRes, res, f, (body) => {
    f.ctx.timings.upstreamEnd = performance.now();
    if (status < 300) {
      edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
      return failFlight(edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`content-type ${ct}`) }));
    }
    if (res.destroyed) return;
    const headers: Record<string, string | number> = { 'content-type': ct || JSON_TYPE, 'content-length': body.length };
    const ra = proxyRes.headers['retry-after'];
    if (typeof ra === 'string') headers['retry-after'] = ra;
    f.error = new GatewayError({ ...E.GW_ERR_UPSTREAM_REJECTED, status }, [status]);
    res.writeHead(status, policyHeaders(f.ctx, headers));
    res.end(body);
  });
}
