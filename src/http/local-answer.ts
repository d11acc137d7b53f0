// Answers the gateway writes itself, without calling upstream: a refusal or escalation holding message in the shape of
// the endpoint called (chat completion, text completion, Response or its event stream; embeddings: a 403 error), and
// the headers every policy answer carries.
import type http from 'node:http';
import { E, GatewayError } from '../errors.ts';
import type { RequestCtx } from '../chain/request-context.ts';
import { policyBlock } from '../chain/verdict.ts';
import { SSE_DONE, sseData } from '../chain/sse.ts';
import type { PolicyBlock } from '../sdk/types.ts';
import type { Flight } from './flight.ts';
import { JSON_TYPE } from './respond-error.ts';
import { traceMember, traceObject } from './live-trace.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } as const;

/** Response headers every policy answer carries (request id, decision, reason code, the plugins' extra headers). */
export function policyHeaders(ctx: RequestCtx, base: Record<string, string | number>): Record<string, string | number> {
  base['x-request-id'] = ctx.id;
  base['x-policy-decision'] = ctx.verdict.decision;
  base['x-policy-effective-decision'] = ctx.verdict.effectiveDecision;
  base['x-policy-reason-code'] = ctx.verdict.reasonCode;
  for (const k in ctx.responseHeaders) base[k] = ctx.responseHeaders[k]!;
  return base;
}

/** Most choices a gateway-written chat answer has: OpenAI's bound on `n` (a larger `n` gets this many). */
export const MAX_LOCAL_CHOICES = 128;
/** Most choices a gateway-written legacy completion has (prompts × n). */
export const MAX_LOCAL_TEXT_CHOICES = 2048;

/** The number of choices a gateway-written answer has: the request's `n` (a whole number from 1), at most 128. */
export function localChoices(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? Math.min(n, MAX_LOCAL_CHOICES) : 1;
}

/**
 * Answers locally (refusal, escalation holding message) without calling upstream, in the endpoint's shape: see
 * answerChat, answerText, answerResponse; embeddings get a 403 GW_ERR_POLICY_REFUSED carrying the text and the policy
 * block (the request still counts as decided: the audit record and the decisions metric carry the policy's decision).
 */
export function answerLocally(res: http.ServerResponse, f: Flight, content: string): void {
  const ctx = f.ctx;
  const policy = policyBlock(ctx);
  switch (ctx.endpoint) {
    case 'chat': return answerChat(res, f, content, policy);
    case 'completions': return answerText(res, f, content, policy);
    case 'responses': return answerResponse(res, f, content, policy);
    case 'embeddings': {
      const err = new GatewayError(E.GW_ERR_POLICY_REFUSED, [ctx.meta.policyId, content]);
      f.error = err;
      const body = JSON.stringify({ ...err.toJSON(), policy });
      res.writeHead(err.status, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
      res.end(body);
    }
  }
}

/**
 * A chat completion with the request's `n` choices, each with `logprobs` and `refusal` null as the spec requires;
 * streamed, each choice's role, content and finish chunks, then the last chunk before `[DONE]` carries the policy
 * block — the usage chunk when the client asked for `stream_options.include_usage` (it must stay last), else a chunk of
 * its own with no choices.
 */
function answerChat(res: http.ServerResponse, f: Flight, content: string, policy: PolicyBlock): void {
  const ctx = f.ctx;
  const id = `chatcmpl-${ctx.id}`;
  const created = Math.floor(ctx.timings.startedAt / 1000);
  const model = ctx.request.model;
  const n = localChoices(ctx.request.n);
  if (f.stream) {
    res.writeHead(200, policyHeaders(ctx, { ...SSE_HEADERS }));
    const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},`;
    const text = JSON.stringify(content);
    let out = '';
    for (let index = 0; index < n; index++) {
      out += sseData(`${head}"choices":[{"index":${index},"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`);
      out += sseData(`${head}"choices":[{"index":${index},"delta":{"content":${text}},"logprobs":null,"finish_reason":null}]}`);
      out += sseData(`${head}"choices":[{"index":${index},"delta":{},"logprobs":null,"finish_reason":"stop"}]}`);
    }
    const usage = ctx.clientWantsUsage ? '"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},' : '';
    out += sseData(`${head}"choices":[],${usage}"policy":${JSON.stringify(policy)}${traceMember(ctx)}}`);
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
    policy, policy_gateway: traceObject(ctx),
  });
  res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
  res.end(body);
}

/**
 * A legacy text completion with one choice per prompt and `n` (at most 2048), each `{text, index, logprobs: null,
 * finish_reason: "stop"}`; streamed, each choice's text chunk and finish chunk, then the last chunk before `[DONE]`
 * carries the policy block (with the usage when the client asked for it), as for chat.
 */
function answerText(res: http.ServerResponse, f: Flight, content: string, policy: PolicyBlock): void {
  const ctx = f.ctx;
  const id = `cmpl-${ctx.id}`;
  const created = Math.floor(ctx.timings.startedAt / 1000);
  const model = ctx.request.model;
  const n = Math.min(Math.max(ctx.prompt.choices, 1), MAX_LOCAL_TEXT_CHOICES);
  if (f.stream) {
    res.writeHead(200, policyHeaders(ctx, { ...SSE_HEADERS }));
    const head = `{"id":${JSON.stringify(id)},"object":"text_completion","created":${created},"model":${JSON.stringify(model)},`;
    const text = JSON.stringify(content);
    let out = '';
    for (let index = 0; index < n; index++) {
      out += sseData(`${head}"choices":[{"text":${text},"index":${index},"logprobs":null,"finish_reason":null}]}`);
      out += sseData(`${head}"choices":[{"text":"","index":${index},"logprobs":null,"finish_reason":"stop"}]}`);
    }
    const usage = ctx.clientWantsUsage ? '"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},' : '';
    out += sseData(`${head}"choices":[],${usage}"policy":${JSON.stringify(policy)}${traceMember(ctx)}}`);
    res.end(out + SSE_DONE);
    return;
  }
  const choices = [];
  for (let index = 0; index < n; index++) choices.push({ text: content, index, logprobs: null, finish_reason: 'stop' });
  const body = JSON.stringify({
    id, object: 'text_completion', created, model, choices,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    policy, policy_gateway: traceObject(ctx),
  });
  res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
  res.end(body);
}

/** The Response object of a gateway-written answer: in progress (no output yet) or completed with its one message. */
function localResponse(ctx: RequestCtx, message: Record<string, unknown> | null, policy: PolicyBlock | null): Record<string, unknown> {
  const req = ctx.request as Record<string, unknown>;
  const created = Math.floor(ctx.timings.startedAt / 1000);
  const r: Record<string, unknown> = {
    id: `resp_${ctx.id}`, object: 'response', created_at: created, status: message ? 'completed' : 'in_progress',
    error: null, incomplete_details: null,
    instructions: typeof req.instructions === 'string' ? req.instructions : null,
    max_output_tokens: typeof req.max_output_tokens === 'number' ? req.max_output_tokens : null,
    model: ctx.request.model, output: message ? [message] : [],
    parallel_tool_calls: typeof req.parallel_tool_calls === 'boolean' ? req.parallel_tool_calls : true,
    previous_response_id: typeof req.previous_response_id === 'string' ? req.previous_response_id : null,
    // The gateway keeps nothing: this Response cannot be retrieved or continued with previous_response_id.
    store: false,
    temperature: typeof req.temperature === 'number' ? req.temperature : 1,
    top_p: typeof req.top_p === 'number' ? req.top_p : 1,
    tool_choice: req.tool_choice ?? 'auto',
    tools: Array.isArray(req.tools) ? req.tools : [],
    metadata: req.metadata !== null && typeof req.metadata === 'object' ? req.metadata : {},
  };
  if (message) {
    r.completed_at = created;
    r.usage = { input_tokens: 0, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
  }
  if (policy) r.policy = policy;
  return r;
}

/** One named SSE event of a Responses stream. */
export function sseEvent(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

/**
 * A Response with one assistant message holding the text as an `output_text` part (what `response.output_text` reads),
 * `usage` zeros and the policy block. Streamed, the spec's event sequence numbered from 0 — response.created,
 * response.in_progress, output_item.added, content_part.added, output_text.delta, output_text.done, content_part.done,
 * output_item.done, response.completed (the whole Response, policy block included, and the block on the event too) —
 * and no `[DONE]`: Responses streams end with their terminal event.
 */
function answerResponse(res: http.ServerResponse, f: Flight, content: string, policy: PolicyBlock): void {
  const ctx = f.ctx;
  const itemId = `msg_${ctx.id}`;
  const part = { type: 'output_text', text: content, annotations: [], logprobs: [] };
  const message = { type: 'message', id: itemId, status: 'completed', role: 'assistant', content: [part] };
  if (!f.stream) {
    const body = JSON.stringify(localResponse(ctx, message, policy));
    res.writeHead(200, policyHeaders(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
    res.end(body);
    return;
  }
  res.writeHead(200, policyHeaders(ctx, { ...SSE_HEADERS }));
  const events: Record<string, unknown>[] = [];
  const inProgress = localResponse(ctx, null, null);
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  events.push({ type: 'response.created', response: inProgress });
  events.push({ type: 'response.in_progress', response: inProgress });
  events.push({ type: 'response.output_item.added', output_index: 0, item: { ...message, status: 'in_progress', content: [] } });
  events.push({ type: 'response.content_part.added', ...at, part: { ...part, text: '' } });
  events.push({ type: 'response.output_text.delta', ...at, delta: content, logprobs: [] });
  events.push({ type: 'response.output_text.done', ...at, text: content, logprobs: [] });
  events.push({ type: 'response.content_part.done', ...at, part });
  events.push({ type: 'response.output_item.done', output_index: 0, item: message });
  events.push({ type: 'response.completed', response: localResponse(ctx, message, policy), policy });
  let out = '';
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    ev.sequence_number = i;
    out += sseEvent(ev.type as string, JSON.stringify(ev));
  }
  res.end(out);
}
