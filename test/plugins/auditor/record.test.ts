// The audit record of one request, built from a real RequestContext and Outcome: decision vs reject, reason codes
// of gateway errors, fields other plugins publish through their state keys, tags, and prompt/output text only after redaction.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { E, GatewayError } from '../../../src/errors.ts';
import type { Outcome } from '../../../src/sdk/plugin.ts';
import type { RequestContext } from '../../../src/sdk/context.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../../src/sdk/types.ts';
import { readPrompt } from '../../../src/sdk/prompt-view.ts';
import { auditHooks } from '../../../plugins/auditor/index.ts';
import type { AuditConfig } from '../../../plugins/auditor/block.ts';
import { formatLogfmt } from '../../../plugins/auditor/format.ts';
import {
  buildAuditRecord, buildUnchainedRecord, clipText, FIELD_ORDER, formatRequestLogfmt, MAX_TEXT, outputText, promptText, type Capture,
} from '../../../plugins/auditor/record.ts';
import { ctxFor, publishVerdict } from '../../helpers/ctx.ts';
import { moderationErrorKey, principalKey, quotaKey, redactionKey } from '../../../src/sdk/state-keys.ts';
import { gwError } from '../../helpers/errors.ts';
import { parseLogfmt } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 13, 10, 12, 42, 250);
const config = (over: Partial<AuditConfig> = {}): AuditConfig => ({ policyId: 'policy-gateway', tags: ['team:support', 'tier:gold'], prompts: false, replay: false, ...over });

function ctx(over: { stream?: boolean } = {}): RequestContext {
  const c = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'Summarize our refund policy.' }], stream: over.stream },
    { id: 'req-1', now: () => T0, meta: { policyId: 'policy-gateway', user: 'user-12345', project: 'support-bot', target: 'support-bot' } });
  const t = c.timings as { start: number; upstreamStart: number; upstreamFirstByte: number; upstreamEnd: number; end: number };
  t.start = 1000;
  t.upstreamStart = 1002;
  t.upstreamFirstByte = 1050;
  t.upstreamEnd = 1100.5;
  t.end = 1103.25;
  return c;
}

const ok: Outcome = { status: 200, upstreamCalled: true, aborted: false, synthesized: false };

describe('chained requests', () => {
  it('an allowed request: the seed\'s five keys first, then every documented field in order', () => {
    const c = ctx();
    c.usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };
    c.upstreamStatus = 200;
    publishVerdict(c, { rule: 'rules/support.policy:9' });
    const rec = buildAuditRecord(c, ok, config());
    expect(Object.keys(rec)).toEqual(FIELD_ORDER.filter((k) => k !== 'prompt' && k !== 'output' && k !== 'replay'));
    expect(formatLogfmt(rec)).toBe('2026-01-13T10:12:42Z policy_id=policy-gateway decision=allow reason_code=ALLOW policy_user=user-12345 policy_project_id=support-bot'
      + ' request_id=req-1 route=policy effective_decision=allow rollout_mode=enforced enforced=true policy_target=support-bot status=200 code=- aborted=false stream=false'
      + ' triggered_categories=- allowlist_hits=- denylist_hits=- rule=rules/support.policy:9 revision=test-revision key_label=- redactions=-'
      + ' prompt_tokens=12 completion_tokens=7 duration_ms=103.25 overhead_ms=4.75 upstream_ms=98.5 upstream_status=200 tags=team:support,tier:gold');
  });

  it('a decided request carries the verdict: shadow rewrite with categories and list hits', () => {
    const c = ctx();
    publishVerdict(c, {
      decision: 'rewrite', reasonCode: 'SELF_HARM', triggeredCategories: ['self-harm/intent'],
      allowlistHits: ['refund policy'], denylistHits: [], rolloutMode: 'shadow', rule: 'rules/s.policy:4',
    });
    const back = parseLogfmt(formatLogfmt(buildAuditRecord(c, ok, config())));
    expect(back).toMatchObject({ decision: 'rewrite', effective_decision: 'allow', reason_code: 'SELF_HARM', rollout_mode: 'shadow', enforced: 'false',
      triggered_categories: 'self-harm/intent', allowlist_hits: 'refund policy', denylist_hits: null, rule: 'rules/s.policy:4' });
  });

  it('a refusal answered by the gateway keeps the policy decision and has no error code', () => {
    const c = ctx();
    publishVerdict(c, { decision: 'refuse', reasonCode: 'REFUSE' });
    const rec = buildAuditRecord(c, { status: 200, upstreamCalled: false, aborted: false, synthesized: true }, config());
    expect(rec).toMatchObject({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'REFUSE', code: null, upstream_ms: null, upstream_status: null, overhead_ms: 103.25 });
  });

  const rejections: { note: string; error: GatewayError; reason: string; status: number }[] = [
    { note: 'unauthenticated (401) reads reject / AUTH_FAILED', error: gwError('GW_ERR_AUTH_INVALID'), reason: 'AUTH_FAILED', status: 401 },
    { note: 'rate-limited (429) reads reject / RATE_LIMITED', error: gwError('GW_ERR_RATE_LIMITED', ['user_requests', 3]), reason: 'RATE_LIMITED', status: 429 },
    { note: 'over a token quota reads reject / QUOTA_EXCEEDED', error: gwError('GW_ERR_QUOTA_EXCEEDED', ['user_tokens', 3]), reason: 'QUOTA_EXCEEDED', status: 429 },
    { note: 'a failing plugin reads reject / INTERNAL_ERROR', error: new GatewayError(E.GW_ERR_PLUGIN_FAILED, ['x']), reason: 'INTERNAL_ERROR', status: 500 },
  ];
  it.each(rejections)('$note', ({ error, reason, status }) => {
    const rec = buildAuditRecord(ctx(), { status, error, upstreamCalled: false, aborted: false, synthesized: false }, config());
    expect(rec).toMatchObject({ decision: 'reject', effective_decision: 'reject', reason_code: reason, code: error.code, status, rollout_mode: null, enforced: null });
  });

  it('an upstream failure after an allow keeps the decision; code and status say what went wrong', () => {
    const c = ctx();
    (c.timings as { upstreamEnd: number }).upstreamEnd = 0;
    const rec = buildAuditRecord(c, { status: 502, error: new GatewayError(E.GW_ERR_UPSTREAM_UNREACHABLE), upstreamCalled: true, aborted: false, synthesized: false }, config());
    expect(rec).toMatchObject({ decision: 'allow', reason_code: 'ALLOW', code: 'GW_ERR_UPSTREAM_UNREACHABLE', status: 502, upstream_ms: null, overhead_ms: null });
  });

  it('a client abort is recorded with aborted=true and status 0 when no head was sent', () => {
    const rec = buildAuditRecord(ctx({ stream: true }), { status: 0, upstreamCalled: true, aborted: true, synthesized: false }, config());
    expect(rec).toMatchObject({ aborted: true, status: 0, stream: true, decision: 'allow' });
  });

  it('fields other plugins publish: key_label, redaction counts, then the optional fields before the tags', () => {
    const c = ctx();
    c.set(principalKey, { id: 'abcdefghijkl', label: 'support-team' });
    c.set(redactionKey, { response: { email: 2, phone: 1, bogus: 'x', zero: 0, 'Bad Key': 3 } as unknown as Record<string, number>, request: { iban: 1 } });
    c.set(moderationErrorKey, 'timeout');
    const line = formatLogfmt(buildAuditRecord(c, ok, config()));
    expect(line).toContain(' key_label=support-team redactions=email:2,phone:1 ');
    expect(line).toMatch(/ upstream_status=- moderation_error=timeout request_redactions=iban:1 tags=team:support,tier:gold$/);
    expect(line).not.toContain('Bad Key');
    expect(line).not.toContain('bogus');
    const rejected = ctx();
    rejected.set(quotaKey, { keys: [], reserved: [], kinds: [], promptEstimate: 0, completionReserve: 0, price: null, admitted: false, settled: false, rejectedBy: 'user 3 requests per minute' });
    expect(formatLogfmt(buildAuditRecord(rejected, ok, config()))).toMatch(/ upstream_status=- quota_limit="user 3 requests per minute" tags=/);
  });

  it('prompt and output are absent unless the policy opts in', () => {
    const rec = buildAuditRecord(ctx(), ok, config(), { passedChain: true, body: undefined, chunks: undefined });
    expect('prompt' in rec || 'output' in rec).toBe(false);
  });
});

describe('prompt and output text (prompts on)', () => {
  const answer = (content: string): ChatCompletion => ({
    id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });

  it('reads the answer at completion, so in-place redaction after the auditor saw the body is what gets recorded', () => {
    const hooks = auditHooks(config({ prompts: true }));
    const c = ctx();
    expect(hooks.onRequest?.(c)).toBeUndefined();
    const body = answer('mail alice@example.com now');
    hooks.onResponse!(body, c);
    // the redactor runs after the auditor in response order and rewrites in place
    body.choices[0]!.message.content = 'mail [EMAIL] now';
    const cap: Capture = { passedChain: true, body, chunks: undefined };
    expect(outputText(cap)).toBe('mail [EMAIL] now');
    (c.request as ChatRequest).messages[0]!.content = 'my mail is [EMAIL]';
    const rec = buildAuditRecord(c, ok, config({ prompts: true }), cap);
    expect(rec.prompt).toBe('user: my mail is [EMAIL]');
    expect(rec.output).toBe('mail [EMAIL] now');
    expect(Object.keys(rec).slice(-3)).toEqual(['tags', 'prompt', 'output']);
  });

  it('streams: chunk references are joined at completion, after in-place edits', () => {
    const hooks = auditHooks(config({ prompts: true }));
    const c = ctx({ stream: true });
    const chunk = (content: string): ChatCompletionChunk => ({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    const a = chunk('Hi alice@');
    const b = chunk('example.com!');
    expect(hooks.onChunk!(a, c)).toBe('pass');
    expect(hooks.onChunk!(b, c)).toBe('pass');
    a.choices[0]!.delta.content = 'Hi ';
    b.choices[0]!.delta.content = '[EMAIL]!';
    expect(outputText({ passedChain: true, body: undefined, chunks: [a, b] })).toBe('Hi [EMAIL]!');
  });

  it('output text of the other endpoints: text completions, Responses (JSON, and streamed from the terminal event), none for embeddings', () => {
    const text = { id: 'c', object: 'text_completion' as const, created: 1, model: 'm', choices: [{ index: 0, text: 'one', logprobs: null, finish_reason: 'stop' }, { index: 1, text: 'two', logprobs: null, finish_reason: 'stop' }] };
    expect(outputText({ passedChain: true, body: text, chunks: undefined })).toBe('one\ntwo');
    const message = { type: 'message', content: [{ type: 'output_text', text: 'Hi [EMAIL]' }, { type: 'refusal', refusal: 'no' }] };
    const resp = { id: 'r', object: 'response' as const, output: [{ type: 'reasoning', summary: [] }, message] };
    expect(outputText({ passedChain: true, body: resp, chunks: undefined })).toBe('Hi [EMAIL] no');
    const events = [
      { type: 'response.output_text.delta', delta: 'Hi ', sequence_number: 0 },
      { type: 'response.completed', response: resp, sequence_number: 1 },
    ];
    expect(outputText({ passedChain: true, body: undefined, chunks: events })).toBe('Hi [EMAIL] no');
    expect(outputText({ passedChain: true, body: undefined, chunks: events.slice(0, 1) })).toBe('Hi ');
    const legacy = [{ ...text, choices: [{ index: 0, text: 'par', logprobs: null, finish_reason: null }] }, { ...text, choices: [{ index: 0, text: 'tial', logprobs: null, finish_reason: 'stop' }] }];
    expect(outputText({ passedChain: true, body: undefined, chunks: legacy })).toBe('partial');
    expect(outputText({ passedChain: true, body: { object: 'list', model: 'm', data: [] }, chunks: undefined })).toBeNull();
  });

  it('a request stopped before the end of the request chain (so before request-scope redaction) has no prompt', () => {
    const rec = buildAuditRecord(ctx(), { status: 200, upstreamCalled: false, aborted: false, synthesized: true }, config({ prompts: true }),
      { passedChain: false, body: undefined, chunks: undefined });
    expect(rec.prompt).toBeNull();
    expect(rec.output).toBeNull();
  });

  it('the hooks without the opt-in are onComplete only (no per-chunk work)', () => {
    expect(Object.keys(auditHooks(config()))).toEqual(['onComplete']);
    expect(Object.keys(auditHooks(config({ prompts: true }))).sort()).toEqual(['onChunk', 'onComplete', 'onRequest', 'onResponse', 'requestAccess', 'responseAccess']);
  });

  it('prompt text lists every message as role: text, content parts included', () => {
    expect(promptText(readPrompt('chat', { model: 'm', messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'x' } }] },
    ] }))).toBe('system: Be brief.\nuser: What is this? [image_url]');
  });

  it('prompt text of a Responses request: instructions, input items, tool calls left out, tool results in', () => {
    expect(promptText(readPrompt('responses', { model: 'm', instructions: 'Be brief.', input: [
      { role: 'user', content: [{ type: 'input_text', text: 'Weather?' }, { type: 'input_image', image_url: 'x' }] },
      { type: 'function_call', call_id: 'c', name: 'weather', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c', output: 'Sunny' },
    ] }))).toBe('system: Be brief.\nuser: Weather? [input_image]\nassistant:\ntool: Sunny');
    expect(promptText(readPrompt('embeddings', { model: 'm', input: ['a b', 'c'] }))).toBe('user: a b c');
  });

  it('long text is cut and says how much was cut, never inside a surrogate pair', () => {
    const long = 'a'.repeat(MAX_TEXT - 1) + '😀' + 'b'.repeat(10);
    const cut = clipText(long);
    expect(cut).toBe(`${'a'.repeat(MAX_TEXT - 1)}…[12 more characters]`);
    expect(clipText('short')).toBe('short');
  });
});

describe('requests that never reached a policy', () => {
  const cases = [
    { note: 'bad JSON', code: 'GW_ERR_BAD_JSON', status: 400, reason: 'INVALID_REQUEST', route: 'v1' },
    { note: 'unknown policy', code: 'GW_ERR_POLICY_NOT_FOUND', status: 404, reason: 'NOT_FOUND', route: 'policy' },
    { note: 'unknown route', code: 'GW_ERR_ROUTE_NOT_FOUND', status: 404, reason: 'NOT_FOUND', route: 'unknown' },
    { note: 'body too large', code: 'GW_ERR_BODY_TOO_LARGE', status: 413, reason: 'INVALID_REQUEST', route: 'v1' },
    { note: 'shutting down', code: 'GW_ERR_SHUTTING_DOWN', status: 503, reason: 'SERVICE_UNAVAILABLE', route: 'v1' },
  ];
  it.each(cases)('$note: reject with the reason code of its error, no policy fields', ({ code, status, reason, route }) => {
    const rec = buildUnchainedRecord({ reqId: 'r9', route, status, error: gwError(code), durationMs: 1.5 }, T0 + 1.5);
    const line = formatLogfmt(rec);
    expect(line.startsWith(`2026-01-13T10:12:42Z policy_id=- decision=reject reason_code=${reason} policy_user=- policy_project_id=- request_id=r9 route=${route}`)).toBe(true);
    expect(parseLogfmt(line)).toMatchObject({ status: String(status), code, duration_ms: '1.5' });
    expect(Object.keys(rec)).toEqual(FIELD_ORDER.filter((k) => k !== 'prompt' && k !== 'output' && k !== 'replay'));
  });
});

describe('the request-path logfmt formatter', () => {
  // Any text, including quotes, `=`, spaces, control characters, "-", "" and lone surrogates.
  const text = fc.oneof(fc.constantFrom('', '-', 'a b', 'x=y', '"q"', 'back\\slash', 'line\nbreak', '\ud800', 'ok'), fc.string({ unit: 'binary', maxLength: 12 }));
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
  const num = fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.double({ noNaN: false }), fc.constant(Number.POSITIVE_INFINITY));
  const scenario = fc.record({
    user: maybe(text), project: maybe(text), target: maybe(text), id: text, route: fc.constantFrom('policy', 'v1'), stream: fc.boolean(),
    decision: fc.constantFrom('allow', 'refuse', 'rewrite', 'escalate'), effective: fc.constantFrom('allow', 'refuse'), reason: text,
    rollout: fc.constantFrom('enforced', 'shadow'), enforced: fc.boolean(), rule: maybe(text),
    categories: fc.array(text, { maxLength: 3 }), allow: fc.array(text, { maxLength: 3 }), deny: fc.array(text, { maxLength: 3 }),
    keyLabel: fc.oneof(fc.constant(undefined), text, fc.integer()), redactions: fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom('email', 'phone', 'Bad Key', 'ACCOUNT'), fc.oneof(num, text))),
    quotaLimit: fc.option(text, { nil: undefined }), moderationError: fc.option(text, { nil: undefined }),
    requestRedactions: fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom('email', 'iban', 'Bad Key'), fc.oneof(num, text))),
    usage: fc.option(fc.record({ prompt_tokens: fc.oneof(num, fc.constant(undefined), text), completion_tokens: fc.oneof(num, fc.constant(undefined)) }), { nil: undefined }),
    status: fc.constantFrom(0, 200, 401, 429, 502), error: fc.option(fc.constantFrom('GW_ERR_AUTH_INVALID', 'GW_ERR_RATE_LIMITED', 'GW_ERR_UPSTREAM_UNREACHABLE'), { nil: undefined }),
    upstreamCalled: fc.boolean(), aborted: fc.boolean(), synthesized: fc.boolean(), upstreamStart: fc.constantFrom(0, 1002), upstreamEnd: fc.constantFrom(0, 1100.5),
    upstreamStatus: fc.constantFrom(0, 200, 503), tags: fc.array(text, { maxLength: 3 }), prompts: fc.boolean(), passedChain: fc.boolean(), answer: maybe(text),
  });
  it('writes exactly formatLogfmt(buildAuditRecord(...)) for any context and outcome', () => {
    fc.assert(fc.property(scenario, (x) => {
      const c = ctxFor({ model: 'm', messages: [{ role: 'user', content: x.answer ?? 'hi' }], stream: x.stream },
        { id: x.id, now: () => T0, meta: { policyId: 'p', user: x.user, project: x.project, target: x.target } });
      Object.assign(c, { route: x.route, upstreamStatus: x.upstreamStatus, usage: x.usage });
      publishVerdict(c, { decision: x.decision, reasonCode: x.reason, rolloutMode: x.rollout, rule: x.rule, triggeredCategories: x.categories,
        allowlistHits: x.allow, denylistHits: x.deny });
      Object.assign(c.timings, { start: 1000, upstreamStart: x.upstreamStart, upstreamEnd: x.upstreamEnd, end: 1103.25 });
      if (x.keyLabel !== undefined) c.set(principalKey, { id: 'abcdefghijkl', label: x.keyLabel as string });
      if (x.redactions !== undefined || x.requestRedactions !== undefined) {
        c.set(redactionKey, { response: (x.redactions ?? {}) as Record<string, number>, request: (x.requestRedactions ?? {}) as Record<string, number> });
      }
      if (x.quotaLimit !== undefined) {
        c.set(quotaKey, { keys: [], reserved: [], kinds: [], promptEstimate: 0, completionReserve: 0, price: null, admitted: false, settled: false, rejectedBy: x.quotaLimit });
      }
      if (x.moderationError !== undefined) c.set(moderationErrorKey, x.moderationError);
      const outcome: Outcome = { status: x.status, error: x.error ? gwError(x.error) : undefined,
        upstreamCalled: x.upstreamCalled, aborted: x.aborted, synthesized: x.synthesized };
      const cfg = config({ tags: x.tags, prompts: x.prompts });
      const cap: Capture | undefined = x.prompts ? { passedChain: x.passedChain, body: x.answer === null ? undefined
        : { id: 'c', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: x.answer }, finish_reason: 'stop' }] } as ChatCompletion,
      chunks: undefined } : undefined;
      expect(formatRequestLogfmt(c, outcome, cfg, cap)).toBe(formatLogfmt(buildAuditRecord(c, outcome, cfg, cap)));
    }), { numRuns: 500 });
  });
});
