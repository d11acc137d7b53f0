// One request through one compiled policy: the request phase (request hooks, then the verdict sealed), the response
// phase on an upstream answer, and the whole run in-process without HTTP (what `test`, `explain` and `replay` build
// on). The HTTP edge drives the same phase functions.
import { randomUUID } from 'node:crypto';
import { toGatewayError, type GatewayError } from '../errors.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { GatewayServices, RequestContext, RequestMeta, Verdict } from '../sdk/context.ts';
import type { Outcome, RequestAction } from '../sdk/plugin.ts';
import type { ApiAnswer, ApiRequest, Endpoint, StreamChunk } from '../sdk/types.ts';
import { RequestCtx } from './request-context.ts';
import type { ChainRunner } from './run-chain.ts';
import { usageOf } from './usage.ts';
import { policyBlock } from './verdict.ts';

/**
 * Runs a policy's request hooks in chain order and seals the verdict when they are done. Synchronous while every hook
 * is; never rejects (a failing hook comes back as a `reject` action).
 */
export function runRequestPhase(runner: ChainRunner, policy: CompiledPolicy, ctx: RequestCtx): RequestAction | Promise<RequestAction> {
  const action = runner.runRequest(policy.chain, ctx);
  if (action instanceof Promise) return action.then((a) => { ctx.sealVerdict(); return a; });
  ctx.sealVerdict();
  return action;
}

/** Runs a policy's response hooks (reverse chain order) on a non-streaming answer. Throws a GatewayError on plugin failure. */
export function runResponsePhase(runner: ChainRunner, policy: CompiledPolicy, ctx: RequestCtx, body: ApiAnswer): void {
  if (policy.chain.onResponse.length > 0) runner.runResponse(policy.chain, body, ctx);
}

/** A request for an in-process run: the request, its metadata, and optionally the answer the upstream would give. */
export interface PolicyRunInput {
  /** The endpoint the request is for (default `chat`). */
  readonly endpoint?: Endpoint;
  /** The route it came in on: `/policy/…` or `/v1/…` (default `policy`). */
  readonly route?: 'policy' | 'v1';
  readonly request: ApiRequest;
  readonly meta?: Partial<Omit<RequestMeta, 'policyId'>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** The upstream's answer, run through the response hooks when the request would go upstream. */
  readonly answer?: ApiAnswer;
  /**
   * Or the upstream's streamed answer (chat or legacy completions chunks, in order, without `[DONE]`), run through the
   * chunk hooks and then the stream-end hooks, as the gateway runs an SSE answer.
   */
  readonly answerStream?: readonly StreamChunk[];
}

/** What an in-process run found. */
export interface PolicyRunResult {
  readonly verdict: Verdict;
  /** `forward`: the request would go upstream (as `request`); `respond`: answered by the policy; `reject`: an error. */
  readonly action: 'forward' | 'respond' | 'reject';
  /** The gateway-authored text of a `respond` action. */
  readonly content?: string;
  readonly error?: GatewayError;
  /** The request as it would go upstream (after rewrite/summary edits and request-scope redaction). */
  readonly request: ApiRequest;
  /** The answer as the client would get it (response hooks run, policy block attached), when one was given. */
  readonly answer?: ApiAnswer;
  /** The chunks as the client would get them (dropped ones left out, held text released at the end), for a stream. */
  readonly stream?: readonly StreamChunk[];
  /** The request's context after the run (the state plugins published: redactions, quota, …). */
  readonly context: RequestContext;
}

/** What an in-process run needs of a gateway. */
export interface PolicyRunEnv {
  readonly services: GatewayServices;
  readonly runner: ChainRunner;
  /** The rule-set revision to record (default: `in-process`). */
  readonly revision?: string;
  readonly now?: () => number;
}

/**
 * Runs a compiled policy's chain on one request in-process — the same hooks, in the same order, with the same context
 * constructor as a request over HTTP — and returns the verdict. Every created plugin's onComplete runs, as after an
 * HTTP request. The request and answer given are copied, never changed.
 */
export async function runPolicy(policy: CompiledPolicy, input: PolicyRunInput, env: PolicyRunEnv): Promise<PolicyRunResult> {
  const now = env.now ?? Date.now;
  const request = structuredClone(input.request);
  const ctx = new RequestCtx({
    id: `run-${randomUUID()}`, rootLog: env.services.log, now, services: env.services, route: input.route ?? 'policy', endpoint: input.endpoint ?? 'chat',
    policy: { id: policy.id, file: policy.file, line: policy.line, revision: env.revision ?? 'in-process' },
    meta: { policyId: policy.id, user: input.meta?.user ?? null, project: input.meta?.project ?? null, target: input.meta?.target ?? null },
    headers: { ...input.headers }, request, clientWantsUsage: false,
    timings: { startedAt: now(), start: performance.now(), upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
  });
  const action = await runRequestPhase(env.runner, policy, ctx);
  let result: PolicyRunResult;
  let status = 200;
  if (action?.kind === 'reject') {
    status = action.error.status;
    result = { verdict: ctx.verdict, action: 'reject', error: action.error, request: ctx.request, context: ctx };
  } else if (action?.kind === 'respond') {
    result = { verdict: ctx.verdict, action: 'respond', content: action.content, request: ctx.request, context: ctx };
  } else {
    let answer: ApiAnswer | undefined;
    let stream: StreamChunk[] | undefined;
    let error: GatewayError | undefined;
    if (input.answerStream !== undefined) {
      try {
        stream = runStream(env.runner, policy, ctx, input.answerStream);
      } catch (e) {
        error = toGatewayError(e);
        status = error.status;
      }
    } else if (input.answer !== undefined) {
      answer = structuredClone(input.answer);
      ctx.usage = usageOf(ctx.endpoint, answer.usage);
      try {
        runResponsePhase(env.runner, policy, ctx, answer);
        answer.policy = policyBlock(ctx);
      } catch (e) {
        error = toGatewayError(e);
        status = error.status;
        answer = undefined;
      }
    }
    result = error ? { verdict: ctx.verdict, action: 'reject', error, request: ctx.request, context: ctx }
      : { verdict: ctx.verdict, action: 'forward', request: ctx.request, answer, stream, context: ctx };
  }
  ctx.timings.end = performance.now();
  const outcome: Outcome = {
    status, error: result.error, upstreamCalled: result.action === 'forward' && (input.answer !== undefined || input.answerStream !== undefined), aborted: false, synthesized: result.action === 'respond',
  };
  await env.runner.runComplete(policy.chain, outcome, ctx);
  return result;
}

/**
 * Runs streamed chunks through a policy's chunk hooks (reverse chain order) and its stream-end hooks, as respond-sse.ts
 * does for chat and legacy completions: usage is taken from the chunk carrying it, and the policy block rides on a last
 * chunk of its own. Returns the chunks the client would get. Throws a GatewayError on plugin failure.
 */
function runStream(runner: ChainRunner, policy: CompiledPolicy, ctx: RequestCtx, chunks: readonly StreamChunk[]): StreamChunk[] {
  const out: StreamChunk[] = [];
  const chain = policy.chain;
  for (const given of chunks) {
    const chunk = structuredClone(given);
    const usage = (chunk as { usage?: unknown }).usage;
    if (usage) ctx.usage = usageOf(ctx.endpoint, usage);
    if (chain.onChunk.length === 0 || runner.runChunk(chain, chunk, ctx) !== 'drop') out.push(chunk);
  }
  out.push(...runner.runStreamEnd(chain, ctx));
  const text = ctx.endpoint === 'completions';
  out.push({ id: `${text ? 'cmpl' : 'chatcmpl'}-${ctx.id}`, object: text ? 'text_completion' : 'chat.completion.chunk', created: Math.floor(ctx.timings.startedAt / 1000),
    model: ctx.request.model, choices: [], policy: policyBlock(ctx) } as StreamChunk);
  return out;
}
