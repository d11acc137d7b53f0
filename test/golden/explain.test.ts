// `explain` goldens (issue 15), text and JSON (test/golden/explain/): every decision type — allow, refuse (phrase, regex),
// allowlist miss, rewrite, summary, escalate, shadow and percentage rollout, quota rejection, auth failure — a stream whose
// redaction spans chunks, a draft that does not compile; each checked against the untraced run's verdict (the live path).
import { describe, expect, it } from 'vitest';
import { explainRequest, explainServices, renderExplain, type ExplainInput } from '../../src/author/explain.ts';
import { ChainRunner } from '../../src/chain/run-chain.ts';
import { runPolicy } from '../../src/chain/run-policy.ts';
import { parseApiRequest } from '../../src/http/parse-request.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import type { ApiAnswer, StreamChunk } from '../../src/sdk/types.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';

const RULES = 'test/golden/explain/rules';
/** The test keys whose digests test/golden/explain/rules/keys/golden.keys holds. */
const CI_KEY = `pgk_GoldenKey001_${'g'.repeat(20)}${'H'.repeat(20)}`;
/** A fixed clock: quota windows and key expiry read it. */
const NOW = Date.parse('2026-03-01T12:00:30Z');

const user = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'golden-model', messages: [{ role: 'user', content }], ...extra });
const completion = (content: string): ApiAnswer => ({
  id: 'chatcmpl-golden', object: 'chat.completion', created: 1_772_366_400, model: 'golden-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 20, total_tokens: 32 },
}) as ApiAnswer;
const chunk = (content: string | null, finish: string | null = null) => ({
  id: 'chatcmpl-golden', object: 'chat.completion.chunk', created: 1_772_366_400, model: 'golden-model',
  choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
});

interface Case { readonly name: string; readonly note: string; readonly input: Omit<ExplainInput, 'rules'> & { rules?: ExplainInput['rules'] } }

const cases: Case[] = [
  { name: 'allow-redacted', note: 'an allowed request: forwarded, its answer redacted with detector and span', input: {
    policyId: 'assistant', request: user('Summarize our refund policy.'), meta: { user: 'user-12345' },
    answer: completion('Refunds take 5 days. Questions: billing@example.com or +1 415 555 0100.') } },
  { name: 'refuse-denylist', note: 'a denylist hit refused: the phrase, its line and the matched span', input: {
    policyId: 'assistant', request: user('Hi! What is the Competitor  Pricing for plans?') } },
  { name: 'refuse-regex', note: 'a denylist regex refused, and the answer given is not used', input: {
    policyId: 'assistant', request: user('How do I set up a wire transfer?'), answer: completion('unused') } },
  { name: 'allowlist-miss', note: 'an allowlist configured and nothing on it matched: refused with the rule\'s reason', input: {
    policyId: 'support', request: user('What will the weather be tomorrow?') } },
  { name: 'rewrite', note: 'a flagged category above its threshold rewrites: the instruction sent upstream', input: {
    policyId: 'assistant', request: user('I want to kill myself tonight'), answer: completion('You are not alone. Please call a crisis line.') } },
  { name: 'summary', note: 'a summary rule: instruction and token cap sent upstream', input: {
    policyId: 'assistant', request: user('Describe the battle scene in graphic detail with all the gore') } },
  { name: 'escalate', note: 'an escalation: the holding message, no upstream call, no webhook sent by explain', input: {
    policyId: 'legal', request: user('We are preparing a lawsuit against your company') } },
  { name: 'shadow', note: 'a shadow rollout: decided refuse, effective allow, nothing applied', input: {
    policyId: 'staged', request: user('competitor pricing please'), meta: { target: 'beta' } } },
  { name: 'percentage-rollout', note: 'a percentage rollout: the user bucket against the rule\'s threshold', input: {
    policyId: 'staged', request: user('competitor pricing please', { policy_target: 'canary', policy_user: 'user-7' }) } },
  { name: 'quota-rejected', note: 'a quota rejection: the token limit the request would break', input: {
    policyId: 'locked', request: user('Write a long essay', { max_tokens: 4000 }), meta: { user: 'user-1', headers: { Authorization: `Bearer ${CI_KEY}` }, now: NOW } } },
  { name: 'auth-failed', note: 'an auth failure: no key sent to a policy with an auth block', input: {
    policyId: 'locked', request: user('hello'), meta: { now: NOW } } },
  { name: 'stream-redaction', note: 'a stream whose e-mail address and card number are split across chunks', input: {
    policyId: 'assistant', request: user('How do I reach support?'),
    stream: [chunk('Write to sup'), chunk('port@exa'), chunk('mple.com, or pay with 4111 1111'), chunk(' 1111 1111 today.'), chunk(null, 'stop')] } },
  { name: 'draft-invalid', note: 'a draft that does not compile: its diagnostics, nothing evaluated', input: {
    policyId: 'draft', rules: { source: 'policy "draft" {\n  respond { otherwise alow }\n}\n', file: 'draft.policy' }, request: user('hello') } },
];

const loaded = await loadPolicies([RULES], ALL_PLUGINS);
const set = loaded.set!;

describe('explain goldens', () => {
  it('the golden rules load', () => {
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it.each(cases)('$name: $note', async ({ name, input }) => {
    const result = await explainRequest({ ...input, rules: input.rules ?? set, meta: { now: NOW, ...input.meta } });
    await expect(renderExplain(result)).toMatchFileSnapshot(`./explain/${name}.txt`);
    await expect(`${JSON.stringify(result, null, 2)}\n`).toMatchFileSnapshot(`./explain/${name}.json`);
    if (!result.ok) return;
    // The trace is what the live path decides: the same request run untraced gives the same verdict and action.
    const policy = set.policies.get(input.policyId)!;
    const services = explainServices(ALL_PLUGINS);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.meta?.headers ?? {})) headers[k.toLowerCase()] = v;
    if (input.meta?.user) headers['x-policy-user'] = input.meta.user;
    if (input.meta?.target) headers['x-policy-target'] = input.meta.target;
    const body = input.stream ? { stream: true, ...(input.request as object) } : input.request;
    const parsed = parseApiRequest('chat', Buffer.from(JSON.stringify(body)), headers);
    const live = await runPolicy(policy, {
      request: parsed.request, meta: { user: parsed.user, project: parsed.project, target: parsed.target }, headers,
      answer: input.answer as ApiAnswer | undefined, stream: input.stream as StreamChunk[] | undefined,
    }, { services, runner: new ChainRunner(services.metrics, 5000), now: () => NOW });
    expect(result.verdict).toMatchObject({
      decision: live.verdict.decision, effective_decision: live.verdict.effectiveDecision, reason_code: live.verdict.reasonCode,
      rollout_mode: live.verdict.rolloutMode, rule: live.verdict.rule,
    });
    expect(result.outcome!.action).toBe(live.action);
    expect(result.outcome!.answer).toEqual(live.answer ?? null);
    expect(result.outcome!.stream).toEqual(live.stream?.map((e) => (e as { policy?: unknown }).policy ? { ...e, id: expect.any(String) } : e) ?? null);
  });

  it('every step comes in the decision flow\'s order', async () => {
    const order = ['metadata', 'auth', 'quota', 'rollout', 'topics', 'moderation', 'decide', 'redaction', 'audit'];
    for (const c of cases) {
      const r = await explainRequest({ ...c.input, rules: c.input.rules ?? set, meta: { now: NOW, ...c.input.meta } });
      const kinds = r.steps.map((s) => s.kind);
      expect(kinds, c.name).toEqual([...kinds].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    }
  });

  it('the stream span across chunks names the chunks it came in, and the answer carries no address', async () => {
    const c = cases.find((x) => x.name === 'stream-redaction')!;
    const r = await explainRequest({ ...c.input, rules: set, meta: { now: NOW } });
    const red = r.steps.find((s) => s.kind === 'redaction' && s.scope === 'response')!;
    expect(red.field_spans).toEqual([
      { start: 9, end: 28, type: 'email', original: 'support@example.com', chunks: [0, 2] },
      { start: 42, end: 61, type: 'credit_card', original: '4111 1111 1111 1111', chunks: [2, 3] },
    ]);
    expect(JSON.stringify(r.outcome!.stream)).not.toMatch(/support@|4111/);
  });
});
