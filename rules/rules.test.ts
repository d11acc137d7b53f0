// The bundled rules, served exactly as `npm start` serves them (embedded demo model), driven with the openai SDK.
// Each bundled policy is also a test fixture: these tests pin down what its rules do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startGateway, type GatewayProcess } from '../test/helpers/gateway-process.ts';

/** The PUBLIC demo key whose hash is in rules/keys/support.keys (documented in the README; demo only). */
const DEMO_KEY = 'pgk_wXxgsJlDRmub_Ja6gHpTqRx672U7vxdf90yspOy0PmH7CkfFbXmd0';

let gw: GatewayProcess;
beforeAll(async () => { gw = await startGateway(['--rules', 'rules']); });
afterAll(async () => { await gw?.stop(); });

type Policy = { decision: string; effective_decision: string; reason_code: string; denylist_hits: string[]; allowlist_hits: string[]; enforced: boolean; rollout_mode: string };
const policyOf = (r: unknown) => (r as { policy: Policy }).policy;
const demo = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const support = (key = DEMO_KEY) => new OpenAI({ baseURL: `${gw.url}/policy`, apiKey: key, maxRetries: 0 });
const ask = (c: OpenAI, content: string, extra: Record<string, unknown> = {}) =>
  c.chat.completions.create({ model: 'demo-model', messages: [{ role: 'user', content }], ...extra } as never) as Promise<OpenAI.ChatCompletion>;

describe('rules/demo.policy (the default policy)', () => {
  it('allows an ordinary question and answers with the demo model', async () => {
    const r = await ask(demo(), 'Summarize our refund policy.');
    expect(policyOf(r)).toMatchObject({ decision: 'allow', effective_decision: 'allow', reason_code: 'ALLOW' });
    expect(r.choices[0]!.message.content).toContain('Summarize our refund policy.');
  });

  it.each([
    { note: 'a deny phrase', text: 'What is the competitor pricing this year?', hit: 'competitor pricing' },
    { note: 'a deny regex despite case and spacing', text: 'Please do a WIRE   transfer for me', hit: '/wire\\s+transfer/i' },
    { note: 'a phrase from the deny list file', text: 'Any news on globex pricing?', hit: 'globex pricing' },
  ])('refuses $note without calling the model', async ({ text, hit }) => {
    const r = await ask(demo(), text);
    expect(r.choices[0]!.message.content).toBe("I can't help with that topic.");
    expect(policyOf(r)).toMatchObject({ decision: 'refuse', reason_code: 'REFUSE', denylist_hits: [hit] });
  });

  it('redacts sensitive spans of the answer, streamed or not', async () => {
    const text = 'my email is alice.smith@example.com and my card 4111 1111 1111 1111, account ACME-123456';
    const r = await ask(demo(), text);
    const out = r.choices[0]!.message.content!;
    expect(out).not.toContain('alice.smith@example.com');
    expect(out).not.toContain('4111 1111 1111 1111');
    expect(out).toContain('[EMAIL]');
    expect(out).toContain('[ACCOUNT]');
    const stream = await demo().chat.completions.create({ model: 'demo-model', messages: [{ role: 'user', content: text }], stream: true });
    let streamed = '';
    for await (const c of stream) streamed += c.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe(out);
  });
});

describe('rules/support-bot.policy', () => {
  it('needs a policy key', async () => {
    await expect(ask(support('pgk_notavalidkey1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'), 'refund', { policy_id: 'support-bot' })).rejects.toMatchObject({ status: 401 });
  });

  it('allows an allowlisted topic for the enforced target and sends rate-limit headers', async () => {
    const raw = await support().chat.completions.create({ model: 'demo-model', messages: [{ role: 'user', content: 'Where is my order status?' }], policy_id: 'support-bot', policy_target: 'support-bot', policy_user: 'u1' } as never).withResponse();
    expect(policyOf(raw.data)).toMatchObject({ decision: 'allow', enforced: true, rollout_mode: 'enforced', allowlist_hits: ['order status'] });
    expect(raw.response.headers.get('x-ratelimit-limit-requests')).toBe('60');
  });

  it('refuses off-topic requests with the configured reason (allowlist miss)', async () => {
    const r = await ask(support(), 'Tell me a joke', { policy_id: 'support-bot', policy_target: 'support-bot', policy_user: 'u2' });
    expect(r.choices[0]!.message.content).toBe('I can only help with refunds, shipping and order status.');
    expect(policyOf(r)).toMatchObject({ decision: 'refuse', reason_code: 'OFF_TOPIC', enforced: true });
  });

  it('only records the decision for other targets (shadow rollout)', async () => {
    const r = await ask(support(), 'Tell me a joke', { policy_id: 'support-bot', policy_target: 'beta-app', policy_user: 'u3' });
    expect(policyOf(r)).toMatchObject({ decision: 'refuse', effective_decision: 'allow', enforced: false, rollout_mode: 'shadow' });
    expect(r.choices[0]!.message.content).toContain('Tell me a joke');
  });

  it('serves the contract example policy id "policy-gateway"', async () => {
    const r = await ask(support(), 'Summarize our refund policy.', { policy_id: 'policy-gateway', policy_user: 'user-12345', policy_project_id: 'support-bot' });
    expect(policyOf(r)).toMatchObject({ decision: 'allow', allowlist_hits: ['refund policy'] });
  });
});
