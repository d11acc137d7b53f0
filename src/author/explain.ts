// `explain`: one request through one policy in-process (runPolicy: the HTTP edge's hooks, order and context), traced step
// by step: explainRequest(input, env?) → ExplainResult (plain JSON), renderExplain(result) → text. A draft source is
// compiled in memory with the bundled plugins, its diagnostics returned, never thrown. The console calls this (docs/explain.md).
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { renderDiagnostic, type Diagnostic } from '../../grammar/diagnostics.ts';
import { ChainRunner } from '../chain/run-chain.ts';
import { runPolicy } from '../chain/run-policy.ts';
import { toGatewayError } from '../errors.ts';
import { parseApiRequest } from '../http/parse-request.ts';
import { DEFAULT_MAX_JSON_DEPTH, jsonTextNestsDeeper } from '../json-depth.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import { compileSources } from '../policy/load.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import { TraceRecorder, type TraceStep, type TraceTextMode } from '../sdk/trace.ts';
import { ENDPOINTS, type ApiAnswer, type Endpoint, type StreamChunk } from '../sdk/types.ts';
import { renderExplain } from './render-explain.ts';

export { renderExplain };

/** The compiled rule set a gateway serves (the name the console's API uses). */
export type CompiledRuleSet = CompiledPolicySet;

/** Request metadata and context given besides the body (each overrides nothing: header and body must agree). */
export interface ExplainMeta {
  /** `policy_user` (as the X-Policy-User header). */
  readonly user?: string | null;
  /** `policy_project_id` (as the X-Policy-Project header). */
  readonly project?: string | null;
  /** `policy_target` (as the X-Policy-Target header). */
  readonly target?: string | null;
  /** Request headers, names in any case (`authorization` for policies with an auth block). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The endpoint the request is for (default `chat`). */
  readonly endpoint?: Endpoint;
  /** The clock (epoch ms) the evaluation runs at: quota windows and key expiry use it. Default: now. */
  readonly now?: number;
}

/** What to explain. `rules` is a compiled rule set (what a gateway serves) or a draft policy's source. */
export interface ExplainInput {
  readonly policyId: string;
  readonly rules: CompiledRuleSet | { readonly source: string; readonly file?: string };
  /** The request body as a client sends it; `policy_*` members are metadata, as over HTTP. */
  readonly request: unknown;
  /** The upstream's (non-streaming) answer, run through the response hooks when the request would go upstream. */
  readonly answer?: unknown;
  /** Or the upstream's stream: its parsed SSE data events in order (chat chunks, Responses events). */
  readonly stream?: readonly unknown[];
  readonly meta?: ExplainMeta;
}

/** Optional environment of an explanation. */
export interface ExplainEnv {
  /** Gateway services (metrics, log, quota store): pass the same object to explain several requests against one quota state. */
  readonly services?: GatewayServices;
  /** The plugins a draft source compiles with (default: the bundled ones, plugins/index.ts). */
  readonly plugins?: readonly PluginFactory<any>[];
  /** Who may read matched text: `all` (default: the caller holds the request) or `audit` (what the policy's audit would log). */
  readonly textMode?: TraceTextMode;
}

/** A policy diagnostic of a draft source, as JSON and rendered (with the source line and caret). */
export interface ExplainDiagnostic {
  readonly code: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** `file:line:col`. */
  readonly at: string;
  readonly rendered: string;
}

/** An explanation: plain JSON (`explain --format json`). `ok` false: nothing was evaluated (`problem` says why). */
export interface ExplainResult {
  readonly explain_version: 1;
  readonly policy_id: string;
  readonly ok: boolean;
  /** Why nothing was evaluated: the draft does not compile, the policy is unknown, the request is invalid. */
  readonly problem: { readonly code: string; readonly message: string } | null;
  readonly diagnostics: readonly ExplainDiagnostic[];
  readonly revision: string | null;
  /** The evaluation in the decision flow's order (metadata, auth, quota, rollout, topics, moderation, decide, redactor, auditor). */
  readonly steps: readonly TraceStep[];
  readonly dropped_steps: number;
  /** True when an answer or a stream was given (it is used only when the request goes upstream). */
  readonly answer_given: boolean;
  /** The verdict (the `policy` block's content, plus the rule that fired). */
  readonly verdict: {
    readonly decision: string; readonly effective_decision: string; readonly reason_code: string;
    readonly triggered_categories: readonly string[]; readonly allowlist_hits: readonly string[]; readonly denylist_hits: readonly string[];
    readonly rollout_mode: string; readonly enforced: boolean; readonly rule: string | null;
  } | null;
  /** What the client gets: forwarded upstream (the request as sent, the answer as returned), answered by the policy, or an error. */
  readonly outcome: {
    readonly action: 'forward' | 'respond' | 'reject';
    readonly status: number;
    /** The error answered (its reason code is the one an audit record of the request carries). */
    readonly error: { readonly code: string; readonly reason_code: string; readonly message: string } | null;
    readonly content: string | null;
    readonly upstream_request: unknown;
    readonly answer: unknown;
    readonly stream: readonly unknown[] | null;
  } | null;
}

/** Longest draft source accepted (the console sends drafts over HTTP). */
export const MAX_DRAFT_BYTES = 1024 * 1024;

/**
 * Services of a one-off explanation: a fresh metric registry with `plugins`' metrics, a silent logger, no audit output,
 * the memory quota store (a fresh one per services object), no background tasks (escalation webhooks are not sent).
 */
export function explainServices(plugins: readonly PluginFactory<any>[], env: Readonly<Record<string, string | undefined>> = {}):
  GatewayServices & { readonly metrics: Metrics } {
  const metrics = createMetrics(new Registry(), plugins, { defaults: false });
  return {
    metrics,
    log: pino({ level: 'silent' }),
    metricsOf: (decls) => metrics.of(decls),
    env,
    redisUrl: undefined,
    audit: { destination: 'off', format: 'logfmt' },
    onClose: () => undefined,
    onReopen: () => undefined,
    // webhooks (escalation) are never sent by an explanation
    background: () => undefined,
  };
}

function failed(policyId: string, code: string, message: string, diagnostics: readonly ExplainDiagnostic[] = [], revision: string | null = null): ExplainResult {
  return {
    explain_version: 1, policy_id: policyId, ok: false, problem: { code, message }, diagnostics, revision,
    steps: [], dropped_steps: 0, answer_given: false, verdict: null, outcome: null,
  };
}

function diagnosticOf(d: Diagnostic, sources: ReadonlyMap<string, string>): ExplainDiagnostic {
  return {
    code: d.code, severity: d.severity, message: d.message, at: `${d.span.file}:${d.span.start.line}:${d.span.start.col}`,
    rendered: renderDiagnostic(d, sources.get(d.span.file)),
  };
}

async function bundledPlugins(): Promise<readonly PluginFactory<any>[]> {
  return (await import('../../plugins/index.ts')).ALL_PLUGINS;
}

/** The headers of a request: the given ones (names lower-cased) plus the metadata given as X-Policy-* headers. */
function headersOf(meta: ExplainMeta | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta?.headers ?? {})) if (typeof v === 'string') h[k.toLowerCase()] = v;
  if (meta?.user != null) h['x-policy-user'] = meta.user;
  if (meta?.project != null) h['x-policy-project'] = meta.project;
  if (meta?.target != null) h['x-policy-target'] = meta.target;
  return h;
}

/** Largest answer or stream accepted, as JSON text. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** `v` as JSON text, or undefined when it cannot be (a cycle, a BigInt, nesting deep enough to exhaust the stack). */
function serialized(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

/** Why an answer or stream cannot be explained (too large, too deep, not JSON data), or undefined. */
function checkInput(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  const text = serialized(v);
  if (text === undefined) return `the ${what} is not JSON data (or nests too deeply)`;
  if (text.length > MAX_ANSWER_BYTES) return `the ${what} is larger than ${MAX_ANSWER_BYTES} bytes of JSON`;
  if (jsonTextNestsDeeper(text, DEFAULT_MAX_JSON_DEPTH)) return `the ${what} nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels`;
  return undefined;
}

/** The text of choice 0's `delta.content` per chunk of a chat stream, or undefined when the stream carries other text. */
function contentPieces(stream: readonly unknown[]): string[] | undefined {
  const pieces: string[] = [];
  for (const ev of stream) {
    const choices = (ev as { choices?: unknown } | null)?.choices;
    if (!Array.isArray(choices) || choices.length === 0) { pieces.push(''); continue; }
    if (choices.length > 1) return undefined;
    const delta = (choices[0] as { delta?: Record<string, unknown> } | null)?.delta;
    if (delta?.tool_calls !== undefined || delta?.function_call !== undefined || (delta?.refusal !== undefined && delta.refusal !== null)) return undefined;
    pieces.push(typeof delta?.content === 'string' ? delta.content : '');
  }
  return pieces;
}

/**
 * For a single-choice chat stream of text only: adds to each response redaction span the stream chunks it came in
 * (`chunks: [first, last]`, indices into the given stream), so a span split across chunks shows as such.
 */
function annotateStreamSpans(steps: readonly TraceStep[], stream: readonly unknown[]): void {
  const pieces = contentPieces(stream);
  if (pieces === undefined) return;
  const ends: number[] = [];
  let at = 0;
  for (const p of pieces) { at += p.length; ends.push(at); }
  const chunkAt = (offset: number) => ends.findIndex((e) => e > offset);
  for (const step of steps) {
    if (step.plugin !== 'redactor' || step.scope !== 'response' || !Array.isArray(step.field_spans)) continue;
    for (const span of step.field_spans as { start: number; end: number; chunks?: [number, number] }[]) {
      if (typeof span !== 'object' || span === null) continue;
      const first = chunkAt(span.start);
      const last = chunkAt(span.end - 1);
      if (first >= 0 && last >= 0) span.chunks = [first, last];
    }
  }
}

/**
 * Explains one request: compiles a draft source when given one, validates the request as the HTTP edge does (metadata
 * from `policy_*` members and X-Policy-* headers), runs the policy in-process with a trace, and returns the steps, the
 * verdict and the outcome. Never throws on bad input: problems come back in `problem` and `diagnostics`. Escalation
 * webhooks are not sent; quota counts on the in-memory store of `env.services` (fresh by default).
 */
export async function explainRequest(input: ExplainInput, env: ExplainEnv = {}): Promise<ExplainResult> {
  const policyId = input.policyId;
  let set: CompiledPolicySet;
  let diagnostics: ExplainDiagnostic[] = [];
  if ('source' in input.rules) {
    const { source, file = 'draft.policy' } = input.rules;
    if (typeof source !== 'string') return failed(policyId, 'EXPLAIN_BAD_INPUT', 'the draft source must be a string');
    if (Buffer.byteLength(source) > MAX_DRAFT_BYTES) return failed(policyId, 'EXPLAIN_BAD_INPUT', `the draft source is larger than ${MAX_DRAFT_BYTES} bytes`);
    const loaded = compileSources(new Map([[file, source]]), env.plugins ?? await bundledPlugins());
    diagnostics = loaded.diagnostics.map((d) => diagnosticOf(d, loaded.sources));
    if (loaded.set === undefined) {
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
      return failed(policyId, 'EXPLAIN_POLICY_INVALID', `the policy does not compile (${errors} ${errors === 1 ? 'error' : 'errors'})`, diagnostics);
    }
    set = loaded.set;
  } else set = input.rules;
  const policy = set.policies.get(policyId);
  if (policy === undefined) {
    const known = [...set.policies.keys()].sort();
    return failed(policyId, 'EXPLAIN_UNKNOWN_POLICY', `no policy "${policyId}" in the rule set (policies: ${known.map((k) => `"${k}"`).join(', ') || 'none'})`, diagnostics, set.revision);
  }
  const endpoint = input.meta?.endpoint ?? 'chat';
  if (!ENDPOINTS.includes(endpoint)) return failed(policyId, 'EXPLAIN_BAD_INPUT', `unknown endpoint "${String(endpoint)}" (one of ${ENDPOINTS.join(', ')})`, diagnostics, set.revision);
  if (!policy.endpoints.includes(endpoint)) {
    return failed(policyId, 'EXPLAIN_BAD_INPUT', `policy "${policyId}" does not serve the ${endpoint} endpoint (its routes: ${policy.endpoints.join(', ')})`, diagnostics, set.revision);
  }
  if (input.stream !== undefined && input.answer !== undefined) return failed(policyId, 'EXPLAIN_BAD_INPUT', 'give an answer or a stream, not both', diagnostics, set.revision);
  if (input.stream !== undefined && !Array.isArray(input.stream)) return failed(policyId, 'EXPLAIN_BAD_INPUT', 'the stream must be an array of SSE data events', diagnostics, set.revision);
  if (input.answer !== undefined && (input.answer === null || typeof input.answer !== 'object' || Array.isArray(input.answer))) {
    return failed(policyId, 'EXPLAIN_BAD_INPUT', 'the answer must be a JSON object (the upstream\'s response body)', diagnostics, set.revision);
  }
  const headers = headersOf(input.meta);
  // Inputs come from files and from the console over HTTP: bounded in size and nesting before anything walks them.
  const tooBig = checkInput(input.answer, 'answer') ?? checkInput(input.stream, 'stream');
  if (tooBig !== undefined) return failed(policyId, 'EXPLAIN_BAD_INPUT', tooBig, diagnostics, set.revision);
  let parsed;
  try {
    const body = input.stream !== undefined && input.request !== null && typeof input.request === 'object' && !Array.isArray(input.request)
      ? { stream: true, ...(input.request as object) } : input.request;
    const text = serialized(body ?? null);
    if (text === undefined) return failed(policyId, 'EXPLAIN_BAD_INPUT', 'the request is not JSON data (or nests too deeply)', diagnostics, set.revision);
    parsed = parseApiRequest(endpoint, Buffer.from(text), headers);
  } catch (e) {
    const err = toGatewayError(e);
    return failed(policyId, err.code, `invalid request: ${err.message}`, diagnostics, set.revision);
  }
  if (parsed.policyId !== null && parsed.policyId !== policyId) {
    return failed(policyId, 'EXPLAIN_BAD_INPUT', `the request names policy "${parsed.policyId}", not "${policyId}"`, diagnostics, set.revision);
  }
  const services = env.services ?? explainServices(env.plugins ?? await bundledPlugins());
  const runner = new ChainRunner('metrics' in services ? services.metrics as Metrics : createMetrics(new Registry(), [], { defaults: false }), 5000);
  const at = input.meta?.now ?? Date.now();
  const trace = new TraceRecorder(env.textMode ?? 'all');
  const r = await runPolicy(policy, {
    endpoint, request: parsed.request, meta: { user: parsed.user, project: parsed.project, target: parsed.target }, headers,
    answer: input.answer as ApiAnswer | undefined, stream: input.stream as StreamChunk[] | undefined, trace,
  }, { services, runner, revision: set.revision, now: () => at });
  const snap = trace.snapshot();
  if (input.stream !== undefined) annotateStreamSpans(snap.steps, input.stream);
  const v = r.verdict;
  return {
    explain_version: 1, policy_id: policyId, ok: true, problem: null, diagnostics, revision: set.revision,
    steps: snap.steps, dropped_steps: snap.dropped, answer_given: input.answer !== undefined || input.stream !== undefined,
    verdict: {
      decision: v.decision, effective_decision: v.effectiveDecision, reason_code: v.reasonCode, triggered_categories: v.triggeredCategories,
      allowlist_hits: v.allowlistHits, denylist_hits: v.denylistHits, rollout_mode: v.rolloutMode, enforced: v.enforced, rule: v.rule,
    },
    outcome: {
      action: r.action, status: r.error?.status ?? 200,
      error: r.error ? { code: r.error.code, reason_code: r.error.reasonCode, message: r.error.message } : null,
      content: r.content ?? null,
      upstream_request: r.action === 'forward' ? r.request : null,
      answer: r.answer ?? null,
      stream: r.stream ?? null,
    },
  };
}
