// End-to-end: the real CLI as a child process in front of a fake OpenAI-compatible upstream on loopback,
// driven with the official openai SDK and raw HTTP. Covers the HTTP contract of DESIGN §2 (issue 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const RULES = {
  'main.policy': `# pass-through policies for the core tests
policy "pass" {
  description "no plugins: a pure pass-through"
  default
}
policy "policy-gateway" {
}
`,
};

let up: FakeUpstream;
let gw: GatewayProcess;

beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--upstream-timeout', '1500ms', '--body-limit', '64kb']);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const msgs = [{ role: 'user', content: 'Summarize our refund policy.' }];

describe('openai SDK through the gateway', () => {
  it('non-streaming via /v1 (base-URL switch) returns the upstream answer plus the policy block', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client-secret' });
    const r = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.choices[0]!.message.content).toBe(FAKE_ANSWER);
    const policy = (r as unknown as { policy: Record<string, unknown> }).policy;
    expect(policy).toMatchObject({ policy_id: 'pass', decision: 'allow', effective_decision: 'allow', rollout_mode: 'enforced', enforced: true, triggered_categories: [], allowlist_hits: [], denylist_hits: [] });
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('non-streaming via /policy with policy_id and metadata in the body', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/policy`, apiKey: 'k' });
    const r = await client.chat.completions.create({
      model: 'fake-model', messages: msgs as never, policy_id: 'policy-gateway', policy_user: 'user-12345', policy_project_id: 'support-bot', policy_target: 'support-bot',
    } as never);
    const policy = (r as unknown as { policy: Record<string, unknown> }).policy;
    expect(policy).toMatchObject({ policy_id: 'policy-gateway', policy_user: 'user-12345', project_id: 'support-bot', policy_target: 'support-bot' });
    const last = up.received.at(-1)!;
    // policy_* fields never go upstream, nor the client's policy key
    expect(Object.keys(last.body).filter((k) => k.startsWith('policy_'))).toEqual([]);
    expect(last.headers.authorization).toBeUndefined();
    expect(last.body.messages).toEqual(msgs);
  });

  it('an unchanged request goes upstream byte for byte; one with policy_* fields is re-serialised without them', async () => {
    const raw = '{ "messages" : [ {"role":"user","content":"caf\\u00e9 \u00e9t\u00e9"} ],\n  "model":"fake-model", "temperature": 0.50 }';
    const r1 = await post('/v1/chat/completions', raw);
    expect(r1.status).toBe(200);
    expect(up.received.at(-1)!.raw).toBe(raw);
    const r2 = await post('/v1/chat/completions', raw.replace('"model"', '"policy_user":"u-1", "model"'));
    expect(r2.status).toBe(200);
    const sent = up.received.at(-1)!;
    expect(sent.raw).not.toContain('policy_user');
    expect(sent.body).toEqual({ messages: [{ role: 'user', content: 'café été' }], model: 'fake-model', temperature: 0.5 });
    expect(Number(sent.headers['content-length'])).toBe(Buffer.byteLength(sent.raw));
  });

  it('streaming: the SDK parses every chunk, text arrives whole, the policy block rides on the last data chunk', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k' });
    const stream = await client.chat.completions.create({ model: 'fake-model', messages: msgs as never, stream: true });
    let text = '';
    const chunks: unknown[] = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe(FAKE_ANSWER);
    const last = chunks.at(-1) as { choices: unknown[]; policy?: { decision: string } };
    expect(last.choices).toEqual([]);
    expect(last.policy?.decision).toBe('allow');
    // the gateway asked upstream for usage (for quotas/metrics) but the client did not ask, so no usage chunk reached it
    expect((up.received.at(-1)!.body.stream_options as { include_usage: boolean }).include_usage).toBe(true);
    expect(chunks.some((c) => (c as { usage?: unknown }).usage)).toBe(false);
  });

  it('streaming with include_usage requested by the client passes the usage chunk on', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k' });
    const stream = await client.chat.completions.create({ model: 'fake-model', messages: msgs as never, stream: true, stream_options: { include_usage: true } });
    let usage: unknown;
    for await (const c of stream) if (c.usage) usage = c.usage;
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it('raw SSE: decision headers before the first byte, [DONE] last, events split mid-frame reassembled', async () => {
    const r = await post('/v1/chat/completions', { model: 'split-sse', messages: msgs, stream: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(r.headers.get('x-policy-decision')).toBe('allow');
    expect(r.headers.get('x-policy-reason-code')).toBe('ALLOW');
    const body = await r.text();
    const events = body.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const datas = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string } }[]; policy?: unknown });
    expect(datas.map((d) => d.choices[0]?.delta?.content ?? '').join('')).toBe(FAKE_ANSWER);
    expect(datas.at(-1)!.policy).toBeDefined();
  });

  it('echoes a client X-Request-Id and generates one otherwise', async () => {
    const a = await post('/v1/chat/completions', { model: 'fake-model', messages: msgs }, { 'x-request-id': 'trace-abc.123' });
    expect(a.headers.get('x-request-id')).toBe('trace-abc.123');
    expect(up.received.at(-1)!.headers['x-request-id']).toBe('trace-abc.123');
    const b = await post('/v1/chat/completions', { model: 'fake-model', messages: msgs });
    expect(b.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const c = await post('/v1/chat/completions', { model: 'fake-model', messages: msgs });
    expect(c.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });
});

describe('every error row of the contract, OpenAI-shaped', () => {
  const cases: { note: string; path?: string; body: unknown; headers?: Record<string, string>; status: number; code: string; message: RegExp; method?: string }[] = [
    { note: 'unknown route says the base URL must end with /v1 and the path be /chat/completions', path: '/v1/chat/complete', body: {}, status: 404, code: 'unknown_url', message: /\/v1.*\/chat\/completions/ },
    { note: 'unknown policy_id is a 404', body: { model: 'fake-model', messages: msgs, policy_id: 'nope' }, status: 404, code: 'policy_not_found', message: /unknown policy_id "nope"/ },
    { note: 'bad JSON is a 400', body: '{"model": ', status: 400, code: 'invalid_json', message: /not valid JSON/ },
    { note: 'a JSON array body is a 400', body: '[1,2]', status: 400, code: 'invalid_body', message: /JSON object/ },
    { note: 'missing model is a 400 naming the model id', body: { messages: msgs }, status: 400, code: 'invalid_model', message: /model id/ },
    { note: 'messages not an array is a 400', body: { model: 'm', messages: 'hi' }, status: 400, code: 'invalid_messages', message: /array of \{ role, content \}/ },
    { note: 'a message without role is a 400 naming its index', body: { model: 'm', messages: [{ content: 'x' }] }, status: 400, code: 'invalid_messages', message: /messages\[0\]\.role/ },
    { note: 'a message with numeric content is a 400', body: { model: 'm', messages: [{ role: 'user', content: 5 }] }, status: 400, code: 'invalid_messages', message: /messages\[0\]\.content/ },
    { note: 'header and body metadata disagreeing is a 400', body: { model: 'fake-model', messages: msgs, policy_user: 'a' }, headers: { 'x-policy-user': 'b' }, status: 400, code: 'metadata_conflict', message: /X-Policy-User.*policy_user/ },
    { note: 'the /policy route requires policy_id in the body', path: '/policy/chat/completions', body: { model: 'fake-model', messages: msgs }, status: 400, code: 'missing_policy_id', message: /policy_id is required/ },
    { note: 'upstream 500 becomes a 502', body: { model: 'fail-500', messages: msgs }, status: 502, code: 'upstream_bad_response', message: /invalid response/ },
    { note: 'upstream non-JSON 200 becomes a 502', body: { model: 'not-json', messages: msgs }, status: 502, code: 'upstream_bad_response', message: /invalid response/ },
    { note: 'upstream timeout is a 504', body: { model: 'slow', messages: msgs }, status: 504, code: 'upstream_timeout', message: /did not answer in time/ },
    { note: 'GET on the chat route is a 405', method: 'GET', body: undefined, status: 405, code: 'method_not_allowed', message: /GET/ },
  ];
  it.each(cases)('$note', async (c) => {
    const r = c.method === 'GET'
      ? await fetch(`${gw.url}/v1/chat/completions`)
      : await post(c.path ?? '/v1/chat/completions', c.body, c.headers);
    expect(r.status).toBe(c.status);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    const j = (await r.json()) as { error: { message: string; type: string; param: unknown; code: string } };
    expect(Object.keys(j.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(j.error.code).toBe(c.code);
    expect(j.error.message).toMatch(c.message);
    expect(j.error.message).not.toMatch(/at .*\.ts:\d+/);
  });

  it('an upstream 4xx passes its own OpenAI-shaped error through', async () => {
    const r = await post('/v1/chat/completions', { model: 'fail-400', messages: msgs });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { param: string } }).error.param).toBe('temperature');
  });

  it('a body over the limit is a 413', async () => {
    const r = await post('/v1/chat/completions', { model: 'fake-model', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
  });

  it('a non-JSON content type is a 415', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(r.status).toBe(415);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  it('the gateway is still healthy after every bad request', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const r = await post('/v1/chat/completions', { model: 'fake-model', messages: msgs });
    expect(r.status).toBe(200);
  });
});

describe('operational routes', () => {
  it('GET /v1/models lists the upstream models', async () => {
    const r = await fetch(`${gw.url}/v1/models`);
    expect(r.status).toBe(200);
    const j = (await r.json()) as { object: string; data: { id: string }[] };
    expect(j.object).toBe('list');
    expect(j.data.map((m) => m.id)).toContain('fake-model');
  });

  it('GET /readyz is ready with policies loaded and the upstream reachable', async () => {
    const r = await fetch(`${gw.url}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ready', policies: 2 });
  });

  it('GET /metrics exposes requests, latency and overhead histograms with sub-millisecond buckets', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/policy_gateway_requests_total\{route="v1",endpoint="chat",status="200"\} \d+/);
    expect(text).toMatch(/policy_gateway_overhead_seconds_bucket\{le="0.0001",route="v1",endpoint="chat",stream="false"\}/);
    expect(text).toMatch(/policy_gateway_request_duration_seconds_count\{route="v1",endpoint="chat",stream="true"\} \d+/);
    expect(text).toMatch(/policy_gateway_upstream_ttfb_seconds_count\{upstream="default",stream="false"\} \d+/);
    expect(text).toMatch(/policy_gateway_decisions_total\{policy_id="pass",endpoint="chat",decision="allow"/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });

  it('the request log has one line per request and no prompt text', () => {
    const lines = gw.stdout().split('\n').filter((l) => l.includes('"msg":"request completed"'));
    expect(lines.length).toBeGreaterThan(3);
    expect(gw.stdout()).not.toContain('Summarize our refund policy');
    expect(gw.stdout()).not.toContain('sk-client-secret');
  });
});
