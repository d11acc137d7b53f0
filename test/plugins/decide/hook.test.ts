// decide's onRequest on a real RequestContext: the verdict fields, each enforced effect (exact request rewriting,
// local answers), and shadow vs enforced on the same request with the rollout plugin running first.
import { describe, expect, it } from 'vitest';
import { decidePlugin } from '../../../plugins/decide/index.ts';
import { rolloutPlugin } from '../../../plugins/rollout/index.ts';
import { decisionKey, moderationKey, rolloutKey, topicsKey, type ModerationResult, type TopicsResult } from '../../../src/sdk/state-keys.ts';
import type { RequestContext } from '../../../src/sdk/context.ts';
import type { ChatRequest } from '../../../src/sdk/types.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compileClean } from './policy-helpers.ts';

const F = 'rules/test.policy';
const config = compileClean(decidePlugin, `  respond {
    when "sexual/minors" escalate reason "CSAM_REVIEW" with "A specialist will follow up."
    when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care; point to professional support resources."
    when "violence/*" summary max_tokens 150 with "Give only a brief, high-level answer."
    when denylist refuse with "I can't help with that topic."
    when allowlist_miss refuse reason "OFF_TOPIC" with "I can only help with refunds and shipping."
    otherwise allow
    escalation { url "http://127.0.0.1:9/hook"; retries 0; timeout 1s }
  }`);
const hooks = decidePlugin.hooks(config);

const topics = (p: Partial<TopicsResult>): TopicsResult => ({ allowlistConfigured: false, allowlistHits: [], denylistHits: [], denyRule: null, ...p });
const moderation = (flagged: string[]): ModerationResult => ({ flagged, scores: {}, provider: 'builtin', rules: {} });
const userMsg = (text: string): ChatRequest => ({ model: 'm', messages: [{ role: 'user', content: text }] });

function ctxWith(req: ChatRequest, t?: Partial<TopicsResult>, flagged?: string[], mode: 'enforced' | 'shadow' = 'enforced'): RequestContext {
  const ctx = ctxFor(req, { meta: { policyId: 'test-policy', user: 'u-1', project: 'proj', target: 'bot' } });
  if (t) ctx.set(topicsKey, topics(t));
  if (flagged) ctx.set(moderationKey, moderation(flagged));
  ctx.set(rolloutKey, { mode, rule: null, source: 'default' });
  return ctx;
}

describe('verdict fields', () => {
  it.each([
    { note: 'allow: nothing changes, the otherwise rule is named', t: {}, flagged: [] as string[],
      want: { decision: 'allow', effectiveDecision: 'allow', reasonCode: 'ALLOW', rule: `${F}:8`, enforced: true } },
    { note: 'refuse on a denylist hit', t: { denylistHits: ['competitor pricing'] }, flagged: [],
      want: { decision: 'refuse', effectiveDecision: 'refuse', reasonCode: 'REFUSE', rule: `${F}:6`, enforced: true } },
    { note: 'allowlist miss', t: { allowlistConfigured: true }, flagged: [],
      want: { decision: 'refuse', effectiveDecision: 'refuse', reasonCode: 'OFF_TOPIC', rule: `${F}:7`, enforced: true } },
    { note: 'rewrite on self-harm', t: {}, flagged: ['self-harm/intent'],
      want: { decision: 'rewrite', effectiveDecision: 'rewrite', reasonCode: 'SELF_HARM', rule: `${F}:4`, enforced: true } },
  ])('$note', ({ t, flagged, want }) => {
    const ctx = ctxWith(userMsg('hello'), t, flagged);
    void hooks.onRequest!(ctx);
    const v = ctx.verdict;
    expect({ decision: v.decision, effectiveDecision: v.effectiveDecision, reasonCode: v.reasonCode, rule: v.rule, enforced: v.enforced }).toEqual(want);
    expect(ctx.get(decisionKey)?.decision).toBe(want.decision);
  });

  it('copies triggered categories sorted and de-duplicated, and the topic hits', () => {
    const ctx = ctxWith(userMsg('x'), { allowlistConfigured: true, allowlistHits: ['refund policy'], denylistHits: ['wire transfer'] },
      ['violence', 'hate', 'violence', 'self-harm']);
    void hooks.onRequest!(ctx);
    expect(ctx.verdict.triggeredCategories).toEqual(['hate', 'self-harm', 'violence']);
    expect(ctx.verdict.allowlistHits).toEqual(['refund policy']);
    expect(ctx.verdict.denylistHits).toEqual(['wire transfer']);
  });

  it('without topics and moderation state (plugins off) the request is allowed', () => {
    const ctx = ctxWith(userMsg('x'));
    expect(hooks.onRequest!(ctx)).toBeUndefined();
    expect([ctx.verdict.decision, ctx.verdict.reasonCode]).toEqual(['allow', 'ALLOW']);
  });
});

describe('enforced effects', () => {
  it('refuse answers locally with the rule text and leaves the request alone', () => {
    const req = userMsg('how much does the competitor charge');
    const ctx = ctxWith(req, { denylistHits: ['competitor pricing'] });
    expect(hooks.onRequest!(ctx)).toEqual({ kind: 'respond', content: "I can't help with that topic." });
    expect(ctx.request).toEqual(userMsg('how much does the competitor charge'));
  });

  it('an allowlist miss answers with the allowlist_miss text', () => {
    const ctx = ctxWith(userMsg('tell me a joke'), { allowlistConfigured: true });
    expect(hooks.onRequest!(ctx)).toEqual({ kind: 'respond', content: 'I can only help with refunds and shipping.' });
  });

  const INSTR = 'Answer with care; point to professional support resources.';
  it.each([
    { note: 'rewrite inserts a system message first when there is none',
      messages: [{ role: 'user', content: 'q' }],
      want: [{ role: 'system', content: INSTR }, { role: 'user', content: 'q' }] },
    { note: 'rewrite appends to an existing first system message after a blank line',
      messages: [{ role: 'system', content: 'You are a support bot.' }, { role: 'user', content: 'q' }],
      want: [{ role: 'system', content: `You are a support bot.\n\n${INSTR}` }, { role: 'user', content: 'q' }] },
    { note: 'rewrite appends a text part to a system message made of parts',
      messages: [{ role: 'system', content: [{ type: 'text', text: 'Be brief.' }] }, { role: 'user', content: 'q' }],
      want: [{ role: 'system', content: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: INSTR }] }, { role: 'user', content: 'q' }] },
    { note: 'rewrite treats a first developer message like a system message',
      messages: [{ role: 'developer', content: 'Dev rules.' }, { role: 'user', content: 'q' }],
      want: [{ role: 'developer', content: `Dev rules.\n\n${INSTR}` }, { role: 'user', content: 'q' }] },
    { note: 'rewrite fills an empty first system message',
      messages: [{ role: 'system', content: '' }, { role: 'user', content: 'q' }],
      want: [{ role: 'system', content: INSTR }, { role: 'user', content: 'q' }] },
    { note: 'a system message that is not first is left alone and a new one goes first',
      messages: [{ role: 'user', content: 'q' }, { role: 'system', content: 'late' }],
      want: [{ role: 'system', content: INSTR }, { role: 'user', content: 'q' }, { role: 'system', content: 'late' }] },
  ])('$note', ({ messages, want }) => {
    const msgs = structuredClone(messages) as ChatRequest['messages'];
    const clientFirst = msgs[0]!;
    const clientFirstCopy = structuredClone(clientFirst);
    const req: ChatRequest = { model: 'm', messages: msgs, temperature: 0.2 };
    const ctx = ctxWith(req, {}, ['self-harm/intent']);
    expect(hooks.onRequest!(ctx)).toBeUndefined();
    expect(ctx.request).toEqual({ model: 'm', messages: want, temperature: 0.2 });
    // The client's own message object is replaced, not mutated.
    expect(clientFirst).toEqual(clientFirstCopy);
  });

  const SUM = 'Give only a brief, high-level answer.';
  it.each([
    { note: 'summary sets max_tokens to the cap when the client sent none', extra: {}, want: { max_tokens: 150 } },
    { note: 'summary keeps a smaller client max_tokens', extra: { max_tokens: 100 }, want: { max_tokens: 100 } },
    { note: 'summary lowers a larger client max_tokens to the cap', extra: { max_tokens: 4096 }, want: { max_tokens: 150 } },
    { note: 'summary caps max_completion_tokens alone when the client sent only that', extra: { max_completion_tokens: 900 },
      want: { max_completion_tokens: 150 } },
    { note: 'summary caps both fields when both are present', extra: { max_tokens: 120, max_completion_tokens: 900 },
      want: { max_tokens: 120, max_completion_tokens: 150 } },
  ])('$note', ({ extra, want }) => {
    const req: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'how do explosives work' }], stream: true, ...extra };
    const ctx = ctxWith(req, {}, ['violence']);
    expect(hooks.onRequest!(ctx)).toBeUndefined();
    expect(ctx.request).toEqual({
      model: 'm', stream: true, ...want,
      messages: [{ role: 'system', content: SUM }, { role: 'user', content: 'how do explosives work' }],
    });
  });

  it('escalate answers with the holding message and queues one background task', () => {
    const services = testServices();
    const ctx = ctxFor(userMsg('x'), { services, meta: { policyId: 'test-policy' } });
    ctx.set(moderationKey, moderation(['sexual/minors']));
    expect(hooks.onRequest!(ctx)).toEqual({ kind: 'respond', content: 'A specialist will follow up.' });
    expect(services.tasks).toHaveLength(1);
    expect([ctx.verdict.decision, ctx.verdict.reasonCode]).toEqual(['escalate', 'CSAM_REVIEW']);
  });
});

describe('shadow vs enforced on the same request', () => {
  // rollout runs first in the chain and sets the mode from policy_target; decide reads it.
  const rollout = rolloutPlugin.hooks(compileClean(rolloutPlugin, `  rollout {
    enforce target "prod"
    shadow target "*"
  }`));

  const make = (target: string, services = testServices()) => {
    const req: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'q' }], max_tokens: 1000 };
    const ctx = ctxFor(req, { services, meta: { policyId: 'test-policy', user: 'u', target } });
    return ctx;
  };
  const run = (ctx: RequestContext) => { void rollout.onRequest!(ctx); return hooks.onRequest!(ctx); };

  it.each([
    { note: 'refuse', set: (c: RequestContext) => c.set(topicsKey, topics({ denylistHits: ['x'] })), decision: 'refuse', reason: 'REFUSE' },
    { note: 'rewrite', set: (c: RequestContext) => c.set(moderationKey, moderation(['self-harm'])), decision: 'rewrite', reason: 'SELF_HARM' },
    { note: 'summary', set: (c: RequestContext) => c.set(moderationKey, moderation(['violence'])), decision: 'summary', reason: 'SUMMARY' },
    { note: 'escalate', set: (c: RequestContext) => c.set(moderationKey, moderation(['sexual/minors'])), decision: 'escalate', reason: 'CSAM_REVIEW' },
    { note: 'allowlist miss', set: (c: RequestContext) => c.set(topicsKey, topics({ allowlistConfigured: true })), decision: 'refuse', reason: 'OFF_TOPIC' },
  ])('$note: enforced applies it, shadow records it and passes the request unchanged', ({ set, decision, reason }) => {
    const enforcedServices = testServices();
    const shadowServices = testServices();
    const enforced = make('prod', enforcedServices);
    const shadow = make('beta', shadowServices);
    set(enforced);
    set(shadow);
    const before = structuredClone(shadow.request);
    const eAction = run(enforced);
    const sAction = run(shadow);

    expect(enforced.verdict).toMatchObject({ decision, effectiveDecision: decision, reasonCode: reason, rolloutMode: 'enforced', enforced: true });
    expect(shadow.verdict).toMatchObject({ decision, effectiveDecision: 'allow', reasonCode: reason, rolloutMode: 'shadow', enforced: false });
    expect(shadow.verdict.rule).toBe(enforced.verdict.rule);
    expect(sAction).toBeUndefined();
    expect(shadow.request).toEqual(before);
    expect(shadowServices.tasks).toHaveLength(0);
    if (decision === 'refuse' || decision === 'escalate') expect(eAction).toMatchObject({ kind: 'respond' });
    else expect(enforced.request).not.toEqual(before);
    expect(enforcedServices.tasks).toHaveLength(decision === 'escalate' ? 1 : 0);
  });
});
