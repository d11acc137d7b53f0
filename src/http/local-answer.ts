// Answers the gateway writes itself, without calling upstream: a policy's refusal or escalation holding message,
// as a chat completion or as a stream; and the headers every policy answer carries.
import type http from 'node:http';
import type { RequestCtx } from '../chain/request-context.ts';
import { policyBlock } from '../chain/verdict.ts';
import { SSE_DONE, sseData } from '../chain/sse.ts';
import type { Flight } from './flight.ts';
import { JSON_TYPE } from './respond-error.ts';

/** Response headers every policy answer carries (request id, decision, reason code, the plugins' extra headers). */
export function policyHeaders(ctx: RequestCtx, base: Record<string, string | number>): Record<string, string | number> {
  base['x-request-id'] = ctx.id;
  base['x-policy-decision'] = ctx.verdict.decision;
  base['x-policy-effective-decision'] = ctx.verdict.effectiveDecision;
  base['x-policy-reason-code'] = ctx.verdict.reasonCode;
  for (const k in ctx.responseHeaders) base[k] = ctx.responseHeaders[k]!;
  return base;
}

/** Answers locally (refusal, escalation holding message) without calling upstream. */
export function answerLocally(res: http.ServerResponse, f: Flight, content: string): void {
  const ctx = f.ctx;
  const id = `chatcmpl-${ctx.id}`;
  const created = Math.floor(ctx.timings.startedAt / 1000);
  const model = ctx.request.model;
  const policy = policyBlock(ctx);
  if (f.stream) {
    res.writeHead(200, policyHeaders(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }));
    const base = { id, object: 'chat.completion.chunk', created, model };
    let out = sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
    out += sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] }));
    out += sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    if (ctx.clientWantsUsage) out += sseData(JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }));
    out += sseData(JSON.stringify({ ...base, choices: [], policy }));
    res.end(out + SSE_DONE);
    return;
  }
  const body = JSON.stringify({
    id, object: 'chat.completion', created, model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    policy,
  });
  res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
  res.end(body);
}
