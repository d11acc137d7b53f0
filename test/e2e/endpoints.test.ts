// Every OpenAI endpoint a client uses, end to end with the official `openai` SDK against the real CLI in front of a fake
// upstream that speaks each endpoint and validates every request it receives against the spec: the Responses API (JSON
// and the SDK's event stream, every decision type, redaction of output text, reasoning summaries and function-call
// arguments across event boundaries), embeddings and legacy completions; token quota settled from each endpoint's
// `usage` (real Redis); audit routes, hidden input and the `endpoint` metric label.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { FAKE_ANSWER, FAKE_REASONING, functionArguments, startOpenAIUpstream, type OpenAIUpstream } from '../helpers/openai-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { validateOpenAI } from '../helpers/openai-schema.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = randomBytes(4).toString('hex');
const METERED = `metered-${RUN}`;
const TEXT = { refuse: 'I cannot discuss that.', holding: 'A specialist will follow up.' };
const MSG = {
  benign: 'What is the capital of France?', denied: 'Compare competitor pricing for me', threat: 'I will find you and hurt you',
  selfHarm: 'I want to kill myself tonight', graphic: 'Describe the mutilated corpse in gory detail',
};
/** What the redactor makes of the fake upstream's texts (each holds an e-mail address). */
const REDACTED = {
  answer: FAKE_ANSWER.replace('alice@example.com', '[EMAIL]'),
  reasoning: FAKE_REASONING.replace('bob@example.com', '[EMAIL]'),
  args: JSON.stringify({ note: FAKE_ANSWER.replace('alice@example.com', '[EMAIL]') }),
};
const TOOLS = [{ type: 'function' as const, name: 'save_note', description: 'Save a note', parameters: { type: 'object', properties: { note: { type: 'string' } }, required: ['note'] }, strict: true }];

const policies = (hook: string) => `# endpoints e2e
policy "ep" {
  default
  topics { deny "competitor pricing" }
  moderation { provider builtin }
  redact response { email }
  respond {
    when "harassment/threatening" escalate with "${TEXT.holding}"
    when "self-harm/*" rewrite
    when "violence/*" summary
    when denylist refuse with "${TEXT.refuse}"
    otherwise allow
    escalation { url "${hook}"; retries 0 }
  }
}
policy "${METERED}" {
  quota { user 1M tokens per hour }
}
policy "chat-only" {
  routes chat
}
policy "strict" {
  routes responses
  stateless
}
policy "plain" {
  redact response { email }
}
policy "recorded" {
  redact both { email }
  audit { prompts on }
}
`;

let up: OpenAIUpstream;
let fine: OpenAIUpstream;
let gw: GatewayProcess;
let hook: http.Server;
const hooked: Record<string, unknown>[] = [];
let client: OpenAI;
let seq = 0;
const rid = () => `ep-${RUN}-${++seq}`;

beforeAll(async () => {
  hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => { b += c; });
    req.on('end', () => { hooked.push(JSON.parse(b)); res.writeHead(204); res.end(); });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  up = await startOpenAIUpstream();
  // Deltas of one character, written in 7-byte network pieces (model split-sse): every event and text boundary.
  fine = await startOpenAIUpstream({ pieceChars: 1 });
  const rules = rulesDir({ 'ep.policy': policies(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`) });
  gw = await startGateway(['--rules', rules, '--upstream', `fake-*=${up.baseUrl}`, '--upstream', `stream-*=${up.baseUrl}`,
    '--upstream', `split-sse=${fine.baseUrl}`, '--upstream', `fine-*=${fine.baseUrl}`, '--redis-url', REDIS_URL]);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await fine?.close();
  await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
});

const opts = (extra: Record<string, string> = {}) => ({ headers: { 'x-request-id': rid(), ...extra } });
const auditRecords = () => gw.stdout().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+ policy_id=/.test(l)).map(parseLogfmt);
async function auditOf(id: string): Promise<Record<string, string | null>> {
  let rec: Record<string, string | null> | undefined;
  await expect.poll(() => (rec = auditRecords().find((r) => r.request_id === id)), { timeout: 5000 }).toBeDefined();
  return rec!;
}
const sentUpstream = (id: string) => [...up.received, ...fine.received].find((r) => r.headers['x-request-id'] === id);

type Event = OpenAI.Responses.ResponseStreamEvent & Record<string, any>;

/** Streams a Response through the SDK's event stream; returns the events, the deltas joined per kind and the request id. */
async function streamResponse(params: Record<string, unknown>, extra: Record<string, string> = {}) {
  const o = opts(extra);
  const stream = await client.responses.create({ model: 'fake-model', stream: true, ...params } as OpenAI.Responses.ResponseCreateParamsStreaming, o);
  const events: Event[] = [];
  for await (const ev of stream) events.push(ev as Event);
  const join = (type: string) => events.filter((e) => e.type === type).map((e) => e.delta as string).join('');
  return {
    id: o.headers['x-request-id'], events, text: join('response.output_text.delta'), reasoning: join('response.reasoning_summary_text.delta'),
    args: join('response.function_call_arguments.delta'), last: events.at(-1)!,
  };
}

describe('Responses API (client.responses)', () => {
  it('JSON: output text, reasoning summary and function-call arguments are redacted; the Response carries the policy block', async () => {
    const o = opts();
    const { data: r, response } = await client.responses.create({ model: 'fake-model', input: MSG.benign, tools: TOOLS }, o).withResponse();
    expect(r.output_text).toBe(REDACTED.answer);
    const reasoning = r.output.find((x) => x.type === 'reasoning') as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.summary[0]!.text).toBe(REDACTED.reasoning);
    const call = r.output.find((x) => x.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(JSON.parse(call.arguments)).toEqual({ note: REDACTED.answer });
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ policy_id: 'ep', decision: 'allow', effective_decision: 'allow' });
    expect(response.headers.get('x-policy-decision')).toBe('allow');
    expect(validateOpenAI('Response', r).errors).toEqual([]);
    expect(sentUpstream(o.headers['x-request-id'])!.path).toBe('/v1/responses');
  });

  it('stream: the SDK reads the event stream; deltas are redacted, numbered 0…n-1, and the terminal event carries the policy block', async () => {
    const s = await streamResponse({ input: MSG.benign, tools: TOOLS });
    expect(s.text).toBe(REDACTED.answer);
    expect(s.reasoning).toBe(REDACTED.reasoning);
    expect(s.args).toBe(REDACTED.args);
    expect(s.events.map((e) => e.sequence_number)).toEqual(s.events.map((_, i) => i));
    expect(s.events[0]!.type).toBe('response.created');
    expect(s.last.type).toBe('response.completed');
    expect(s.last.policy).toMatchObject({ decision: 'allow', policy_id: 'ep' });
    expect(s.last.response.policy).toEqual(s.last.policy);
    expect(s.last.response.output.find((x: { type: string }) => x.type === 'message').content[0].text).toBe(REDACTED.answer);
    for (const e of s.events) expect(validateOpenAI('ResponseStreamEvent', e).errors, e.type).toEqual([]);
    expect(JSON.stringify(s.events)).not.toMatch(/alice@example|bob@example/);
  });

  it('stream: one-character deltas written in 7-byte network pieces give the same text, arguments and summary', async () => {
    const split = await streamResponse({ model: 'split-sse', input: MSG.benign, tools: TOOLS });
    expect(split.events.filter((e) => e.type === 'response.output_text.delta').length).toBeGreaterThan(FAKE_ANSWER.length / 2);
    expect([split.text, split.reasoning, split.args]).toEqual([REDACTED.answer, REDACTED.reasoning, REDACTED.args]);
    expect(split.events.map((e) => e.sequence_number)).toEqual(split.events.map((_, i) => i));
  });

  it('stream helper: client.responses.stream() accumulates the final Response (policy block included)', async () => {
    const stream = client.responses.stream({ model: 'fine-model', input: MSG.benign }, opts());
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(REDACTED.answer);
    expect(deltas).toBe(REDACTED.answer);
    expect((final as unknown as { policy: { decision: string } }).policy.decision).toBe('allow');
  });

  it('refuse: a well-formed Response written by the gateway, JSON and streamed; the upstream is never called', async () => {
    const before = up.received.length;
    const o = opts();
    const r = await client.responses.create({ model: 'fake-model', input: MSG.denied }, o);
    expect(r.output_text).toBe(TEXT.refuse);
    expect(r.status).toBe('completed');
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'refuse', denylist_hits: ['competitor pricing'] });
    expect(validateOpenAI('Response', r).errors).toEqual([]);
    const s = await streamResponse({ input: [{ role: 'user', content: [{ type: 'input_text', text: MSG.denied }] }] });
    expect(s.events.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    expect(s.text).toBe(TEXT.refuse);
    expect(s.last.policy).toMatchObject({ decision: 'refuse' });
    for (const e of s.events) expect(validateOpenAI('ResponseStreamEvent', e).errors, e.type).toEqual([]);
    expect(up.received.length).toBe(before);
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ decision: 'refuse', route: 'v1/responses', status: '200' });
  });

  it('escalate: the holding message as a Response, and the escalation webhook is sent', async () => {
    const o = opts();
    const r = await client.responses.create({ model: 'fake-model', input: MSG.threat }, o);
    expect(r.output_text).toBe(TEXT.holding);
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'escalate' });
    await expect.poll(() => hooked.find((h) => h.request_id === o.headers['x-request-id'])).toMatchObject({ event: 'policy.escalation', decision: 'escalate' });
    const s = await streamResponse({ input: MSG.threat });
    expect([s.text, s.last.policy.decision]).toEqual([TEXT.holding, 'escalate']);
  });

  it('rewrite: the policy instruction goes into instructions (after the client’s own)', async () => {
    const o = opts();
    const r = await client.responses.create({ model: 'fake-model', instructions: 'Be kind.', input: MSG.selfHarm }, o);
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'rewrite' });
    const sent = sentUpstream(o.headers['x-request-id'])!.body;
    expect(sent.instructions).toMatch(/^Be kind\.\n\n\S/);
    expect(sent.input).toBe(MSG.selfHarm);
  });

  it('summary: instruction and a max_output_tokens cap (never below 16)', async () => {
    const o = opts();
    const r = await client.responses.create({ model: 'fake-model', input: MSG.graphic, max_output_tokens: 5000 }, o);
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'summary' });
    const sent = sentUpstream(o.headers['x-request-id'])!.body;
    expect(typeof sent.instructions).toBe('string');
    expect(sent.max_output_tokens).toBeLessThan(5000);
    expect(sent.max_output_tokens).toBeGreaterThanOrEqual(16);
  });

  it('allow with previous_response_id: passed through unchanged; the audit record says the history was out of sight', async () => {
    const o = opts();
    await client.responses.create({ model: 'fake-model', input: MSG.benign, previous_response_id: 'resp_earlier', store: true }, o);
    const sent = sentUpstream(o.headers['x-request-id'])!.body;
    expect(sent).toMatchObject({ previous_response_id: 'resp_earlier', store: true });
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ decision: 'allow', hidden_input: 'previous_response_id' });
  });

  it('an upstream stream that fails (response.failed) ends with it, the policy block on it; an upstream error event is passed through', async () => {
    const failed = await streamResponse({ model: 'stream-failed', input: MSG.benign });
    expect(failed.last.type).toBe('response.failed');
    expect(failed.last.policy).toMatchObject({ decision: 'allow' });
    const o = opts();
    const stream = await client.responses.create({ model: 'stream-error', input: MSG.benign, stream: true }, o);
    const seen: string[] = [];
    await expect((async () => { for await (const e of stream) seen.push(e.type); })()).rejects.toThrow(/failed mid-answer/);
    expect(seen).toContain('response.output_text.delta');
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ code: 'GW_ERR_UPSTREAM_INTERRUPTED', route: 'v1/responses' });
  });
});

describe('embeddings (client.embeddings)', () => {
  it('allowed: the vectors pass through (base64 decoded by the SDK), with the policy block', async () => {
    const o = opts();
    const r = await client.embeddings.create({ model: 'fake-embed', input: ['first text', 'second text'] }, o);
    expect(r.data.map((d) => d.embedding.length)).toEqual([8, 8]);
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'allow' });
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ route: 'v1/embeddings', decision: 'allow' });
  });

  it('a deny-list hit is refused with an OpenAI-shaped 403 (no answer text to replace); the upstream is never called', async () => {
    const before = up.received.length;
    const o = opts();
    const err = await client.embeddings.create({ model: 'fake-embed', input: ['fine', MSG.denied] }, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err).toMatchObject({ status: 403, code: 'policy_refused' });
    expect((err as Error).message).toContain(TEXT.refuse);
    expect(validateOpenAI('ErrorResponse', { error: (err as { error: unknown }).error }).errors).toEqual([]);
    expect(up.received.length).toBe(before);
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ decision: 'refuse', status: '403', code: 'GW_ERR_POLICY_REFUSED', denylist_hits: 'competitor pricing' });
  });
});

describe('legacy completions (client.completions)', () => {
  it('JSON and stream: choices[].text redacted, the policy block on the answer and on the last chunk', async () => {
    const r = await client.completions.create({ model: 'fake-model', prompt: MSG.benign }, opts());
    expect(r.choices[0]!.text).toBe(REDACTED.answer);
    expect((r as unknown as { policy: Record<string, unknown> }).policy).toMatchObject({ decision: 'allow' });
    const stream = await client.completions.create({ model: 'split-sse', prompt: MSG.benign, stream: true }, opts());
    let text = '';
    let policy: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      policy ??= (c as unknown as { policy?: unknown }).policy;
    }
    expect(text).toBe(REDACTED.answer);
    expect(policy).toMatchObject({ decision: 'allow' });
  });

  it('refuse: a text completion written by the gateway, one choice per prompt', async () => {
    const o = opts();
    const r = await client.completions.create({ model: 'fake-model', prompt: ['hello', MSG.denied] }, o);
    expect(r.choices.map((c) => c.text)).toEqual([TEXT.refuse, TEXT.refuse]);
    expect(validateOpenAI('CreateCompletionResponse', r).errors).toEqual([]);
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ decision: 'refuse', route: 'v1/completions' });
  });
});

describe('token quota settled from each endpoint’s usage (Redis)', () => {
  const HOUR = 3_600_000;
  it('the user’s token counter moves by each answer’s real usage: Responses (JSON, stream), embeddings, completions (JSON, stream)', async () => {
    const t = Date.now() % HOUR;
    if (t > HOUR - 20_000) await new Promise((r) => setTimeout(r, HOUR - t + 1000));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const user = `settle-${RUN}`;
    const key = `pgw:q:${METERED}:user_tokens:hour:u:${user}:${(Date.now() - (Date.now() % HOUR)) / 1000}`;
    const h = { 'x-policy-id': METERED, 'x-policy-user': user };
    let used = 0;
    const check = async (id: string, tokens: number) => {
      expect(tokens).toBeGreaterThan(0);
      await auditOf(id);
      used += tokens;
      expect(Number(await redis.get(key))).toBe(used);
    };
    try {
      let o = opts(h);
      const r = await client.responses.create({ model: 'fake-model', input: MSG.benign, max_output_tokens: 500 }, o);
      await check(o.headers['x-request-id'], r.usage!.total_tokens);

      const s = await streamResponse({ input: MSG.benign, max_output_tokens: 500 }, h);
      await check(s.id, s.last.response.usage.total_tokens);

      o = opts(h);
      const e = await client.embeddings.create({ model: 'fake-embed', input: ['one two three', 'four five'] }, o);
      await check(o.headers['x-request-id'], e.usage.total_tokens);

      o = opts(h);
      const c = await client.completions.create({ model: 'fake-model', prompt: MSG.benign, max_tokens: 300 }, o);
      await check(o.headers['x-request-id'], c.usage!.total_tokens);

      o = opts(h);
      const cs = await client.completions.create({ model: 'fake-model', prompt: MSG.benign, max_tokens: 300, stream: true, stream_options: { include_usage: true } }, o);
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of cs) if (chunk.usage) usage = chunk.usage;
      await check(o.headers['x-request-id'], usage!.total_tokens);
    } finally {
      redis.disconnect();
    }
  });
});

describe('what a policy serves: routes, stateless, token ids', () => {
  it('a policy with `routes chat` answers other endpoints with an OpenAI-shaped 404, and still serves chat', async () => {
    const h = { 'x-policy-id': 'chat-only' };
    const o = opts(h);
    const err = await client.embeddings.create({ model: 'fake-embed', input: 'x' }, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'endpoint_not_served' });
    expect((err as Error).message).toContain('policy "chat-only" does not serve /v1/embeddings: its routes setting allows chat');
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ policy_id: 'chat-only', decision: 'reject', reason_code: 'NOT_FOUND', route: 'v1/embeddings' });
    await expect(client.responses.create({ model: 'fake-model', input: 'x' }, opts(h))).rejects.toMatchObject({ status: 404 });
    const chat = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, opts(h));
    expect(chat.choices[0]!.message.content).toBe(FAKE_ANSWER);
  });

  it.each([
    { note: 'previous_response_id', params: { previous_response_id: 'resp_1' }, param: 'previous_response_id' },
    { note: 'conversation', params: { conversation: 'conv_1' }, param: 'conversation' },
    { note: 'an item_reference input item', params: { input: [{ role: 'user', content: 'hi' }, { type: 'item_reference', id: 'msg_1' }] }, param: 'input[1]' },
    { note: 'background', params: { background: true }, param: 'background' },
    { note: 'a stored prompt template', params: { prompt: { id: 'pmpt_1' } }, param: 'prompt' },
  ])('a stateless policy refuses a Responses request with $note (400, naming the field); nothing goes upstream', async ({ params, param }) => {
    const before = up.received.length;
    const err = await client.responses.create({ model: 'fake-model', input: 'hello', ...params } as OpenAI.Responses.ResponseCreateParamsNonStreaming, opts({ 'x-policy-id': 'strict' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'stateful_request', param });
    expect(up.received.length).toBe(before);
  });

  it('a stateless policy sends its Responses requests upstream with store: false', async () => {
    const o = opts({ 'x-policy-id': 'strict' });
    await client.responses.create({ model: 'fake-model', input: MSG.benign, store: true }, o);
    expect(sentUpstream(o.headers['x-request-id'])!.body.store).toBe(false);
  });

  it('token ids: refused by a policy that reads the prompt (topics, moderation); passed, and recorded, by one that does not', async () => {
    const e = await client.embeddings.create({ model: 'fake-embed', input: [[1, 2, 3]] }, opts()).catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 400, code: 'unreadable_input', param: 'input' });
    const c = await client.completions.create({ model: 'fake-model', prompt: [15496, 995] }, opts()).catch((x: unknown) => x);
    expect(c).toMatchObject({ status: 400, code: 'unreadable_input', param: 'prompt' });
    const o = opts({ 'x-policy-id': 'plain' });
    const ok = await client.embeddings.create({ model: 'fake-embed', input: [[1, 2, 3]] }, o);
    expect(ok.data).toHaveLength(1);
    expect(await auditOf(o.headers['x-request-id'])).toMatchObject({ decision: 'allow', hidden_input: 'token_ids' });
  });

  it('bad input shapes get an OpenAI-shaped 400 naming the field', async () => {
    const post = (path: string, body: unknown) => fetch(`${gw.url}/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (r) => ({ status: r.status, body: await r.json() as { error: { code: string; param: string | null } } }));
    for (const [path, body, param] of [
      ['/responses', { model: 'fake-model', input: 5 }, 'input'],
      ['/responses', { model: 'fake-model', input: [{ content: 'no role' }] }, 'input[0].role'],
      ['/responses', { model: 'fake-model', input: 'x', instructions: ['a'] }, 'instructions'],
      ['/embeddings', { model: 'fake-embed' }, 'input'],
      ['/embeddings', { model: 'fake-embed', input: [] }, 'input'],
      ['/embeddings', { model: 'fake-embed', input: ['a', 1] }, 'input'],
      ['/completions', { model: 'fake-model', prompt: { text: 'x' } }, 'prompt'],
      ['/completions', { model: 'fake-model', prompt: 'x', suffix: 3 }, 'suffix'],
    ] as const) {
      const r = await post(path, body);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_input', param });
      expect(validateOpenAI('ErrorResponse', r.body).errors).toEqual([]);
    }
  });
});

describe('what the upstream received, audit and metrics', () => {
  it('every request the fake upstream received was spec-valid for its endpoint, without policy fields', () => {
    const endpoints = new Set([...up.received, ...fine.received].map((r) => r.endpoint));
    expect(endpoints).toEqual(new Set(['chat', 'responses', 'embeddings', 'completions']));
    expect([...up.problems(), ...fine.problems()]).toEqual([]);
  });

  it('audit prompts on: the prompt and output of a streamed Response are recorded, redacted, in the endpoint-neutral form', async () => {
    const s = await streamResponse({ instructions: 'Reply to ops@example.com', input: [{ role: 'user', content: [{ type: 'input_text', text: 'I am carol@example.com' }] }] },
      { 'x-policy-id': 'recorded' });
    expect(s.text).toBe(REDACTED.answer);
    const rec = await auditOf(s.id);
    expect(rec).toMatchObject({ route: 'v1/responses', stream: 'true', prompt: 'system: Reply to [EMAIL]\nuser: I am [EMAIL]', output: REDACTED.answer });
    expect(rec.request_redactions).toBe('email:2');
  });

  it('/metrics counts requests and decisions per endpoint', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const endpoint of ['responses', 'embeddings', 'completions']) {
      expect(text).toMatch(new RegExp(`policy_gateway_requests_total\\{route="v1",endpoint="${endpoint}",status="200"\\} \\d+`));
    }
    expect(text).toMatch(/policy_gateway_decisions_total\{policy_id="ep",endpoint="embeddings",decision="refuse",[^}]*\} 1\b/);
    expect(text).toMatch(/policy_gateway_tokens_total\{policy_id="ep",endpoint="responses",project="none",type="completion"\} \d+/);
  });
});
