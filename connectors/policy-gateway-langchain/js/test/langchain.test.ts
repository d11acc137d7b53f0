// LangChain.js through the real gateway: `invoke` and `stream` of the ChatOpenAI that buildPolicyGatewayChat
// returns, the audit callback handler recording each answer's policy block, and refusals, 429 and the other gateway
// errors surfacing as LangChain errors that carry the OpenAI error body and headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIMessageChunk } from '@langchain/core/messages';
import { concat } from '@langchain/core/utils/stream';
import { buildPolicyGatewayChat, policyAuditHandlerOf, PolicyAuditCallbackHandler, type PolicyAuditRecord, type PolicyGatewayChatOptions } from '../src/index.ts';
import { startConnectorFixture, type ConnectorFixture } from '../../../testing/fixture.ts';
import { parseLogfmt } from '../../../../test/plugins/auditor/helpers.ts';

const ANSWER = 'Hello from the fake upstream. Contact me at [EMAIL].';
let f: ConnectorFixture;
let seq = 0;
beforeAll(async () => { f = await startConnectorFixture(); });
afterAll(async () => { await f?.stop(); });

/** A gateway chat model as the quickstart builds it, against the fixture. */
function llm(extra: PolicyGatewayChatOptions = {}) {
  return buildPolicyGatewayChat({
    apiKey: f.key,
    policyId: 'policy-gateway',
    policyUser: 'user-12345',
    policyProjectId: 'support-bot',
    baseUrl: `${f.url}/policy`,
    model: 'fake-model',
    maxRetries: 0,
    ...extra,
  });
}

async function auditOf(requestId: string): Promise<Record<string, string | null>> {
  let line: string | undefined;
  await expect.poll(() => (line = f.auditLines().find((l) => l.includes(` request_id=${requestId} `))), { timeout: 5000 }).toBeDefined();
  return parseLogfmt(line!);
}

/** Runs `fn`, expecting it to throw; returns the error. */
async function thrown(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('invoke', () => {
  it('answers through the gateway and the callback handler records the policy block of the answer', async () => {
    const model = llm();
    const handler = policyAuditHandlerOf(model)!;
    expect(handler).toBeInstanceOf(PolicyAuditCallbackHandler);
    const msg = await model.invoke(f.prompts.allow);
    expect(msg.content).toBe(ANSWER);
    expect(handler.records).toHaveLength(1);
    const rec = handler.records[0]!;
    expect(rec).toMatchObject({ status: 200, responseId: msg.id });
    expect(rec.policy).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', reason_code: 'ALLOW', policy_user: 'user-12345', project_id: 'support-bot', allowlist_hits: ['refund policy'] });
    expect(handler.policyFor(msg)).toEqual(rec.policy);
    // the headers and the body field reached the gateway: its audit record says so
    expect(await auditOf(rec.requestId!)).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', policy_user: 'user-12345', policy_project_id: 'support-bot', key_label: 'connector-tests' });
  });

  it('records rewrite and refusal decisions; a refusal is an ordinary answer by default', async () => {
    const records: PolicyAuditRecord[] = [];
    const handler = new PolicyAuditCallbackHandler({ onRecord: (r) => records.push(r) });
    const model = llm({ auditHandler: handler });
    const refused = await model.invoke(f.prompts.deny);
    expect(refused.content).toBe("I can't help with that topic.");
    const rewritten = await model.invoke(f.prompts.rewrite);
    expect(rewritten.content).toBe(ANSWER);
    expect(records.map((r) => [r.policy?.decision, r.policy?.reason_code])).toEqual([['refuse', 'REFUSE'], ['rewrite', 'REWRITE']]);
    expect(records[1]!.policy!.triggered_categories).toEqual(['self-harm', 'self-harm/intent']);
  });

  it('keeps the gateway wiring through withConfig, and several concurrent calls get their own blocks', async () => {
    const model = llm({ policyUser: undefined });
    const handler = policyAuditHandlerOf(model)!;
    const bound = model.withConfig({ stop: ['never-in-the-answer'] });
    const answers = await Promise.all([bound.invoke(f.prompts.allow), bound.invoke(f.prompts.deny), bound.invoke(f.prompts.offTopic)]);
    expect(answers.map((a) => a.content)).toEqual([ANSWER, "I can't help with that topic.", 'I can only help with refunds and shipping.']);
    // the gateway's own refusals have unique ids; the two refusals are matched to their own answers
    expect(handler.policyFor(answers[1]!)?.reason_code).toBe('REFUSE');
    expect(handler.policyFor(answers[2]!)?.reason_code).toBe('OFF_TOPIC');
    expect(handler.records).toHaveLength(3);
  });
});

describe('stream', () => {
  it('streams chunk by chunk and the handler records the policy block from the last SSE chunk', async () => {
    const model = llm();
    const handler = policyAuditHandlerOf(model)!;
    let full: AIMessageChunk | undefined;
    let chunks = 0;
    for await (const chunk of await model.stream(f.prompts.allow)) {
      full = full ? concat(full, chunk) : chunk;
      chunks++;
    }
    expect(chunks).toBeGreaterThan(5);
    expect(full!.content).toBe(ANSWER);
    expect(handler.records).toHaveLength(1);
    expect(handler.records[0]!.policy).toMatchObject({ decision: 'allow', policy_user: 'user-12345', project_id: 'support-bot' });
    expect(handler.policyFor(full!)).toEqual(handler.records[0]!.policy);
  });

  it('streams a refusal as text by default, with its decision recorded', async () => {
    const model = llm();
    let text = '';
    for await (const chunk of await model.stream(f.prompts.offTopic)) text += chunk.content;
    expect(text).toBe('I can only help with refunds and shipping.');
    expect(policyAuditHandlerOf(model)!.records[0]!.policy).toMatchObject({ decision: 'refuse', reason_code: 'OFF_TOPIC' });
  });
});

describe('errors surface as LangChain errors with the OpenAI error body', () => {
  it('refusalsAsErrors: invoke and stream raise a 403 policy_refusal carrying the reason code and the policy block', async () => {
    const model = llm({ refusalsAsErrors: true });
    const handler = policyAuditHandlerOf(model)!;
    const e = await thrown(() => model.invoke(f.prompts.deny));
    expect(e.status).toBe(403);
    expect(e.error).toMatchObject({ message: "I can't help with that topic.", type: 'policy_refusal', param: null, code: 'REFUSE' });
    expect(e.error.policy).toMatchObject({ decision: 'refuse', denylist_hits: ['competitor pricing'] });
    const s = await thrown(async () => { for await (const _ of await model.stream(f.prompts.offTopic)) { /* drain */ } });
    expect(s.status).toBe(403);
    expect(s.error).toMatchObject({ message: 'I can only help with refunds and shipping.', type: 'policy_refusal', code: 'OFF_TOPIC' });
    expect(handler.records.map((r) => [r.status, r.error?.code, r.policy?.reason_code])).toEqual([[403, 'REFUSE', 'REFUSE'], [403, 'OFF_TOPIC', 'OFF_TOPIC']]);
    // allowed answers are unaffected
    expect((await model.invoke(f.prompts.allow)).content).toBe(ANSWER);
  });

  it('429: the rate limit error with Retry-After, raised by invoke and by stream', async () => {
    const user = `lc-429-${Date.now()}-${++seq}`;
    const model = llm({ policyId: 'limited', policyProjectId: undefined, policyUser: user });
    const handler = policyAuditHandlerOf(model)!;
    await model.invoke('hi');
    await model.invoke('hi');
    const e = await thrown(() => model.invoke('hi'));
    expect(e.status).toBe(429);
    expect(e.error).toEqual({ message: expect.stringMatching(/^rate limit "user 2 requests per day" exceeded: retry after \d+ seconds$/), type: 'requests', param: null, code: 'rate_limit_exceeded' });
    expect(Number(e.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(e.lc_error_code).toBe('MODEL_RATE_LIMIT');
    const s = await thrown(async () => { for await (const _ of await model.stream('hi')) { /* drain */ } });
    expect(s.status).toBe(429);
    const last = handler.records.at(-1)!;
    expect(last).toMatchObject({ status: 429, error: { code: 'rate_limit_exceeded', type: 'requests' } });
    expect(last.retryAfter).toBeGreaterThanOrEqual(1);
    expect(last.requestId).toMatch(/\S/);
  });

  it.each([
    { note: '401 for a wrong policy key', opts: { apiKey: 'pgk_wrongwrongwr_00000000000000000000000000000000' }, status: 401, code: 'invalid_api_key' },
    { note: '403 for a key that may not use the policy', opts: { apiKey: 'LIMITED' }, status: 403, code: 'forbidden' },
    { note: '404 for an unknown policy_id', opts: { policyId: 'no-such-policy' }, status: 404, code: 'policy_not_found' },
    { note: '400 when a body field contradicts a policy header', opts: { policyId: 'policy-gateway', modelKwargs: { policy_user: 'someone-else' } }, status: 400, code: 'metadata_conflict' },
  ])('$note', async ({ opts, status, code }) => {
    const resolved = { ...opts, ...(opts.apiKey === 'LIMITED' && { apiKey: f.limitedKey }) } as PolicyGatewayChatOptions;
    const model = llm(resolved);
    const e = await thrown(() => model.invoke(f.prompts.allow));
    expect(e.status).toBe(status);
    expect(Object.keys(e.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(e.error.code).toBe(code);
    expect(policyAuditHandlerOf(model)!.records.at(-1)).toMatchObject({ status, error: { code } });
  });
});

describe('configuration', () => {
  it('reads the key, base URL, policy, project and target from the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { POLICY_GATEWAY_KEY: f.key, POLICY_GATEWAY_BASE_URL: `${f.url}/policy`, POLICY_GATEWAY_POLICY_ID: 'policy-gateway', POLICY_GATEWAY_PROJECT_ID: 'support-bot', POLICY_GATEWAY_TARGET: 'beta-app' });
    try {
      const model = buildPolicyGatewayChat({ model: 'fake-model', policyUser: 'user-12345', maxRetries: 0 });
      await model.invoke(f.prompts.allow);
      expect(policyAuditHandlerOf(model)!.records[0]!.policy).toMatchObject({ policy_id: 'policy-gateway', project_id: 'support-bot', policy_target: 'beta-app', policy_user: 'user-12345' });
    } finally {
      process.env = saved;
    }
  });

  it('bounds what it keeps: records are capped at maxRecords', async () => {
    const handler = new PolicyAuditCallbackHandler({ maxRecords: 2 });
    const model = llm({ auditHandler: handler });
    for (const p of [f.prompts.allow, f.prompts.deny, f.prompts.offTopic]) await model.invoke(p);
    expect(handler.records.map((r) => r.policy?.reason_code)).toEqual(['REFUSE', 'OFF_TOPIC']);
    expect(() => new PolicyAuditCallbackHandler({ maxRecords: 0 })).toThrow(/maxRecords/);
  });
});

describe('the wire reader', () => {
  it.each([1, 5, 64])('finds the policy block in an SSE stream delivered in %i-byte pieces, passing the bytes on unchanged', async (size) => {
    const policy = { policy_id: 'p', decision: 'allow', reason_code: 'ALLOW' };
    const sse = `data: {"id":"c1","choices":[{"index":0,"delta":{"content":"héllo"}}]}\n\ndata: {"id":"c1","choices":[],"policy":${JSON.stringify(policy)}}\n\ndata: [DONE]\n\n`;
    const bytes = new TextEncoder().encode(sse);
    const base = async () => new Response(new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size)); c.close(); } }), { headers: { 'content-type': 'text/event-stream', 'x-request-id': 'r1' } });
    const handler = new PolicyAuditCallbackHandler();
    const res = await handler.fetchFor({ base: base as typeof fetch })('http://gateway.invalid/policy/chat/completions');
    expect(await res.text()).toBe(sse);
    handler.handleLLMEnd({ generations: [[{ text: 'héllo', message: { id: 'c1' } } as never]] }, 'run-1');
    expect(handler.records).toEqual([{ runId: 'run-1', at: expect.any(String), status: 200, responseId: 'c1', requestId: 'r1', policy }]);
  });
});
