// One request through one compiled policy: the request phase (request hooks, then the verdict sealed), the response
// phase on an upstream answer, and the whole run in-process without HTTP (what `test`, `explain` and `replay` build
// on). The HTTP edge drives the same phase functions.
import { randomUUID } from 'node:crypto';
import { toGatewayError, type GatewayError } from '../errors.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { GatewayServices, RequestMeta, Verdict } from '../sdk/context.ts';
import type { Outcome, RequestAction } from '../sdk/plugin.ts';
import type { TraceRecorder } from '../sdk/trace.ts';
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
  if (ctx.trace !== undefined) traceMetadata(ctx, ctx.trace);
  const action = runner.runRequest(policy.chain, ctx);
  if (action instanceof Promise) return action.then((a) => { ctx.sealVerdict(); return a; });
  ctx.sealVerdict();
  return action;
}

/** Records the first step of a traced request: its metadata as parsed (DESIGN §3 step 1) and the policy serving it. */
function traceMetadata(ctx: RequestCtx, trace: TraceRecorder): void {
  const prompt = ctx.prompt;
  trace.add({
    plugin: 'gateway', kind: 'metadata', rule: `${ctx.policy.file}:${ctx.policy.line}`,
    policy_id: ctx.meta.policyId, policy_user: ctx.meta.user, policy_project_id: ctx.meta.project, policy_target: ctx.meta.target,
    endpoint: ctx.endpoint, model: ctx.request.model, stream: ctx.request.stream === true,
    items: prompt.roles.length, roles: prompt.roles, revision: ctx.policy.revision,
  });
}

/**
 * Runs a policy's chunk hooks (reverse chain order) over a whole stream of events, in-process: each event as the HTTP
 * edge hands it over (usage noted, events a hook inserts written before it, dropped ones left out), then the end-of-stream
 * hooks, then the closing chunk with the policy block (chat and legacy completions). Returns the events as the client
 * would get them. Throws a GatewayError on plugin failure.
 */
export function runStreamPhase(runner: ChainRunner, policy: CompiledPolicy, ctx: RequestCtx, events: readonly StreamChunk[]): StreamChunk[] {
  const chain = policy.chain;
  const out: StreamChunk[] = [];
  let meta: { id?: unknown; created?: unknown; model?: unknown } | undefined;
  for (const event of events) {
    if (event === null || typeof event !== 'object') continue;
    const e = event as StreamChunk & { usage?: ApiAnswer['usage']; id?: unknown; created?: unknown; model?: unknown };
    meta ??= { id: e.id, created: e.created, model: e.model };
    if (e.usage) ctx.usage = usageOf(ctx.endpoint, e.usage);
    const r = chain.onChunk.length > 0 ? runner.runChunk(chain, e, ctx) : 'pass';
    const before = ctx.takeEmitted();
    if (before !== undefined) out.push(...before);
    if (r !== 'drop') out.push(e);
  }
  if (ctx.endpoint !== 'responses') {
    out.push(...runner.runStreamEnd(chain, ctx));
    const text = ctx.endpoint === 'completions';
    out.push({
      id: meta?.id ?? `${text ? 'cmpl' : 'chatcmpl'}-${ctx.id}`, object: text ? 'text_completion' : 'chat.completion.chunk',
      created: meta?.created ?? Math.floor(ctx.timings.startedAt / 1000), model: meta?.model ?? ctx.request.model, choices: [], policy: policyBlock(ctx),
    } as unknown as StreamChunk);
  }
  return out;
}

/** Runs a policy's response hooks (reverse chain order) on a non-streaming answer. Throws a GatewayError on plugin failure. */
export function runResponsePhase(runner: ChainRunner, policy: CompiledPolicy, ctx: RequestCtx, body: ApiAnswer): void {
  if (policy.chain.onResponse.length > 0) runner.runResponse(policy.chain, body, ctx);
}

/** A request for an in-process run: the request, its metadata, and optionally the answer the upstream would give. */
export interface PolicyRunInput {
  /** The endpoint the request is for (default `chat`). */
  readonly endpoint?: Endpoint;
  readonly request: ApiRequest;
  readonly meta?: Partial<Omit<RequestMeta, 'policyId'>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** The upstream's answer, run through the response hooks when the request would go upstream. */
  readonly answer?: ApiAnswer;
  /** Or the upstream's streamed answer: its parsed SSE events (chat chunks, Responses events), run through the chunk hooks. */
  readonly stream?: readonly StreamChunk[];
  /** Records the evaluation step by step (`explain`); absent: not traced. */
  readonly trace?: TraceRecorder;
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
  /** The streamed events as the client would get them (chunk hooks run, closing policy chunk added), when a stream was given. */
  readonly stream?: readonly StreamChunk[];
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
    id: `run-${randomUUID()}`, rootLog: env.services.log, now, services: env.services, route: 'policy', endpoint: input.endpoint ?? 'chat',
    policy: { id: policy.id, file: policy.file, line: policy.line, revision: env.revision ?? 'in-process' },
    meta: { policyId: policy.id, user: input.meta?.user ?? null, project: input.meta?.project ?? null, target: input.meta?.target ?? null },
    headers: { ...input.headers }, request, clientWantsUsage: false, trace: input.trace,
    timings: { startedAt: now(), start: performance.now(), upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
  });
  const action = await runRequestPhase(env.runner, policy, ctx);
  let result: PolicyRunResult;
  let status = 200;
  if (action?.kind === 'reject') {
    status = action.error.status;
    result = { verdict: ctx.verdict, action: 'reject', error: action.error, request: ctx.request };
  } else if (action?.kind === 'respond') {
    result = { verdict: ctx.verdict, action: 'respond', content: action.content, request: ctx.request };
  } else {
    let answer: ApiAnswer | undefined;
    let stream: StreamChunk[] | undefined;
    let error: GatewayError | undefined;
    if (input.stream !== undefined) {
      try {
        stream = runStreamPhase(env.runner, policy, ctx, structuredClone(input.stream) as StreamChunk[]);
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
    result = error ? { verdict: ctx.verdict, action: 'reject', error, request: ctx.request } : { verdict: ctx.verdict, action: 'forward', request: ctx.request, answer, stream };
  }
  ctx.timings.end = performance.now();
  const outcome: Outcome = {
    status, error: result.error, upstreamCalled: result.action === 'forward' && (input.answer !== undefined || input.stream !== undefined), aborted: false, synthesized: result.action === 'respond',
  };
  await env.runner.runComplete(policy.chain, outcome, ctx);
  return result;
}
