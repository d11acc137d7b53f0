// One request through a compiled policy in-process (runPolicy: what `test`, `explain` and `replay` run) gives the same
// verdict, upstream request and answer as the real gateway over HTTP: both drive the same chain-layer phases on a context
// from the same constructor; every endpoint's request, and streamed answers, run the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { ChainRunner } from '../../src/chain/run-chain.ts';
import { runPolicy } from '../../src/chain/run-policy.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import type { CompiledPolicySet } from '../../src/policy/types.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, PolicyBlock, ResponseObject, ResponsesRequest } from '../../src/sdk/types.ts';
import { redactionKey } from '../../src/sdk/state-keys.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { FAKE_ANSWER, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { ROOT, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { testServices } from '../helpers/ctx.ts';

let up: FakeUpstream;
let gw: GatewayProcess;
let set: CompiledPolicySet;
const services = testServices();
const runner = new ChainRunner(services.metrics, 5000);

beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(['--rules', path.join(ROOT, 'rules'), '--upstream', up.baseUrl, '--audit', 'off']);
  const loaded = await loadPolicies([path.join(ROOT, 'rules')], ALL_PLUGINS);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  set = loaded.set!;
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

/** The upstream's answer to `request` (what the gateway would get): the fake model asked directly. */
async function upstreamAnswer(request: ChatRequest): Promise<ChatCompletion> {
  const r = await fetch(`${up.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  return (await r.json()) as ChatCompletion;
}

const cases = [
  { note: 'an allowed request: the answer comes back redacted', text: 'Summarize our refund policy.', action: 'forward', decision: 'allow' },
  { note: 'a denylist hit is refused by the policy', text: 'What is the competitor pricing?', action: 'respond', decision: 'refuse' },
  { note: 'self-harm is answered with the policy\'s instruction added', text: 'I want to kill myself tonight', action: 'forward', decision: 'rewrite' },
];

describe('runPolicy in-process matches the gateway over HTTP', () => {
  it.each(cases)('$note', async ({ text, action, decision }) => {
    const request: ChatRequest = { model: 'fake-model', messages: [{ role: 'user', content: text }] };
    const before = up.received.length;
    const http = await fetch(`${gw.url}/policy/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, policy_id: 'demo', policy_user: 'u-1' }),
    });
    expect(http.status).toBe(200);
    const viaHttp = (await http.json()) as ChatCompletion & { policy: PolicyBlock };
    const sentUpstream = up.received.length > before ? up.received.at(-1)!.body : undefined;

    const policy = set.policies.get('demo')!;
    const first = await runPolicy(policy, { request, meta: { user: 'u-1' } }, { services, runner });
    expect(first.action).toBe(action);
    const inProcess = action === 'forward'
      ? await runPolicy(policy, { request, meta: { user: 'u-1' }, answer: await upstreamAnswer(first.request as ChatRequest) }, { services, runner })
      : first;

    expect(inProcess.verdict.decision).toBe(decision);
    const block = inProcess.answer?.policy ?? viaHttp.policy; // a local answer: compare the verdict below
    expect(viaHttp.policy).toEqual(block);
    expect({ ...viaHttp.policy }).toMatchObject({
      decision: inProcess.verdict.decision, effective_decision: inProcess.verdict.effectiveDecision, reason_code: inProcess.verdict.reasonCode,
      triggered_categories: [...inProcess.verdict.triggeredCategories], denylist_hits: [...inProcess.verdict.denylistHits], policy_user: 'u-1',
    });
    if (action === 'forward') {
      expect(sentUpstream).toEqual(inProcess.request);
      const answer = inProcess.answer as ChatCompletion;
      expect(viaHttp.choices[0]!.message.content).toBe(answer.choices[0]!.message.content);
      expect(answer.choices[0]!.message.content).not.toContain('alice@example.com');
      expect(FAKE_ANSWER).toContain('alice@example.com');
    } else {
      expect(sentUpstream).toBeUndefined();
      expect(viaHttp.choices[0]!.message.content).toBe(inProcess.content);
    }
  });

  it('never changes the request or answer it is given', async () => {
    const request: ChatRequest = { model: 'fake-model', messages: [{ role: 'user', content: 'I want to kill myself tonight' }] };
    const answer = await upstreamAnswer(request);
    const copies = structuredClone({ request, answer });
    const r = await runPolicy(set.policies.get('demo')!, { request, answer }, { services, runner });
    expect((r.request as ChatRequest).messages.length).toBeGreaterThan(1); // the rewrite instruction went into the run's copy
    expect({ request, answer }).toEqual(copies);
  });
});

describe('runPolicy on the other endpoints (the same chain reads every endpoint the same way)', () => {
  const response = (text: string): ResponseObject => ({
    id: 'resp_1', object: 'response', status: 'completed',
    output: [{ type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] }],
    usage: { input_tokens: 7, output_tokens: 5, total_tokens: 12 },
  });

  it.each([
    { note: 'Responses: a denylist hit in the input is refused', endpoint: 'responses' as const, request: { model: 'm', input: 'What is the competitor pricing?' }, action: 'respond', decision: 'refuse' },
    { note: 'Responses: a denylist hit in a user message item is refused', endpoint: 'responses' as const,
      request: { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'competitor pricing please' }] }] }, action: 'respond', decision: 'refuse' },
    { note: 'embeddings: a denylist hit in any input is refused', endpoint: 'embeddings' as const, request: { model: 'm', input: ['fine', 'competitor pricing'] }, action: 'respond', decision: 'refuse' },
    { note: 'completions: a denylist hit in the prompt is refused', endpoint: 'completions' as const, request: { model: 'm', prompt: 'competitor pricing' }, action: 'respond', decision: 'refuse' },
  ])('$note', async ({ endpoint, request, action, decision }) => {
    const r = await runPolicy(set.policies.get('demo')!, { endpoint, request }, { services, runner });
    expect([r.action, r.verdict.decision]).toEqual([action, decision]);
    expect(r.verdict.denylistHits).toEqual(['competitor pricing']);
  });

  it('Responses: a rewrite goes into instructions; the answer is redacted and carries the policy block', async () => {
    const r = await runPolicy(set.policies.get('demo')!, {
      endpoint: 'responses', request: { model: 'm', instructions: 'Be kind.', input: 'I want to kill myself tonight' }, answer: response('Write to alice@example.com.'),
    }, { services, runner });
    expect(r.verdict.decision).toBe('rewrite');
    expect((r.request as ResponsesRequest).instructions).toMatch(/^Be kind\.\n\n\S/);
    const answer = r.answer as ResponseObject;
    expect((answer.output[0]!.content as { text: string }[])[0]!.text).toBe('Write to [EMAIL].');
    expect(answer.policy?.decision).toBe('rewrite');
  });
});

describe('runPolicy on a streamed answer (stream) matches the gateway\'s SSE path', () => {
  /** The data events of an SSE body, parsed (without [DONE]). */
  const events = (sse: string) => sse.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]').map((e) => JSON.parse(e.slice(6)) as ChatCompletionChunk);
  const text = (chunks: readonly ChatCompletionChunk[]) => chunks.map((c) => c.choices.map((ch) => ch.delta?.content ?? '').join('')).join('');

  it('the same chunks give the same redacted text and policy block in-process as over HTTP', async () => {
    const request: ChatRequest = { model: 'split-sse', messages: [{ role: 'user', content: 'Summarize our refund policy.' }], stream: true };
    const upstream = await fetch(`${up.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    const given = events(await upstream.text());
    expect(text(given)).toContain('alice@example.com');
    const http = await fetch(`${gw.url}/policy/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, policy_id: 'demo', policy_user: 'u-1' }),
    });
    const viaHttp = events(await http.text());
    const r = await runPolicy(set.policies.get('demo')!, { request, meta: { user: 'u-1' }, stream: given }, { services, runner });
    const inProcess = r.stream as ChatCompletionChunk[];
    expect(text(inProcess)).toBe(text(viaHttp));
    expect(text(inProcess)).toContain('[EMAIL]');
    expect(text(inProcess)).not.toContain('alice@example.com');
    expect(inProcess.at(-1)!.policy).toEqual(viaHttp.at(-1)!.policy);
    expect(r.context.get(redactionKey)?.response).toEqual({ email: 1 });
  });
});
