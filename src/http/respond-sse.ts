// Streaming answers of chat and legacy completions: the upstream's SSE events decoded, passed through the plugins' chunk
// hooks and re-encoded only when changed, with the policy block on the last data chunk. Batched per network chunk;
// backpressure follows the client. (Responses streams: respond-events.ts.)
import type http from 'node:http';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import { policyBlock } from '../chain/verdict.ts';
import { SSE_DONE, sseData, type SseEvent } from '../chain/sse.ts';
import type { ChatCompletionChunk } from '../sdk/types.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';
import { policyHeaders } from './local-answer.ts';
import { traceObject } from './live-trace.ts';
import { checkEventDepth, dropUpstream, readUpstreamSse } from './upstream-sse.ts';

/**
 * Passes an upstream SSE answer on event by event: chunks through the plugins' onChunk hooks (re-encoded only when one
 * changed it), the usage chunk kept from a client that did not ask for it, the policy block on the last data chunk
 * before `[DONE]`: the usage chunk when the client asked for `stream_options.include_usage` (held back until the end, so
 * it stays last as the spec requires, after any text the plugins release at the end), else a chunk of its own. A stream
 * that ends before every choice finished is an upstream failure, not an answer.
 */
export function respondSse(edge: Edge, proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight): void {
  const ctx = f.ctx;
  const chain = f.policy.chain;
  res.writeHead(200, policyHeaders(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' }));
  res.flushHeaders();
  let meta: { id: string; created: number; model: string } | undefined;
  let finished = false;
  /** The usage chunk a client asked for, held back to be the last chunk (carrying the policy block). */
  let usageChunk: ChatCompletionChunk | undefined;
  // Which choices started and which sent a finish_reason (bit i: choice i; choices past 31 in a Set, made if ever
  // needed): a stream that ends without [DONE] is complete only if every started choice finished.
  let started = 0;
  let done = 0;
  let startedHi: Set<number> | undefined;
  let doneHi: Set<number> | undefined;
  // Output of one network chunk is batched into one write (one HTTP chunk, one syscall).
  let out = '';
  const finish = () => {
    if (finished) return;
    finished = true;
    ctx.timings.upstreamEnd = performance.now();
    for (const extra of edge.runner.runStreamEnd(chain, ctx)) out += sseData(JSON.stringify(extra));
    if (usageChunk !== undefined) {
      usageChunk.policy = policyBlock(ctx);
      if (ctx.trace !== undefined) (usageChunk as Record<string, unknown>).policy_gateway = traceObject(ctx);
      out += sseData(JSON.stringify(usageChunk));
    } else {
      const text = ctx.endpoint === 'completions';
      const m = meta ?? { id: `${text ? 'cmpl' : 'chatcmpl'}-${ctx.id}`, created: Math.floor(ctx.timings.startedAt / 1000), model: ctx.request.model };
      out += sseData(JSON.stringify({ id: m.id, object: text ? 'text_completion' : 'chat.completion.chunk', created: m.created, model: m.model, choices: [], policy: policyBlock(ctx), policy_gateway: traceObject(ctx) }));
    }
    out += SSE_DONE;
  };
  const onEvent = (ev: SseEvent) => {
    if (finished) return;
    const data = ev.data;
    if (data === null) { out += `${ev.raw}\n\n`; return; }
    if (data === '[DONE]') { finish(); return; }
    checkEventDepth(edge, f, data);
    let chunk: ChatCompletionChunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      out += `${ev.raw}\n\n`;
      return;
    }
    if (chunk === null || typeof chunk !== 'object' || !Array.isArray(chunk.choices)) { out += `${ev.raw}\n\n`; return; }
    if (meta === undefined) meta = { id: chunk.id, created: chunk.created, model: chunk.model };
    const choices = chunk.choices;
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i];
      if (c === null || typeof c !== 'object') continue;
      const idx = typeof c.index === 'number' && c.index >= 0 ? c.index : i;
      const fin = c.finish_reason != null;
      if (idx < 31) {
        started |= 1 << idx;
        if (fin) done |= 1 << idx;
      } else {
        (startedHi ??= new Set()).add(idx);
        if (fin) (doneHi ??= new Set()).add(idx);
      }
    }
    let modified = false;
    let hold = false;
    if (chunk.usage) {
      ctx.usage = chunk.usage;
      if (!ctx.clientWantsUsage) {
        if (chunk.choices.length === 0) return;
        delete chunk.usage;
        modified = true;
      } else hold = true;
    }
    const r = chain.onChunk.length ? edge.runner.runChunk(chain, chunk, ctx) : 'pass';
    if (r === 'drop') return;
    if (hold) { usageChunk = chunk; return; }
    out += r === 'modified' || modified ? sseData(JSON.stringify(chunk)) : `${ev.raw}\n\n`;
  };
  const flush = () => {
    if (res.destroyed || res.writableEnded) { out = ''; return; }
    if (finished) { res.end(out); out = ''; return; }
    if (out) { res.write(out); out = ''; }
  };
  const failMidStream = (e: unknown) => {
    finished = true;
    f.error = toGatewayError(e);
    out += sseData(JSON.stringify(f.error.toJSON()));
    if (!res.writableEnded) { res.end(out); out = ''; }
    dropUpstream(f, proxyRes);
  };
  readUpstreamSse(edge, f, proxyRes, res, onEvent, {
    finished: () => finished,
    flush,
    fail: failMidStream,
    ended: () => {
      if (!finished && (done === 0 && doneHi === undefined || (started & ~done) !== 0 || (startedHi?.size ?? 0) > (doneHi?.size ?? 0))) {
        // The body ended without [DONE] while a choice had not finished (or none ever did): an upstream failure like
        // a reset, not an answer. Held-back text (the redactor's window) is never released: no runStreamEnd.
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'interrupted' });
        ctx.timings.upstreamEnd = performance.now();
        failMidStream(new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: new Error('SSE stream ended without [DONE] before every choice finished') }));
      } else {
        finish();
        flush();
      }
    },
  });
}
