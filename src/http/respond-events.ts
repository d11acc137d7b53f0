// Streaming answers of the Responses API: named SSE events through the plugins' chunk hooks (with the events they
// insert), re-encoded only when changed, numbered as written, the policy block on the terminal event; no `[DONE]`.
// Batched per network chunk; backpressure follows the client.
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { policyBlock } from '../chain/verdict.ts';
import { SseDecoder, type SseEvent } from '../chain/sse.ts';
import { usageOf } from '../chain/usage.ts';
import { jsonTextNestsDeeper } from '../json-depth.ts';
import type { ResponseStreamEvent } from '../sdk/types.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';
import { policyHeaders, sseEvent } from './local-answer.ts';
import { responsesErrorEvent } from './respond-error.ts';

/** The events that end a Response stream, each carrying the whole Response (its `usage` included). */
const TERMINAL: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Passes an upstream Responses stream on event by event: each event through the plugins' onChunk hooks (the redactor
 * may insert events before it, `ctx.emitBefore`), re-encoded only when changed. The gateway numbers what it writes:
 * an event whose `sequence_number` is not its position in the stream written (because events were inserted or
 * dropped) gets its position. The terminal event carries the policy block twice — on the event and on its `response`
 * (what the SDKs' `finalResponse()` returns) — and ends the answer; its `usage` settles the quota. A stream that ends
 * without a terminal event is an upstream failure: an `error` event ends it, unless the upstream ended it with its own.
 */
export function respondResponseEvents(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight): void {
  const ctx = f.ctx;
  const chain = f.policy.chain;
  res.writeHead(200, policyHeaders(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' }));
  res.flushHeaders();
  let finished = false;
  /** The upstream passed on an `error` event of its own. */
  let upstreamError = false;
  // Output of one network chunk is batched into one write (one HTTP chunk, one syscall).
  let out = '';
  const writeInserted = (): void => {
    const inserted = ctx.takeEmitted() as ResponseStreamEvent[] | undefined;
    if (inserted === undefined) return;
    for (const e of inserted) {
      e.sequence_number = f.events++;
      out += sseEvent(e.type, JSON.stringify(e));
    }
  };
  const onEvent = (ev: SseEvent): void => {
    if (finished) return;
    const data = ev.data;
    if (data === null) { out += `${ev.raw}\n\n`; return; }
    if (data === '[DONE]') return; // not part of the Responses protocol: a server that adds it ends with it
    if (jsonTextNestsDeeper(data, edge.maxDepth)) {
      edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
      throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE event nested deeper than ${edge.maxDepth} levels`) });
    }
    let e: ResponseStreamEvent;
    try {
      e = JSON.parse(data);
    } catch {
      out += `${ev.raw}\n\n`;
      return;
    }
    if (e === null || typeof e !== 'object' || typeof e.type !== 'string') { out += `${ev.raw}\n\n`; return; }
    const terminal = TERMINAL.has(e.type);
    const response = e.response !== null && typeof e.response === 'object' ? e.response as Record<string, unknown> : undefined;
    if (terminal && response) {
      const u = usageOf('responses', response.usage);
      if (u !== undefined) ctx.usage = u;
    }
    const r = chain.onChunk.length ? edge.runner.runChunk(chain, e, ctx) : 'pass';
    writeInserted();
    if (r === 'drop') return;
    let modified = r === 'modified';
    if (terminal) {
      const policy = policyBlock(ctx);
      e.policy = policy;
      if (response) response.policy = policy;
      modified = true;
      finished = true;
      ctx.timings.upstreamEnd = performance.now();
    } else if (e.type === 'error') upstreamError = true;
    if (typeof e.sequence_number === 'number' && e.sequence_number !== f.events) { e.sequence_number = f.events; modified = true; }
    f.events++;
    out += modified ? sseEvent(e.type, JSON.stringify(e)) : `${ev.raw}\n\n`;
  };
  const flush = (): void => {
    if (res.destroyed || res.writableEnded) { out = ''; return; }
    if (finished) { res.end(out); out = ''; return; }
    if (out) { res.write(out); out = ''; }
  };
  const failMidStream = (err: unknown): void => {
    finished = true;
    f.error = toGatewayError(err);
    out += responsesErrorEvent(f.error, f.events++);
    if (!res.writableEnded) { res.end(out); out = ''; }
    proxyRes.destroy();
    f.call?.destroy(); // proxyRes may be a decoder in front of the upstream body: drop the upstream call itself too
    if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
  };
  const decoder = new SseDecoder(onEvent);
  proxyRes.on('data', (c: Buffer) => {
    if (finished || res.destroyed) return;
    const t = performance.now();
    try {
      decoder.push(c);
      if (decoder.pending > edge.upstreamLimit) {
        // One event that never ends (no blank line): bounded like any answer the gateway holds.
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE event longer than ${edge.upstreamLimit} characters (--upstream-body-limit)`) });
      }
      flush();
    } catch (e) {
      failMidStream(e);
    }
    f.postMs += performance.now() - t;
    if (!finished && res.writableNeedDrain) {
      proxyRes.pause();
      res.once('drain', () => proxyRes.resume());
    }
  });
  proxyRes.on('end', () => {
    if (finished || res.destroyed) return;
    const t = performance.now();
    try {
      decoder.end();
      if (!finished) {
        // The body ended before a terminal event: an upstream failure like a reset, not an answer. After the upstream's
        // own `error` event the client knows; otherwise it gets one.
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'interrupted' });
        ctx.timings.upstreamEnd = performance.now();
        const err = new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: new Error('Responses stream ended without a terminal event') });
        if (upstreamError) {
          finished = true;
          f.error = err;
          flush();
        } else failMidStream(err);
      } else flush();
    } catch (e) {
      failMidStream(e);
    }
    f.postMs += performance.now() - t;
  });
}
