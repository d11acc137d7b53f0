// Streaming answers of the Responses API: named SSE events through the plugins' chunk hooks (with the events they
// insert), re-encoded only when changed, numbered as written, the policy block on the terminal event; no `[DONE]`.
// Batched per network chunk; backpressure follows the client.
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { policyBlock } from '../chain/verdict.ts';
import type { SseEvent } from '../chain/sse.ts';
import { usageOf } from '../chain/usage.ts';
import type { ResponseStreamEvent } from '../sdk/types.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';
import { policyHeaders, sseEvent } from './local-answer.ts';
import { responsesErrorEvent } from './respond-error.ts';
import { traceObject } from './live-trace.ts';
import { checkEventDepth, dropUpstream, readUpstreamSse } from './upstream-sse.ts';

/** What an upstream event without data (a comment, a keep-alive) is passed on as. */
const KEEP_ALIVE = ': keep-alive\n\n';

/** True when `raw` is exactly `event: <type>\ndata: <data>` (checked without building the string). */
function isCanonical(raw: string, type: string, data: string): boolean {
  const t = type.length;
  return raw.length === 14 + t + data.length && raw.startsWith('event: ') && raw.startsWith(type, 7)
    && raw.charCodeAt(7 + t) === 10 && raw.startsWith('data: ', 8 + t);
}

/** The events that end a Response stream, each carrying the whole Response (its `usage` included). */
const TERMINAL: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Passes an upstream Responses stream on event by event: each event through the plugins' onChunk hooks (the redactor
 * may insert events before it, `ctx.emitBefore`), re-encoded only when changed. The gateway numbers what it writes:
 * an event whose `sequence_number` is not its position in the stream written (because events were inserted or
 * dropped) gets its position. The terminal event carries the policy block twice — on the event and on its `response`
 * (what the SDKs' `finalResponse()` returns) — and ends the answer; its `usage` settles the quota. An upstream `error`
 * event is passed on as the last event (GW_ERR_UPSTREAM_INTERRUPTED is recorded); a stream that ends without either is
 * an upstream failure, ended with the gateway's own `error` event.
 */
export function respondResponseEvents(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight): void {
  const ctx = f.ctx;
  const chain = f.policy.chain;
  res.writeHead(200, policyHeaders(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' }));
  res.flushHeaders();
  let finished = false;
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
    // An event without data (a comment, a keep-alive) keeps the connection alive as a fixed comment: its text is not
    // passed on unread.
    if (data === null) { out += KEEP_ALIVE; return; }
    if (data === '[DONE]') return; // not part of the Responses protocol: a server that adds it ends with it
    checkEventDepth(edge, f, data);
    // Every Responses event is a JSON object with a type: anything else is dropped, never passed on unread (the
    // redactor could not see its text).
    let e: ResponseStreamEvent;
    try {
      e = JSON.parse(data);
    } catch {
      return;
    }
    if (e === null || typeof e !== 'object' || typeof e.type !== 'string') return;
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
      if (ctx.trace !== undefined) e.policy_gateway = traceObject(ctx);
      modified = true;
      finished = true;
      ctx.timings.upstreamEnd = performance.now();
    } else if (e.type === 'error') {
      // The upstream ended the stream with an error of its own: passed on as the last event, nothing after it.
      finished = true;
      ctx.timings.upstreamEnd = performance.now();
      edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'interrupted' });
      f.error = new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: new Error('the upstream ended the Responses stream with an error event') });
    }
    if (typeof e.sequence_number === 'number' && e.sequence_number !== f.events) { e.sequence_number = f.events; modified = true; }
    f.events++;
    // Unchanged events go out as the upstream wrote them when that is the canonical `event: <type>` + one `data:` line;
    // otherwise (no event name, a stray field, a multi-line data) they are written canonically from their data.
    out += modified ? sseEvent(e.type, JSON.stringify(e)) : isCanonical(ev.raw, e.type, data) ? `${ev.raw}\n\n` : sseEvent(e.type, data);
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
    dropUpstream(f, proxyRes);
  };
  readUpstreamSse(edge, f, proxyRes, res, onEvent, {
    finished: () => finished,
    flush,
    fail: failMidStream,
    ended: () => {
      if (!finished) {
        // The body ended before a terminal or error event: an upstream failure like a reset, not an answer.
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'interrupted' });
        ctx.timings.upstreamEnd = performance.now();
        failMidStream(new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: new Error('Responses stream ended without a terminal event') }));
      } else flush();
    },
  });
}
