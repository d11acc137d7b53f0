// Deeply nested JSON (issue 13 item 1): a request nested at any depth up to the body limit gets an answer — a 400
// naming the nesting limit beyond it — and the process survives; an upstream answer (JSON or SSE chunk) nested beyond
// the limit is a 502 / an error event, never a crash. Real CLI process, real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const nested = (depth: number, leaf = '0'): string => '['.repeat(depth) + leaf + ']'.repeat(depth);
const RULES = {
  'open.policy': 'policy "open" {\n  default\n}\n',
  // every plugin that walks the request or the answer: topics, moderation, request + response redaction, audit capture
  'walk.policy': [
    'policy "walk" {',
    '  topics { deny "forbidden topic" }',
    '  moderation { provider builtin; flag "violence" }',
    '  respond { when denylist refuse; otherwise allow }',
    '  redact request { email }',
    '  redact response { email }',
    '  audit { prompts on }',
    '}', '',
  ].join('\n'),
};

let up: FakeUpstream;
let gw: GatewayProcess;
beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl]);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

async function post(body: string, route = '/v1/chat/completions'): Promise<{ status: number; json: { error?: { message: string; type: string; code: string } } }> {
  const r = await fetch(`${gw.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.status, json: (await r.json()) as { error?: { message: string; type: string; code: string } } };
}

describe('request bodies nested at any depth', () => {
  it.each([
    { note: 'an extra field nested 5,000 deep (the reported crash)', where: 'x', depth: 5000 },
    { note: 'an extra field nested 200,000 deep', where: 'x', depth: 200_000 },
    { note: 'message content nested 5,000 deep', where: 'content', depth: 5000 },
    { note: 'nested objects 5,000 deep', where: 'objects', depth: 5000 },
    { note: 'a tool schema nesting the body 67 deep (3 past the limit)', where: 'tools', depth: 63 },
  ])('$note: 400 invalid_request_error naming the limit, and the gateway keeps serving', async ({ where, depth }) => {
    const msgs = where === 'content' ? [{ role: 'user', content: '@' }] : [{ role: 'user', content: 'hi' }];
    let body = JSON.stringify({ model: 'm', messages: msgs, x: '@' });
    if (where === 'x') body = body.replace('"@"', nested(depth));
    if (where === 'content') body = body.replace('"@"', nested(depth, '{"type":"text","text":"hi"}'));
    if (where === 'objects') body = body.replace('"@"', '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    if (where === 'tools') body = body.replace('"x":"@"', `"tools":[{"type":"function","function":{"name":"f","parameters":${nested(depth)}}}]`);
    const r = await post(body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: 'json_too_deep' });
    expect(r.json.error!.message).toContain('64');
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('nesting up to the limit (64 levels, counting the body object) is forwarded unchanged, through every walking plugin', async () => {
    for (const policy of ['open', 'walk']) {
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi a@b.example' }], policy_id: policy, x: JSON.parse(nested(63)) });
      const r = await post(body, '/policy/chat/completions');
      expect(r.status).toBe(200);
      expect(JSON.stringify(up.received.at(-1)!.body.x)).toBe(nested(63));
    }
  });

  it('deep bodies on the walking policy are refused before any plugin runs, and each gets exactly one audit record', async () => {
    const ids = ['deep-walk-1', 'deep-walk-2'];
    for (const id of ids) {
      const r = await fetch(`${gw.url}/policy/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'm', policy_id: 'walk', messages: [{ role: 'user', content: 'x' }] }).replace('"x"', nested(10_000, '"x"')),
      });
      expect(r.status).toBe(400);
    }
    await expect.poll(() => gw.stdout().split('\n').filter((l) => ids.some((id) => l.includes(`request_id=${id} `))).length, { timeout: 5000 }).toBe(2);
    const rec = parseLogfmt(gw.stdout().split('\n').find((l) => l.includes('request_id=deep-walk-1 '))!);
    expect(rec).toMatchObject({ status: '400', code: 'GW_ERR_JSON_TOO_DEEP' });
    expect(gw.proc.exitCode).toBeNull();
  });
});

describe('upstream answers nested beyond the limit', () => {
  let deep: http.Server;
  let gw2: GatewayProcess;
  beforeAll(async () => {
    deep = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => { raw += c; });
      req.on('end', () => {
        const body = JSON.parse(raw) as { stream?: boolean };
        const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'hello ' }, finish_reason: null }] })}\n\n`);
          res.end(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] }).replace('"x"', `"x","extra":${nested(20_000)}`)}\n\n`);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"extra":${nested(20_000)}}`);
      });
    });
    await new Promise<void>((r) => deep.listen(0, '127.0.0.1', r));
    gw2 = await startGateway(['--rules', rulesDir(RULES), '--upstream', `http://127.0.0.1:${(deep.address() as AddressInfo).port}/v1`]);
  });
  afterAll(async () => {
    await gw2?.stop();
    await new Promise((r) => deep.close(r));
  });

  it.each(['open', 'walk'])('a JSON answer nested 20,000 deep is a 502 upstream_bad_response (policy %s)', async (policy) => {
    const r = await fetch(`${gw2.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', policy_id: policy, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('upstream_bad_response');
  });

  it.each(['open', 'walk'])('an SSE chunk nested 20,000 deep ends the stream with an error event (policy %s)', async (policy) => {
    const r = await fetch(`${gw2.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', policy_id: policy, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(r.status).toBe(200);
    const events = (await r.text()).trimEnd().split('\n\n');
    // the chunk before the deep one passes (the redacting policy may still hold it back), then the error event ends it
    if (policy === 'open') expect(events[0]).toContain('hello');
    expect(events.some((e) => e.includes('[DONE]') || e.includes('[[[['))).toBe(false);
    expect(events.at(-1)).toMatch(/^data: \{"error":\{.*"code":"upstream_bad_response"/);
    expect((await fetch(`${gw2.url}/healthz`)).status).toBe(200);
    expect(gw2.proc.exitCode).toBeNull();
  });
});
