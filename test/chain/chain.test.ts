// Chain rules, against a real in-process Gateway on a loopback port with recording test plugins:
// request hooks in order and short-circuiting, response/chunk hooks in reverse, onComplete always,
// a throwing plugin is a clean 500 (logged with the request id), an async hook over budget times out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import OpenAI from 'openai';
import { Gateway } from '../../src/http/gateway.ts';
import { createMetrics } from '../../src/metrics.ts';
import { buildUpstreams, UpstreamRouter } from '../../src/upstream/router.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import { definePlugin, type PluginFactory } from '../../src/sdk/plugin.ts';
import type { GatewayServices } from '../../src/sdk/context.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../src/sdk/types.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir } from '../helpers/gateway-process.ts';

const calls: string[] = [];
const lastText = (ctx: { request: object }) => String((ctx.request as ChatRequest).messages.at(-1)!.content);

function recorder(name: string): PluginFactory<true> {
  return definePlugin({
    name, blocks: [name],
    compile: (blocks) => (blocks.length ? true : undefined),
    hooks: () => ({
      onRequest: (ctx) => {
        calls.push(`${name}:onRequest`);
        const t = lastText(ctx);
        if (t === `${name} refuses`) return { kind: 'respond', content: `refused by ${name}` };
        if (t === `${name} throws`) throw new Error('kaboom secret detail');
        if (t === `${name} is slow`) return new Promise((r) => setTimeout(() => r(undefined), 2000));
        if (t === `${name} is async`) return Promise.resolve(undefined);
        return undefined;
      },
      onResponse: (b) => { const body = b as ChatCompletion; calls.push(`${name}:onResponse`); body.choices[0]!.message.content += ` [${name}]`; },
      onChunk: (c) => { const chunk = c as ChatCompletionChunk; if (chunk.choices[0]?.delta?.content) { calls.push(`${name}:onChunk`); chunk.choices[0].delta.content += `|${name}`; return 'modified'; } return 'pass'; },
      onComplete: (o) => { calls.push(`${name}:onComplete:${o.status}${o.error ? `:${o.error.code}` : ''}`); },
    }),
  });
}

/**
 * Appends to the prompt when asked to; declares `responseAccess: 'marked'` and appends to the answer, marking the
 * change only when asked to (an unmarked change shows that the gateway then sends the upstream's bytes).
 */
const marker = definePlugin<true>({
  name: 'marker', blocks: ['marker'],
  compile: (blocks) => (blocks.length ? true : undefined),
  hooks: () => ({
    onRequest: (ctx) => {
      const m = (ctx.request as ChatRequest).messages.at(-1)!;
      if (m.content === 'change it') m.content += ' (changed)';
    },
    responseAccess: 'marked',
    onResponse: (b, ctx) => {
      const body = b as ChatCompletion;
      const asked = String((ctx.request as ChatRequest).messages.at(-1)!.content);
      if (asked.startsWith('answer')) body.choices[0]!.message.content += ' (changed)';
      if (asked === 'answer marked') ctx.markResponseChanged();
    },
  }),
});

let up: FakeUpstream;
let gw: Gateway;
let url: string;
let set: Awaited<ReturnType<typeof loadPolicies>>['set'];
const logs: string[] = [];

beforeAll(async () => {
  up = await startFakeUpstream({ answer: 'abc' });
  const dir = rulesDir({ 'c.policy': 'policy "c" {\n  default\n  first {}\n  second {}\n}\npolicy "m" {\n  marker {}\n}\n' });
  const loaded = await loadPolicies([dir], [recorder('first'), recorder('second'), marker]);
  expect(loaded.diagnostics).toEqual([]);
  set = loaded.set;
  const metrics = createMetrics(new Registry(), [], { defaults: false });
  const log = pino({ level: 'info' }, { write: (s: string) => { logs.push(s); } });
  const services: GatewayServices = {
    log, metricsOf: (d) => metrics.of(d), env: {}, redisUrl: undefined, audit: { destination: 'off', format: 'logfmt' },
    onClose: () => undefined, onReopen: () => undefined, background: (t) => { void t(); },
  };
  gw = new Gateway({
    policies: { current: set }, router: new UpstreamRouter(buildUpstreams([{ name: 'default', baseUrl: up.baseUrl, models: ['*'], keyEnv: undefined }], {}, { maxSockets: 8, connectTimeoutMs: 1000 })),
    metrics, services, log, bodyLimit: 1 << 20, upstreamTimeoutMs: 5000, pluginTimeoutMs: 300, defaultPolicy: undefined,
  });
  url = `http://127.0.0.1:${await gw.listen(0, '127.0.0.1')}/v1`;
});
afterAll(async () => {
  await gw.shutdown(1000);
  await up.close();
});

const client = () => new OpenAI({ baseURL: url, apiKey: 'k', maxRetries: 0 });
const ask = (content: string) => client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
/** onComplete runs after the response is sent: wait until both plugins recorded it. */
const completed = () => expect.poll(() => calls.filter((c) => c.includes(':onComplete')).length).toBe(2);

describe('plugin chain', () => {
  it('runs onRequest in chain order, onResponse in reverse, onComplete in order after the answer', async () => {
    calls.length = 0;
    const r = await ask('hello');
    await completed();
    expect(r.choices[0]!.message.content).toBe('abc [second] [first]');
    expect(calls).toEqual(['first:onRequest', 'second:onRequest', 'second:onResponse', 'first:onResponse', 'first:onComplete:200', 'second:onComplete:200']);
  });

  it('runs onChunk in reverse order on every content chunk of a stream', async () => {
    calls.length = 0;
    const stream = await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    await completed();
    expect(text).toBe('abc|second|first');
    expect(calls.filter((c) => c.endsWith('onChunk'))).toEqual(['second:onChunk', 'first:onChunk']);
  });

  it('a local answer stops later onRequest hooks and never calls upstream; onComplete still runs for all', async () => {
    calls.length = 0;
    const before = up.received.length;
    const r = await ask('first refuses');
    await completed();
    expect(r.choices[0]!.message.content).toBe('refused by first');
    expect(up.received.length).toBe(before);
    expect(calls).toEqual(['first:onRequest', 'first:onComplete:200', 'second:onComplete:200']);
  });

  it('a throwing plugin is an OpenAI-shaped 500 with a generic message, logged with the request id; the gateway keeps serving', async () => {
    calls.length = 0;
    const r = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-boom-1' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'second throws' }] }) });
    expect(r.status).toBe(500);
    const j = (await r.json()) as { error: { message: string; code: string } };
    expect(j.error.code).toBe('internal_error');
    expect(j.error.message).not.toMatch(/kaboom|second/);
    await completed();
    expect(calls).toEqual(['first:onRequest', 'second:onRequest', 'first:onComplete:500:GW_ERR_PLUGIN_FAILED', 'second:onComplete:500:GW_ERR_PLUGIN_FAILED']);
    const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'plugin failed' && l.reqId === 'req-boom-1');
    expect(line).toMatchObject({ plugin: 'second', hook: 'onRequest' });
    expect((await ask('hello')).choices[0]!.message.content).toBe('abc [second] [first]');
  });

  it('with request hooks that read the body, the upstream gets it exactly as the policy saw it, re-serialised', async () => {
    expect(set!.policies.get('m')!.chain.requestUse).toBe('unmarked'); // marker declares no requestAccess
    const send = (body: string) => fetch(`${url}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-policy-id': 'm' }, body,
    });
    expect((await send('{"model":"m",  "messages":[{"role":"user","content":"change it"}]}')).status).toBe(200);
    expect(up.received.at(-1)!.raw).toBe('{"model":"m","messages":[{"role":"user","content":"change it (changed)"}]}');
    expect((await send('{"model":"m",  "messages":[{"role":"user","content":"leave it"}]}')).status).toBe(200);
    expect(up.received.at(-1)!.raw).toBe('{"model":"m","messages":[{"role":"user","content":"leave it"}]}');
    // Duplicate keys: JSON.parse keeps the last one, a first-wins parser upstream would read the first. The hooks
    // saw "hello", so "hello" is all the upstream may see.
    const smuggled = '{"model":"m","messages":[{"role":"user","content":"wire the money"}],"messages":[{"role":"user","content":"hello"}]}';
    expect((await send(smuggled)).status).toBe(200);
    expect(up.received.at(-1)!.raw).toBe('{"model":"m","messages":[{"role":"user","content":"hello"}]}');
  });

  it('an answer is re-serialised only when a response hook marked its change; otherwise the upstream bytes go out', async () => {
    expect(set!.policies.get('m')!.chain.responseRewrites).toBe('marked');
    expect(set!.policies.get('c')!.chain.responseRewrites).toBe('always');
    const ask = async (content: string) => {
      const r = await fetch(`${url}/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-policy-id': 'm' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] }),
      });
      const j = (await r.json()) as { choices: { message: { content: string } }[]; policy: { policy_id: string } };
      expect(j.policy.policy_id).toBe('m');
      return j.choices[0]!.message.content;
    };
    expect(await ask('answer marked')).toBe('abc (changed)');
    expect(await ask('answer quietly')).toBe('abc'); // changed without marking: the contract says it is not sent
  });

  it('an async hook over its budget is a 500 plugin timeout; an async hook within budget continues the chain', async () => {
    calls.length = 0;
    const ok = await ask('first is async');
    expect(ok.choices[0]!.message.content).toBe('abc [second] [first]');
    await completed();
    calls.length = 0;
    const r = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'first is slow' }] }) });
    expect(r.status).toBe(500);
    await completed();
    expect(calls).toContain('second:onComplete:500:GW_ERR_PLUGIN_TIMEOUT');
    expect(calls).not.toContain('second:onRequest');
  });

});

describe('request body use, from the hooks\' declared access', () => {
  it('is untouched for none, marked when every hook declares read or marked, unmarked as soon as one hook declares nothing', async () => {
    const { buildChain } = await import('../../src/chain/build-chain.ts');
    const hook = (requestAccess?: 'none' | 'read' | 'marked') => ({ name: 'x', hooks: { requestAccess, onRequest: () => undefined } });
    expect(buildChain([hook('none'), { name: 'y', hooks: {} }]).requestUse).toBe('untouched');
    expect(buildChain([hook('none'), hook('marked')]).requestUse).toBe('marked');
    expect(buildChain([hook('read'), hook('none')]).requestUse).toBe('marked');
    expect(buildChain([hook('marked'), hook()]).requestUse).toBe('unmarked');
    expect(buildChain([hook('read'), hook()]).requestUse).toBe('unmarked');
    expect(buildChain([]).requestUse).toBe('untouched');
  });
});

describe('onComplete runner', () => {
  it('stays synchronous while every hook is, waits for an async one before the next, and never throws', async () => {
    const { buildChain } = await import('../../src/chain/build-chain.ts');
    const { ChainRunner } = await import('../../src/chain/run-chain.ts');
    const { ctxFor } = await import('../helpers/ctx.ts');
    const order: string[] = [];
    const runner = new ChainRunner(createMetrics(new Registry(), [], { defaults: false }), 1000);
    const ctx = ctxFor({ model: 'm', messages: [] });
    const outcome = { status: 200, upstreamCalled: true, aborted: false, synthesized: false };
    const sync = (name: string) => ({ name, hooks: { onComplete: () => { order.push(name); } } });
    const thrower = { name: 't', hooks: { onComplete: () => { order.push('t'); throw new Error('x'); } } };
    expect(runner.runComplete(buildChain([sync('a'), thrower, sync('b')]), outcome, ctx)).toBeUndefined();
    expect(order).toEqual(['a', 't', 'b']);
    order.length = 0;
    let release!: () => void;
    const slow = { name: 's', hooks: { onComplete: () => new Promise<void>((r) => { release = () => { order.push('s'); r(); }; }) } };
    const p = runner.runComplete(buildChain([sync('a'), slow, sync('b')]), outcome, ctx);
    expect(p).toBeInstanceOf(Promise);
    expect(order).toEqual(['a']);
    release();
    await p;
    expect(order).toEqual(['a', 's', 'b']);
  });
});
