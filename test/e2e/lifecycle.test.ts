// End-to-end lifecycle: embedded demo upstream, model routing, unreachable upstream, client abort,
// graceful SIGTERM during a stream, and --workers with aggregated metrics. Real CLI processes, real sockets.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import OpenAI from 'openai';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const RULES = { 'p.policy': 'policy "pass" {\n  default\n}\n' };
const msgs = [{ role: 'user' as const, content: 'hello there' }];
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

async function upstream(opts?: Parameters<typeof startFakeUpstream>[0]): Promise<FakeUpstream> {
  const u = await startFakeUpstream(opts);
  cleanup.push(() => u.close());
  return u;
}
async function gateway(args: string[]): Promise<GatewayProcess> {
  const g = await startGateway(args);
  cleanup.push(() => g.stop());
  return g;
}

describe('gateway lifecycle', () => {
  it('with no upstream it serves the embedded demo model, says so at startup, and streams', async () => {
    const gw = await gateway(['--rules', rulesDir(RULES)]);
    expect(gw.stdout()).toContain('embedded demo model');
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k' });
    const r = await client.chat.completions.create({ model: 'demo-model', messages: msgs });
    expect(r.choices[0]!.message.content).toBe('This is the Policy Gateway demo model. You said: "hello there". A real model would answer here: start the gateway with --upstream to front one.');
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'demo-model', messages: msgs, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(r.choices[0]!.message.content);
    const models = (await (await fetch(`${gw.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['demo-model', 'demo-model-mini']);
  });

  it('the demo model streams word by word at a model\'s pace, with usage, also through the bundled demo policy\'s redaction', async () => {
    const timed = async (client: OpenAI, headers: Record<string, string>) => {
      const t0 = performance.now();
      const stream = await client.chat.completions.create({ model: 'demo-model', messages: msgs, stream: true, stream_options: { include_usage: true } }, { headers });
      const pieces: { at: number; text: string }[] = [];
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const c of stream) {
        const text = c.choices[0]?.delta?.content;
        if (text) pieces.push({ at: performance.now() - t0, text });
        if (c.usage) usage = c.usage;
      }
      return { pieces, usage, text: pieces.map((p) => p.text).join('') };
    };
    // no redaction: one chunk per word, each after a pause (~30 ms), so the words arrive over several hundred ms
    const pass = await gateway(['--rules', rulesDir(RULES)]);
    const passClient = new OpenAI({ baseURL: `${pass.url}/v1`, apiKey: 'k' });
    const whole = (await passClient.chat.completions.create({ model: 'demo-model', messages: msgs })).choices[0]!.message.content!;
    const words = whole.match(/\s*\S+/g)!;
    const plain = await timed(passClient, {});
    expect(plain.pieces.map((p) => p.text)).toEqual(words);
    expect(plain.pieces.at(-1)!.at - plain.pieces[0]!.at).toBeGreaterThan((words.length - 1) * 15);
    expect(plain.usage).toMatchObject({ completion_tokens: expect.any(Number), prompt_tokens: expect.any(Number) });
    expect(plain.usage!.total_tokens).toBe(plain.usage!.prompt_tokens + plain.usage!.completion_tokens);
    // the bundled rules (`npm start`): the demo policy redacts, holding back 66 characters, yet the answer still
    // arrives in many pieces over time, not in one chunk after a row of empty ones
    const bundled = await gateway(['--rules', 'rules']);
    const demo = await timed(new OpenAI({ baseURL: `${bundled.url}/v1`, apiKey: 'k' }), { 'X-Policy-Id': 'demo' });
    expect(demo.text).toBe(whole);
    expect(demo.pieces.length).toBeGreaterThanOrEqual(5);
    expect(demo.pieces.at(-1)!.at - demo.pieces[0]!.at).toBeGreaterThan(100);
  });

  it('routes by model glob to several upstreams and sends each its own key from the environment', async () => {
    const a = await upstream({ answer: 'from A' });
    const b = await upstream({ answer: 'from B' });
    const gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', `gpt-*=${a.baseUrl}`, '--upstream', `llama*=${b.baseUrl}`,
      '--upstream-key-env', 'gpt-*=KEY_A', '--upstream-key-env', 'llama*=KEY_B'], { env: { KEY_A: 'sk-upstream-a', KEY_B: 'sk-upstream-b' } });
    cleanup.push(() => gw.stop());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'policy-key' });
    expect((await client.chat.completions.create({ model: 'gpt-4o', messages: msgs })).choices[0]!.message.content).toBe('from A');
    expect((await client.chat.completions.create({ model: 'llama-3', messages: msgs })).choices[0]!.message.content).toBe('from B');
    expect(a.received[0]!.headers.authorization).toBe('Bearer sk-upstream-a');
    expect(b.received[0]!.headers.authorization).toBe('Bearer sk-upstream-b');
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude', messages: msgs }) });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });

  it('--upstream-client http (http-proxy-3 native path) answers JSON and SSE the same, and times out with 504', async () => {
    const up = await upstream({ slowMs: 1500 });
    const gw = await gateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--upstream-client', 'http', '--upstream-timeout', '500ms']);
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    expect((await client.chat.completions.create({ model: 'fake-model', messages: msgs })).choices[0]!.message.content).toBe(FAKE_ANSWER);
    const stream = await client.chat.completions.create({ model: 'split-sse', messages: msgs, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(FAKE_ANSWER);
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'slow', messages: msgs }) });
    expect(r.status).toBe(504);
  });

  it('an unreachable upstream is a clean 502 and readiness says why', async () => {
    const gw = await gateway(['--rules', rulesDir(RULES), '--upstream', 'http://127.0.0.1:9/v1', '--connect-timeout', '1s']);
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: msgs }) });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('upstream_unreachable');
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', reason: 'upstream "default" unreachable' });
  });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    const up = await upstream({ chunkDelayMs: 50 });
    const gw = await gateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl]);
    await new Promise<void>((resolve) => {
      const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.end(JSON.stringify({ model: 'fake-model', messages: msgs, stream: true }));
    });
    await expect.poll(() => up.aborted, { timeout: 5000 }).toBe(1);
    await expect.poll(async () => (await (await fetch(`${gw.url}/metrics`)).text()).match(/policy_gateway_requests_total\{route="v1",endpoint="chat",status="200"\} (\d+)/)?.[1], { timeout: 5000 }).toBe('1');
  });

  it('a client that disconnects before the upstream answered aborts the upstream request (non-streaming)', async () => {
    const up = await upstream({ slowMs: 3000 });
    const gw = await gateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl]);
    const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => { /* destroyed on purpose */ });
    req.end(JSON.stringify({ model: 'slow', messages: msgs }));
    await expect.poll(() => up.received.length, { timeout: 5000 }).toBe(1);
    req.destroy();
    // the upstream sees its request closed long before its 3 s answer, and the gateway counts a client abort (status 0)
    await expect.poll(() => up.aborted, { timeout: 2000 }).toBe(1);
    await expect.poll(async () => (await (await fetch(`${gw.url}/metrics`)).text()).match(/policy_gateway_requests_total\{route="v1",endpoint="chat",status="0"\} (\d+)/)?.[1], { timeout: 5000 }).toBe('1');
  });

  it('SIGTERM during a running stream lets the stream complete, then exits 0', async () => {
    const up = await upstream({ chunkDelayMs: 40 });
    const gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--grace', '10s']);
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k' });
    const stream = await client.chat.completions.create({ model: 'fake-model', messages: msgs, stream: true });
    let text = '';
    let signalled = false;
    let sawPolicy = false;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if ((c as { policy?: unknown }).policy) sawPolicy = true;
      if (!signalled) { signalled = true; gw.proc.kill('SIGTERM'); }
    }
    expect(text).toBe(FAKE_ANSWER);
    expect(sawPolicy).toBe(true);
    expect(await gw.exited).toBe(0);
    expect(gw.stdout()).toContain('"msg":"stopped"');
    // after the stop, the port is closed
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
  });

  it('--workers 2 shares the port and aggregates metrics from both workers on /metrics', async () => {
    const up = await upstream();
    const gw = await gateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--workers', '2']);
    // /readyz answers as soon as one worker listens; the primary hands connections only to listening workers
    const listeningPids = () => new Set(gw.stdout().split('\n').filter((l) => l.includes('"msg":"listening"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    for (const until = Date.now() + 10_000; listeningPids().size < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    expect(listeningPids().size).toBe(2);
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    await Promise.all(Array.from({ length: 40 }, () => client.chat.completions.create({ model: 'fake-model', messages: msgs })));
    const pids = new Set(gw.stdout().split('\n').filter((l) => l.includes('"msg":"request completed"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    expect(pids.size).toBe(2);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/policy_gateway_requests_total\{route="v1",endpoint="chat",status="200"\} 40\b/);

    // Per-process facts are not summed over the workers: build and rules info stay 1, the reload time is a time.
    expect(text).toMatch(/^policy_gateway_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+\.\d+\.\d+"\} 1$/m);
    expect(text.match(/^policy_gateway_rules_info\{revision="[0-9a-f]{12}"\} 1$/gm)).toHaveLength(1);
    const reloaded = Number(/^policy_gateway_rules_last_reload_success_timestamp_seconds (\S+)$/m.exec(text)![1]);
    expect(Math.abs(reloaded - Date.now() / 1000)).toBeLessThan(120);
  });
});
