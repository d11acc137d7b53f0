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

/** Most choices a gateway-written answer has: OpenAI's bound on `n` (a larger `n` gets this many). */
export const MAX_LOCAL_CHOICES = 128;

/** The number of choices a gateway-written answer has: the request's `n` (a whole number from 1), at most 128. */
export function localChoices(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? Math.min(n, MAX_LOCAL_CHOICES) : 1;
}

/**
 * Answers locally (refusal, escalation holding message) without calling upstream: a chat completion with the request's
 * `n` choices, each with `logprobs` and `refusal` null as the spec requires; streamed, each choice's role, content and
 * finish chunks, then the last chunk before `[DONE]` carries the policy block — the usage chunk when the client asked
 * for `stream_options.include_usage` (it must stay last), else a chunk of its own with no choices.
 */
export function answerLocally(res: http.ServerResponse, f: Flight, content: string): void {
  const ctx = f.ctx;
  const id = `chatcmpl-${ctx.id}`;
  const created = Math.floor(ctx.timings.startedAt / 1000);
  const model = ctx.request.model;
  const policy = policyBlock(ctx);
  const n = localChoices(ctx.request.n);
  if (f.stream) {
    res.writeHead(200, policyHeaders(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }));
    const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},`;
    const text = JSON.stringify(content);
    let out = '';
    for (let index = 0; index < n; index++) {
      out += sseData(`${head}"choices":[{"index":${index},"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`);
      out += sseData(`${head}"choices":[{"index":${index},"delta":{"content":${text}},"logprobs":null,"finish_reason":null}]}`);
      out += sseData(`${head}"choices":[{"index":${index},"delta":{},"logprobs":null,"finish_reason":"stop"}]}`);
    }
    const usage = ctx.clientWantsUsage ? '"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},' : '';
    out += sseData(`${head}"choices":[],${usage}"policy":${JSON.stringify(policy)}}`);
    res.end(out + SSE_DONE);
    return;
  }
  const choices = [];
  for (let index = 0; index < n; index++) {
    choices.push({ index, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' });
  }
  const body = JSON.stringify({
    id, object: 'chat.completion', created, model, choices,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    policy,
  });
  res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
  res.end(body);
}
