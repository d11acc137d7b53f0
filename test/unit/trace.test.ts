// The evaluation trace (src/sdk/trace.ts) and what it may show: in `all` mode (explain) every matched text; in `audit`
// mode (the live header) prompt text only when the policy's audit captures prompts and nothing was redacted in the
// request, and never a redacted span's original text. Bounds on steps, lists, texts; bad explain input never throws.
import { describe, expect, it } from 'vitest';
import { explainRequest, explainServices } from '../../src/author/explain.ts';
import { ChainRunner } from '../../src/chain/run-chain.ts';
import { runPolicy } from '../../src/chain/run-policy.ts';
import { compileSources } from '../../src/policy/load.ts';
import { MAX_TRACE_LIST, MAX_TRACE_STEPS, MAX_TRACE_TEXT, TraceRecorder, traceText, type TraceTextMode } from '../../src/sdk/trace.ts';
import type { ApiAnswer, ChatRequest } from '../../src/sdk/types.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';

const policy = (audit: string, redactRequest = false) => `policy "p" {
  topics { deny "competitor pricing" }
  respond { otherwise allow }
  redact response { email }
  ${redactRequest ? 'redact request { phone }' : ''}
  audit { ${audit} }
}
`;

async function traced(source: string, mode: TraceTextMode, content: string) {
  const loaded = compileSources(new Map([['p.policy', source]]), ALL_PLUGINS);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const services = explainServices(ALL_PLUGINS);
  const trace = new TraceRecorder(mode);
  const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content }] };
  const answer = { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'mail bob@example.com' }, finish_reason: 'stop' }] } as ApiAnswer;
  await runPolicy(loaded.set!.policies.get('p')!, { request, answer, trace }, { services, runner: new ChainRunner(services.metrics, 5000) });
  return trace.snapshot();
}

const topicsSpan = (snap: { steps: readonly Record<string, unknown>[] }) => ((snap.steps.find((s) => s.kind === 'topics')!.hits as Record<string, unknown>[])[0]!.span);
const responseSpans = (snap: { steps: readonly Record<string, unknown>[] }) => snap.steps.find((s) => s.kind === 'redaction' && s.scope === 'response')!.field_spans;

describe('what a trace may show', () => {
  it('all (explain): the matched prompt text and the original text of redacted spans', async () => {
    const snap = await traced(policy('prompts off'), 'all', 'about Competitor Pricing today');
    expect(snap.promptText).toBe(true);
    expect(topicsSpan(snap)).toEqual({ item: 0, start: 6, end: 24, text: 'Competitor Pricing' });
    expect(responseSpans(snap)).toEqual([{ start: 5, end: 20, type: 'email', original: 'bob@example.com' }]);
  });

  it('audit mode, prompts off: offsets and detector types, no text at all', async () => {
    const snap = await traced(policy('prompts off'), 'audit', 'about Competitor Pricing today');
    expect(snap.promptText).toBe(false);
    expect(topicsSpan(snap)).toEqual({ item: 0, start: 6, end: 24 });
    expect(responseSpans(snap)).toEqual([{ start: 5, end: 20, type: 'email' }]);
    expect(JSON.stringify(snap)).not.toMatch(/Competitor Pricing|bob@/);
  });

  it('audit mode, prompts on: the prompt text the audit record captures, never a redacted original', async () => {
    const snap = await traced(policy('prompts on'), 'audit', 'about Competitor Pricing today');
    expect(snap.promptText).toBe(true);
    expect(topicsSpan(snap)).toEqual({ item: 0, start: 6, end: 24, text: 'Competitor Pricing' });
    expect(JSON.stringify(snap)).not.toContain('bob@');
  });

  it('audit mode, prompts on, but the request was redacted: no prompt text (the audit holds only the redacted prompt)', async () => {
    const snap = await traced(policy('prompts on', true), 'audit', 'competitor pricing? call +1 415 555 0100');
    expect(snap.promptText).toBe(false);
    expect(snap.steps.find((s) => s.kind === 'redaction' && s.scope === 'request')!.field_spans).toEqual([{ start: 25, end: 40, type: 'phone' }]);
    expect(JSON.stringify(snap)).not.toMatch(/415 555|competitor pricing\?/);
  });
});

describe('trace bounds', () => {
  it('keeps at most MAX_TRACE_STEPS steps and counts the rest', () => {
    const t = new TraceRecorder('all');
    for (let i = 0; i < MAX_TRACE_STEPS + 5; i++) t.add({ plugin: 'x', kind: 'k', i });
    const snap = t.snapshot();
    expect(snap.steps).toHaveLength(MAX_TRACE_STEPS);
    expect(snap.dropped).toBe(5);
  });

  it('cuts long lists and long texts', () => {
    const t = new TraceRecorder('all');
    t.add({ plugin: 'x', kind: 'k', items: Array.from({ length: MAX_TRACE_LIST + 3 }, (_, i) => i) });
    const items = t.snapshot().steps[0]!.items as unknown[];
    expect(items).toHaveLength(MAX_TRACE_LIST + 1);
    expect(items.at(-1)).toBe('… 3 more');
    expect(traceText('a'.repeat(1000))).toHaveLength(MAX_TRACE_TEXT);
  });

  it('an untraced run gives the same verdict and answer as a traced one (tracing observes, never decides)', async () => {
    const loaded = compileSources(new Map([['p.policy', policy('prompts on')]]), ALL_PLUGINS);
    const p = loaded.set!.policies.get('p')!;
    const run = async (trace?: TraceRecorder) => {
      const services = explainServices(ALL_PLUGINS);
      const answer = { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'mail bob@example.com' }, finish_reason: 'stop' }] } as ApiAnswer;
      return runPolicy(p, { request: { model: 'm', messages: [{ role: 'user', content: 'competitor pricing' }] }, answer, trace }, { services, runner: new ChainRunner(services.metrics, 5000), now: () => 0 });
    };
    const plain = await run();
    const withTrace = await run(new TraceRecorder('all'));
    expect(withTrace.verdict).toEqual(plain.verdict);
    expect(withTrace.answer).toEqual(plain.answer);
  });
});

describe('explainRequest on bad input: a clear problem, never a throw', () => {
  const deep = (n: number): unknown => { let v: unknown = 'x'; for (let i = 0; i < n; i++) v = [v]; return v; };
  const cyclic: Record<string, unknown> = { model: 'm' };
  cyclic.self = cyclic;
  it.each([
    { note: 'a request that is not an object', request: 'hello', code: 'GW_ERR_BODY_NOT_OBJECT' },
    { note: 'a request without messages', request: { model: 'm' }, code: 'GW_ERR_MESSAGES_INVALID' },
    { note: 'a request nested 100,000 levels deep', request: { model: 'm', messages: [{ role: 'user', content: 'x' }], extra: deep(100_000) }, code: 'EXPLAIN_BAD_INPUT' },
    { note: 'a cyclic request', request: cyclic, code: 'EXPLAIN_BAD_INPUT' },
    { note: 'an answer nested too deeply', request: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, answer: { choices: deep(200) }, code: 'EXPLAIN_BAD_INPUT' },
    { note: 'an answer and a stream', request: { model: 'm', messages: [{ role: 'user', content: 'x' }] }, answer: {}, stream: [], code: 'EXPLAIN_BAD_INPUT' },
    { note: 'a request naming another policy', request: { model: 'm', messages: [{ role: 'user', content: 'x' }], policy_id: 'other' }, code: 'EXPLAIN_BAD_INPUT' },
  ])('$note → $code', async ({ request, answer, stream, code }) => {
    const r = await explainRequest({ policyId: 'p', rules: { source: policy('prompts off') }, request, answer, stream: stream as unknown[] | undefined });
    expect(r.ok).toBe(false);
    expect(r.problem!.code).toBe(code);
    expect(r.steps).toEqual([]);
  });
});
