// Runs policy test cases in-process on a compiled rule set with runPolicy (src/chain/run-policy.ts): the same hooks and
// context as an HTTP request, against a fresh in-memory quota store and an explicit clock per case, no upstream calls.
// Gives each expectation's actual value in the canonical text test-file.ts gives expected ones.
import { ChainRunner } from '../chain/run-chain.ts';
import { inProcessServices } from '../author/services.ts';
import { runPolicy, type PolicyRunResult } from '../chain/run-policy.ts';
import { E } from '../errors.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import { redactionKey } from '../sdk/state-keys.ts';
import { TraceRecorder } from '../sdk/trace.ts';
import type { ApiAnswer, ApiRequest, ChatCompletion, ChatMessage, Endpoint, ResponseObject, StreamChunk, TextCompletion } from '../sdk/types.ts';
import { DEFAULT_START, listText, type AnswerSpec, type Expectation, type ExpectField, type RequestSpec, type TestCase } from './test-file.ts';

/** The upstream's answer when a case that goes upstream gives none. */
export const DEFAULT_ANSWER = 'This is the test upstream\'s answer.';
/** The model of a case's request when it names none. */
export const DEFAULT_MODEL = 'test-model';

/** One expectation that did not hold. */
export interface Mismatch {
  /** The field (a header expectation's with its name: `header "retry-after"`). */
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
  /** Line of the expectation in the test file. */
  readonly line: number;
  /** Which request of the case (1-based, counting repeats) gave it. */
  readonly request: number;
}

/** What running one case gave. */
export interface CaseResult {
  readonly case: TestCase;
  readonly passed: boolean;
  readonly mismatches: readonly Mismatch[];
  /** A run that could not happen (unknown policy): the reason. */
  readonly error?: string;
  readonly requests: number;
  readonly durationMs: number;
}

/** Services of one case (src/author/services.ts): fresh metrics and quota store, no audit output, no background tasks. */
function caseServices(plugins: readonly PluginFactory<any>[], env: Readonly<Record<string, string | undefined>>): { services: GatewayServices; runner: ChainRunner } {
  const services = inProcessServices(plugins, env);
  return { services, runner: new ChainRunner(services.metrics, 5000) };
}

/** The request body a spec describes, in the endpoint's shape. */
export function buildRequest(spec: RequestSpec, stream: boolean): ApiRequest {
  const endpoint = spec.endpoint ?? 'chat';
  const messages = spec.messages ?? [];
  const userTexts = messages.filter((m) => m.role === 'user').map((m) => m.text);
  const model = spec.model ?? DEFAULT_MODEL;
  let req: Record<string, unknown>;
  switch (endpoint) {
    case 'chat': req = { model, messages: messages.map((m): ChatMessage => ({ role: m.role, content: m.text })) }; break;
    case 'responses': req = { model, input: messages.map((m) => ({ role: m.role, content: m.text })) }; break;
    case 'embeddings': req = { model, input: userTexts.length === 1 ? userTexts[0] : userTexts }; break;
    case 'completions': req = { model, prompt: userTexts.length === 1 ? userTexts[0] : userTexts }; break;
  }
  if (stream) req.stream = true;
  return { ...req, ...spec.body } as ApiRequest;
}

const USAGE = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };

/** The upstream's answer a spec describes, whole or as stream chunks. */
export function buildAnswer(endpoint: Endpoint, model: string, spec: AnswerSpec | undefined, created: number): { answer?: ApiAnswer; stream?: StreamChunk[] } {
  const a = spec ?? { kind: 'text', text: DEFAULT_ANSWER };
  if (a.kind === 'json') return { answer: a.value as unknown as ApiAnswer };
  if (a.kind === 'stream') {
    if (endpoint === 'completions') {
      const chunk = (text: string, fin: string | null): TextCompletion => ({ id: 'cmpl-test', object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: fin }] });
      return { stream: [...a.chunks.map((c) => chunk(c, null)), { ...chunk('', 'stop'), usage: USAGE }] };
    }
    const chunks: StreamChunk[] = a.chunks.map((c, i) => ({
      id: 'chatcmpl-test', object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: c } : { content: c }, finish_reason: null }],
    }));
    chunks.push({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: USAGE });
    return { stream: chunks };
  }
  switch (endpoint) {
    case 'chat':
      return { answer: { id: 'chatcmpl-test', object: 'chat.completion', created, model, choices: [{ index: 0, message: { role: 'assistant', content: a.text }, finish_reason: 'stop' }], usage: { ...USAGE } } };
    case 'completions':
      return { answer: { id: 'cmpl-test', object: 'text_completion', created, model, choices: [{ index: 0, text: a.text, logprobs: null, finish_reason: 'stop' }], usage: { ...USAGE } } };
    case 'responses':
      return { answer: { id: 'resp_test', object: 'response', status: 'completed', model,
        output: [{ type: 'message', id: 'msg_test', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: a.text, annotations: [] }] }],
        usage: { input_tokens: 10, output_tokens: 20, total_tokens: 30 } } };
    case 'embeddings':
      return { answer: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0, 0, 0] }], model, usage: { prompt_tokens: 10, total_tokens: 10 } } };
  }
}

/** The text of an answer the client gets: message content, completion text, Responses output text, or streamed deltas. */
function answerText(r: PolicyRunResult, endpoint: Endpoint): string | undefined {
  if (r.action === 'respond') return r.content;
  if (r.stream) {
    let s = '';
    for (const c of r.stream) {
      for (const ch of ((c as { choices?: unknown[] }).choices ?? []) as { delta?: { content?: unknown }; text?: unknown }[]) {
        const t = endpoint === 'completions' ? ch.text : ch.delta?.content;
        if (typeof t === 'string') s += t;
      }
    }
    return s;
  }
  const a = r.answer;
  if (!a) return undefined;
  if (endpoint === 'chat') {
    const c = (a as ChatCompletion).choices?.[0]?.message?.content;
    return typeof c === 'string' ? c : c === undefined || c === null ? undefined : JSON.stringify(c);
  }
  if (endpoint === 'completions') return (a as TextCompletion).choices?.[0]?.text;
  if (endpoint === 'responses') {
    let s = '';
    for (const item of (a as ResponseObject).output ?? []) {
      for (const part of (item.content ?? []) as { type?: string; text?: unknown }[]) if (part.type === 'output_text' && typeof part.text === 'string') s += part.text;
    }
    return s;
  }
  return undefined;
}

/** The instruction the run added to the request (the leading system message, `instructions`, the prompt prefix), or null. */
function instructionOf(endpoint: Endpoint, sent: ApiRequest, original: ApiRequest): string | null {
  if (endpoint === 'chat') {
    const first = (sent as { messages?: ChatMessage[] }).messages?.[0];
    const before = (original as { messages?: ChatMessage[] }).messages?.[0];
    if (!first || (first.role !== 'system' && first.role !== 'developer')) return null;
    if (before && JSON.stringify(before) === JSON.stringify(first)) return null;
    const text = typeof first.content === 'string' ? first.content
      : Array.isArray(first.content) ? first.content.map((p) => (p as { text?: string }).text ?? '').join('\n') : '';
    const orig = before && before.role === first.role && typeof before.content === 'string' ? before.content : '';
    return orig && text.startsWith(`${orig}\n\n`) ? text.slice(orig.length + 2) : text;
  }
  if (endpoint === 'responses') {
    const now = (sent as { instructions?: unknown }).instructions;
    const was = (original as { instructions?: unknown }).instructions;
    if (typeof now !== 'string' || now === was) return null;
    return typeof was === 'string' && was && now.startsWith(`${was}\n\n`) ? now.slice(was.length + 2) : now;
  }
  if (endpoint === 'completions') {
    const now = (sent as { prompt?: unknown }).prompt;
    const was = (original as { prompt?: unknown }).prompt;
    const a = Array.isArray(now) ? now[0] : now;
    const b = Array.isArray(was) ? was[0] : was;
    if (typeof a !== 'string' || typeof b !== 'string' || a === b || !a.endsWith(`\n\n${b}`)) return null;
    return a.slice(0, a.length - b.length - 2);
  }
  return null;
}

/** The canonical text of what a run gave for `field` (the form test-file.ts gives expected values). */
export function actualValue(field: ExpectField, r: PolicyRunResult, endpoint: Endpoint, original: ApiRequest, name = ''): string {
  const v = r.verdict;
  switch (field) {
    case 'header': {
      // An error's own headers (Retry-After) or the ones hooks set on the answer (x-ratelimit-*).
      const h = r.error?.headers?.[name] ?? r.context.responseHeaders[name];
      return h === undefined ? 'none' : JSON.stringify(h);
    }
    case 'decision': return v.decision;
    case 'effective_decision': return v.effectiveDecision;
    case 'reason': return v.reasonCode;
    case 'allowlist_hits': return listText(v.allowlistHits);
    case 'denylist_hits': return listText(v.denylistHits);
    case 'categories': return listText([...v.triggeredCategories].sort());
    case 'rollout': return v.rolloutMode;
    case 'rule': return v.rule === null ? 'none' : v.rule.slice(v.rule.lastIndexOf(':') + 1);
    case 'upstream': return r.action === 'forward' ? 'called' : 'not_called';
    case 'instruction': {
      const i = r.action === 'forward' ? instructionOf(endpoint, r.request, original) : null;
      return i === null ? 'none' : JSON.stringify(i);
    }
    case 'max_tokens': {
      if (r.action !== 'forward') return 'none';
      const q = r.request as Record<string, unknown>;
      const m = endpoint === 'responses' ? q.max_output_tokens : q.max_completion_tokens ?? q.max_tokens;
      return typeof m === 'number' ? String(m) : 'none';
    }
    case 'answer': {
      const t = answerText(r, endpoint);
      return t === undefined ? 'none' : JSON.stringify(t);
    }
    case 'redacted': {
      const rep = r.context.get(redactionKey)?.response ?? {};
      return listText(Object.keys(rep).filter((k) => (rep[k] ?? 0) > 0).sort());
    }
    // The edge answers a policy's refusal of an embeddings request with a 403 (src/http/local-answer.ts): no text to hold it.
    case 'status': return String(r.error?.status ?? (r.action === 'respond' && endpoint === 'embeddings' ? E.GW_ERR_POLICY_REFUSED.status : 200));
    case 'error': return r.error?.code ?? (r.action === 'respond' && endpoint === 'embeddings' ? E.GW_ERR_POLICY_REFUSED.code : 'none');
  }
}

/** Options of runCases. */
export interface RunOptions {
  readonly plugins: readonly PluginFactory<any>[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Stop comparing a case's later requests after this many mismatches (the rest would repeat them). */
  readonly maxMismatches?: number;
  /** Called after each request with its run and, when `trace` is set, its evaluation trace (coverage reads it). */
  readonly onRun?: (policyId: string, run: PolicyRunResult, trace: TraceRecorder | undefined) => void;
  /** Record each request's evaluation trace (src/sdk/trace.ts) for `onRun`. */
  readonly trace?: boolean;
}

/** Runs one case: its steps in order on fresh services, with the case's own clock. Never throws. */
export async function runCase(set: CompiledPolicySet, c: TestCase, opts: RunOptions): Promise<CaseResult> {
  const t0 = performance.now();
  const policy = set.policies.get(c.policyId);
  if (!policy) return { case: c, passed: false, mismatches: [], error: `no policy "${c.policyId}" in the rule set`, requests: 0, durationMs: 0 };
  const { services, runner } = caseServices(opts.plugins, opts.env ?? {});
  let clock = DEFAULT_START;
  const now = () => clock;
  const mismatches: Mismatch[] = [];
  const max = opts.maxMismatches ?? 20;
  let n = 0;
  try {
    for (const step of c.steps) {
      if (step.kind === 'at') { clock = step.time; continue; }
      if (step.kind === 'wait') { clock += step.ms; continue; }
      const endpoint = step.request.endpoint ?? 'chat';
      const streamed = step.answer?.kind === 'stream';
      const request = buildRequest(step.request, streamed);
      const headers: Record<string, string> = { ...step.request.headers };
      if (step.request.key !== undefined) headers.authorization = `Bearer ${step.request.key}`;
      const built = buildAnswer(endpoint, request.model, step.answer, Math.floor(clock / 1000));
      for (let i = 0; i < step.times; i++) {
        n++;
        // Coverage reads what the trace says was evaluated, traced as explain traces (`all`: the live header's `audit`
        // mode is for keys with the debug grant); the trace's text is never printed.
        const trace = opts.trace ? new TraceRecorder('all') : undefined;
        const r = await runPolicy(policy, {
          endpoint, route: step.request.route ?? 'policy', request, headers, meta: { user: step.request.user ?? null, project: step.request.project ?? null, target: step.request.target ?? null },
          answer: built.answer, stream: built.stream, trace,
        }, { services, runner, now, revision: set.revision });
        opts.onRun?.(c.policyId, r, trace);
        if (mismatches.length >= max) continue;
        for (const e of step.expects) {
          const actual = actualValue(e.field, r, endpoint, request, e.name);
          if (actual !== e.expected) mismatches.push({ field: e.name ? `${e.field} "${e.name}"` : e.field, expected: e.expected, actual, line: e.line, request: n });
        }
      }
    }
  } catch (e) {
    return { case: c, passed: false, mismatches, error: `the run failed: ${(e as Error).message}`, requests: n, durationMs: performance.now() - t0 };
  }
  return { case: c, passed: mismatches.length === 0, mismatches, requests: n, durationMs: performance.now() - t0 };
}

/** Runs cases one after another (each on its own services and clock); results in the order given. */
export async function runCases(set: CompiledPolicySet, cases: readonly TestCase[], opts: RunOptions): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) out.push(await runCase(set, c, opts));
  return out;
}

export type { Expectation };
