// The Next.js route handler called with real `Request` objects against the real gateway process: JSON, SSE passed
// through before the upstream has finished, client aborts reaching the upstream, the gateway's 400/401/403/404/429
// answers passed back byte for byte with their headers, and the connector's own errors (400/413/502/504).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppRouteHandlerFn } from 'next/dist/server/route-modules/app-route/module.js';
import { NextRequest } from 'next/server.js';
import { createPolicyGatewayRoute, type PolicyGatewayRouteHandler } from '../src/index.ts';
import { startConnectorFixture, type ConnectorFixture } from '../../testing/fixture.ts';
import { parseLogfmt } from '../../../test/plugins/auditor/helpers.ts';

// Compile-time check (npm run typecheck): the handler is what Next's App Router accepts as a route export.
const asNextExport: AppRouteHandlerFn = createPolicyGatewayRoute({ policyId: 'policy-gateway' });
void asNextExport;

/** The parsed JSON body of a response (any: the tests check its shape). */
const json = (res: Response): Promise<any> => res.json();

let f: ConnectorFixture;
let seq = 0;
beforeAll(async () => { f = await startConnectorFixture(); });
afterAll(async () => { await f?.stop(); });

/** A browser's POST to the app's route, as Next hands it to the handler. */
function browserRequest(body: unknown, init: { headers?: Record<string, string>; signal?: AbortSignal; raw?: string } = {}): Request {
  return new Request('http://app.example/api/chat', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? JSON.stringify(body),
    signal: init.signal,
  });
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'fake-model', messages: [{ role: 'user', content }], ...extra });

function route(extra: Parameters<typeof createPolicyGatewayRoute>[0] = {}): PolicyGatewayRouteHandler {
  return createPolicyGatewayRoute({
    apiKey: f.key,
    policyId: 'policy-gateway',
    policyProjectId: 'support-bot',
    baseUrl: `${f.url}/policy`,
    policyUser: (req) => req.headers.get('x-session-user') ?? undefined,
    ...extra,
  });
}

/** The audit record of request `id` (the gateway echoes the X-Request-Id the connector forwards). */
async function auditOf(id: string): Promise<Record<string, string | null>> {
  let line: string | undefined;
  await expect.poll(() => (line = f.auditLines().find((l) => l.includes(` request_id=${id} `))), { timeout: 5000 }).toBeDefined();
  return parseLogfmt(line!);
}

/** What the gateway answers when called directly, to compare the connector's answer with. */
async function direct(path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(`${f.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Reads an SSE body to the end and returns its data payloads. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
}

describe('JSON answers', () => {
  it('forwards the chat body with the server-side policy fields and returns the answer with its policy block and headers', async () => {
    const id = `next-json-${++seq}`;
    const res = await route()(browserRequest(chat(f.prompts.allow), { headers: { 'x-session-user': 'user-12345', 'x-request-id': id } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-policy-decision')).toBe('allow');
    expect(res.headers.get('x-policy-reason-code')).toBe('ALLOW');
    expect(res.headers.get('x-request-id')).toBe(id);
    const body = await json(res);
    expect(body.choices[0].message.content).toBe('Hello from the fake upstream. Contact me at [EMAIL].');
    expect(body.policy).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', reason_code: 'ALLOW', policy_user: 'user-12345', project_id: 'support-bot', allowlist_hits: ['refund policy'] });
    const rec = await auditOf(id);
    expect(rec).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', policy_user: 'user-12345', policy_project_id: 'support-bot', key_label: 'connector-tests', status: '200' });
  });

  it('ignores policy fields and metadata headers the browser sends: it cannot pick another policy, user or project', async () => {
    const id = `next-spoof-${++seq}`;
    const res = await route()(browserRequest(
      chat(f.prompts.allow, { policy_id: 'limited', policy_user: 'mallory', policy_project_id: 'other', policy_target: 'x' }),
      { headers: { 'x-session-user': 'user-777', 'x-request-id': id, 'x-policy-user': 'mallory', 'x-policy-id': 'limited', authorization: 'Bearer stolen' } },
    ));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.policy).toMatchObject({ policy_id: 'policy-gateway', policy_user: 'user-777', project_id: 'support-bot', policy_target: null });
    expect(await auditOf(id)).toMatchObject({ policy_id: 'policy-gateway', policy_user: 'user-777', key_label: 'connector-tests' });
  });

  it('passes refusals decided by the policy through as the gateway answers them', async () => {
    const res = await route()(browserRequest(chat(f.prompts.deny)));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-policy-decision')).toBe('refuse');
    const body = await json(res);
    expect(body.choices[0].message.content).toBe("I can't help with that topic.");
    expect(body.policy).toMatchObject({ decision: 'refuse', reason_code: 'REFUSE', denylist_hits: ['competitor pricing'], policy_user: null });
  });

  it('works as the quickstart writes it: key, base URL and policy from the environment, with a NextRequest', async () => {
    const saved = { ...process.env };
    process.env.POLICY_GATEWAY_KEY = f.key;
    process.env.POLICY_GATEWAY_BASE_URL = `${f.url}/policy/`;
    process.env.POLICY_GATEWAY_POLICY_ID = 'policy-gateway';
    try {
      const POST = createPolicyGatewayRoute({ apiKey: process.env.POLICY_GATEWAY_KEY, policyProjectId: 'support-bot' });
      const res = await POST(new NextRequest('http://app.example/api/chat', { method: 'POST', body: JSON.stringify(chat(f.prompts.allow)) }));
      expect(res.status).toBe(200);
      expect((await json(res)).policy).toMatchObject({ policy_id: 'policy-gateway', project_id: 'support-bot' });
    } finally {
      process.env = saved;
    }
  });
});

describe('SSE streams', () => {
  it('streams chunk by chunk with the policy block on the last data chunk before [DONE]', async () => {
    const res = await route()(browserRequest(chat(f.prompts.allow, { stream: true }), { headers: { 'x-session-user': 'user-12345' } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-policy-decision')).toBe('allow');
    const data = await sseData(res);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello from the fake upstream. Contact me at [EMAIL].');
    expect(chunks.at(-1).policy).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', policy_user: 'user-12345', project_id: 'support-bot' });
  });

  it('hands the first bytes to the browser while the upstream is still sending (no buffering)', async () => {
    const abortedBefore = f.upstream.aborted;
    // `slow-stream`: the fake upstream sends one chunk, then waits 60 s before the next.
    const res = await route()(browserRequest({ ...chat(f.prompts.allow), model: 'slow-stream', stream: true }));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const text = new TextDecoder().decode(first.value);
    expect(text).toMatch(/^data: \{.*"role":"assistant"/);
    // The upstream answer is still open: cancelling the browser's stream closes the gateway request, and the
    // gateway closes the upstream's — which the fake upstream counts only for an answer it had not finished.
    await reader.cancel();
    await expect.poll(() => f.upstream.aborted, { timeout: 5000 }).toBe(abortedBefore + 1);
  });

  it('aborts the gateway request when the browser goes away (request.signal)', async () => {
    const abortedBefore = f.upstream.aborted;
    const ac = new AbortController();
    const res = await route()(browserRequest({ ...chat(f.prompts.allow), model: 'slow-stream', stream: true }, { signal: ac.signal }));
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    ac.abort();
    await expect.poll(() => f.upstream.aborted, { timeout: 5000 }).toBe(abortedBefore + 1);
  });
});

describe("the gateway's errors pass through unchanged", () => {
  /** Calls the connector and the gateway directly with the same request and checks both answers are the same. */
  async function same(connector: Response, gateway: Response, status: number, headers: string[]): Promise<any> {
    expect(connector.status).toBe(status);
    expect(gateway.status).toBe(status);
    for (const h of headers) {
      expect(connector.headers.get(h), h).not.toBeNull();
      if (h !== 'x-request-id' && !h.startsWith('x-ratelimit-reset')) expect(connector.headers.get(h), h).toBe(gateway.headers.get(h));
    }
    const [a, b] = [await json(connector), await json(gateway)];
    expect(a).toEqual(b);
    expect(Object.keys(a.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    return a;
  }

  it('401: a wrong policy key', async () => {
    const body = await same(
      await route({ apiKey: 'pgk_wrongwrongwr_00000000000000000000000000000000' })(browserRequest(chat(f.prompts.allow))),
      await direct('/policy/chat/completions', { ...chat(f.prompts.allow), policy_id: 'policy-gateway' }, { authorization: 'Bearer pgk_wrongwrongwr_00000000000000000000000000000000' }),
      401, ['x-request-id'],
    );
    expect(body.error.code).toBe('invalid_api_key');
  });

  it('401: no key configured at all', async () => {
    const saved = process.env.POLICY_GATEWAY_KEY;
    delete process.env.POLICY_GATEWAY_KEY;
    try {
      const body = await same(
        await route({ apiKey: undefined })(browserRequest(chat(f.prompts.allow))),
        await direct('/policy/chat/completions', { ...chat(f.prompts.allow), policy_id: 'policy-gateway' }, {}),
        401, [],
      );
      expect(body.error.code).toBe('missing_api_key');
    } finally {
      if (saved !== undefined) process.env.POLICY_GATEWAY_KEY = saved;
    }
  });

  it('403: a key that may not use the policy', async () => {
    const body = await same(
      await route({ apiKey: f.limitedKey })(browserRequest(chat(f.prompts.allow))),
      await direct('/policy/chat/completions', { ...chat(f.prompts.allow), policy_id: 'policy-gateway' }, { authorization: `Bearer ${f.limitedKey}` }),
      403, [],
    );
    expect(body.error.code).toBe('forbidden');
  });

  it('404: an unknown policy_id', async () => {
    const body = await same(
      await route({ policyId: 'no-such-policy' })(browserRequest(chat(f.prompts.allow))),
      await direct('/policy/chat/completions', { ...chat(f.prompts.allow), policy_id: 'no-such-policy' }, { authorization: `Bearer ${f.key}` }),
      404, [],
    );
    expect(body.error.code).toBe('policy_not_found');
  });

  it('404: a base URL that does not end in /policy or /v1', async () => {
    const body = await same(
      await route({ baseUrl: `${f.url}/api` })(browserRequest(chat(f.prompts.allow))),
      await direct('/api/chat/completions', { ...chat(f.prompts.allow), policy_id: 'policy-gateway' }, { authorization: `Bearer ${f.key}` }),
      404, [],
    );
    expect(body.error.message).toMatch(/base URL ends with \/v1/);
  });

  it('400: messages that are not an array of { role, content }', async () => {
    const bad = { model: 'fake-model', messages: 'Summarize our refund policy.' };
    const body = await same(
      await route()(browserRequest(bad)),
      await direct('/policy/chat/completions', { ...bad, policy_id: 'policy-gateway', policy_project_id: 'support-bot' }, { authorization: `Bearer ${f.key}` }),
      400, [],
    );
    expect(body.error.code).toBe('invalid_messages');
  });

  it('429: over the quota, with Retry-After and the rate-limit headers', async () => {
    const user = `next-429-${Date.now()}-${++seq}`;
    const limited = route({ policyId: 'limited', policyProjectId: undefined });
    for (let i = 0; i < 2; i++) expect((await limited(browserRequest(chat('hi'), { headers: { 'x-session-user': user } }))).status).toBe(200);
    const res = await limited(browserRequest(chat('hi'), { headers: { 'x-session-user': user } }));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await json(res)).toEqual({ error: { message: expect.stringMatching(/^rate limit "user 2 requests per day" exceeded: retry after \d+ seconds$/), type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  });
});

describe("the connector's own errors", () => {
  it('400: a body that is not JSON, or not an object, never reaches the gateway', async () => {
    const before = f.auditLines().length;
    const res = await route()(browserRequest(undefined, { raw: '{"model": "fake-model", ' }));
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
    const arr = await route()(browserRequest([1, 2]));
    expect(arr.status).toBe(400);
    expect((await json(arr)).error.code).toBe('invalid_body');
    expect(f.auditLines().length).toBe(before);
  });

  it('413: a body over maxBodyBytes, declared or streamed without a length', async () => {
    const small = route({ maxBodyBytes: 1024 });
    const declared = await small(browserRequest(chat('x'.repeat(2000))));
    expect(declared.status).toBe(413);
    expect((await json(declared)).error.code).toBe('request_too_large');
    const bytes = new TextEncoder().encode(JSON.stringify(chat('y'.repeat(5000))));
    const streamed = new Request('http://app.example/api/chat', {
      method: 'POST',
      body: new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += 100) c.enqueue(bytes.subarray(i, i + 100)); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.headers.get('content-length')).toBeNull();
    const res = await small(streamed);
    expect(res.status).toBe(413);
  });

  it('500: no policy id configured', async () => {
    const saved = process.env.POLICY_GATEWAY_POLICY_ID;
    delete process.env.POLICY_GATEWAY_POLICY_ID;
    try {
      const res = await route({ policyId: undefined })(browserRequest(chat('hi')));
      expect(res.status).toBe(500);
      expect((await json(res)).error.code).toBe('policy_gateway_misconfigured');
    } finally {
      if (saved !== undefined) process.env.POLICY_GATEWAY_POLICY_ID = saved;
    }
  });

  it('502: the gateway cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const res = await route({ baseUrl: `http://127.0.0.1:${port}/policy` })(browserRequest(chat('hi')));
    expect(res.status).toBe(502);
    const body = await json(res);
    expect(body.error).toMatchObject({ type: 'server_error', code: 'gateway_unreachable' });
    expect(body.error.message).toContain('ECONNREFUSED');
  });

  it('504: no response headers within timeoutMs', async () => {
    // `slow`: the fake upstream answers after 60 s, so the gateway has nothing to send back before then.
    const res = await route({ timeoutMs: 300 })(browserRequest({ ...chat(f.prompts.allow), model: 'slow' }));
    expect(res.status).toBe(504);
    expect((await json(res)).error.code).toBe('gateway_timeout');
  });

  it('rejects nonsensical limits when the route is created', () => {
    expect(() => createPolicyGatewayRoute({ maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => createPolicyGatewayRoute({ timeoutMs: -1 })).toThrow(/timeoutMs/);
  });
});
