// The quota plugin's hooks on real compiled policies, with the memory store and with the real Redis: limits,
// 429s with Retry-After and x-ratelimit-* headers, reserve-then-settle from usage, refunds, window rollover,
// subjects, and 500 concurrent requests against a limit of 100 from two gateways.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import quotaPlugin, { subjectKey } from '../../../plugins/quota/index.ts';
import { principalKey, quotaKey } from '../../../src/sdk/state-keys.ts';
import { storeFor } from '../../../plugins/quota/store-for.ts';
import { MemoryQuotaStore } from '../../../plugins/quota/store-memory.ts';
import type { GatewayError } from '../../../src/errors.ts';
import type { ChatRequest, Usage } from '../../../src/sdk/types.ts';
import type { PluginHooks, RequestAction } from '../../../src/sdk/plugin.ts';
import type { RequestContext } from '../../../src/sdk/context.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compilePolicyText, hooksOf, show } from '../auth/helpers.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `qt-${randomUUID().slice(0, 8)}`;
const MINUTE = Date.parse('2026-06-01T12:00:00Z');
const DAY = Date.parse('2026-06-01T00:00:00Z');

type Services = ReturnType<typeof testServices>;
const created: Services[] = [];
afterAll(async () => {
  for (const s of created) for (const c of s.closers) await c();
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`pgw:q:${RUN}-*`);
  if (keys.length) await r.del(...keys);
  await r.quit();
});

let seq = 0;
function setup(kind: 'memory' | 'redis', body: string) {
  const id = `${RUN}-${++seq}`;
  const r = compilePolicyText(`policy "${id}" {\n  quota {\n${body}\n  }\n}\n`, [quotaPlugin]);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map(show)).toEqual([]);
  const hooks = hooksOf(r, id, 'quota');
  const gateway = () => {
    const s = testServices(kind === 'redis' ? { redisUrl: REDIS_URL } : {});
    created.push(s);
    return s;
  };
  const services = gateway();
  return { id, hooks, services, gateway };
}

function msg(chars: number): ChatRequest {
  return { model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(chars) }] };
}

async function send(hooks: PluginHooks, services: Services, policyId: string, o: {
  now: number; user?: string | null; project?: string | null; request?: ChatRequest; principal?: { id: string; label: string };
}): Promise<{ ctx: RequestContext; action: RequestAction; error: GatewayError | undefined }> {
  const ctx = ctxFor(o.request ?? msg(8), { services, meta: { policyId, user: o.user === undefined ? 'alice' : o.user, project: o.project ?? null }, now: () => o.now });
  if (o.principal) ctx.set(principalKey, o.principal);
  const action = await hooks.onRequest!(ctx);
  return { ctx, action, error: action && action.kind === 'reject' ? action.error : undefined };
}

async function complete(hooks: PluginHooks, ctx: RequestContext, usage: Usage | undefined, now?: number) {
  ctx.usage = usage;
  if (now !== undefined) (ctx as { now: () => number }).now = () => now;
  await hooks.onComplete!({ status: usage ? 200 : 502, upstreamCalled: true, aborted: false, synthesized: false }, ctx);
}

/** The value of a counter, read straight from the store the gateway uses. */
async function counter(services: Services, key: string, now: number): Promise<number> {
  const { store } = storeFor(services);
  if (store instanceof MemoryQuotaStore) return store.peek(key, now);
  return Number((await (store as unknown as { client: Redis }).client.get(key)) ?? 0);
}

const usage = (prompt: number, completion: number): Usage => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

describe.each(['memory', 'redis'] as const)('quota plugin on the %s store', (kind) => {
  it('rate limit: admits up to the limit with x-ratelimit-* headers, then 429 with a correct Retry-After; a new window admits again', async () => {
    const { id, hooks, services } = setup(kind, '    user 3 requests per minute');
    const now = MINUTE + 15_200; // 44.8 s before the window resets
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { action, ctx } = await send(hooks, services, id, { now });
      expect(action).toBeUndefined();
      expect(ctx.responseHeaders).toMatchObject({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-reset-requests': '44.8s' });
      remaining.push(ctx.responseHeaders['x-ratelimit-remaining-requests']!);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const { error, ctx } = await send(hooks, services, id, { now });
    expect(error?.status).toBe(429);
    expect(error?.code).toBe('GW_ERR_RATE_LIMITED');
    expect(error?.message).toBe('rate limit "user 3 requests per minute" exceeded: retry after 45 seconds');
    expect(error?.headers).toEqual({
      'retry-after': '45', 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '44.8s',
    });
    expect(error?.toJSON()).toEqual({ error: { message: error!.message, type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    expect(error?.reasonCode).toBe('RATE_LIMITED');
    expect(ctx.get(quotaKey)?.rejectedBy).toBe('user 3 requests per minute');
    const m = await services.registry.getSingleMetric('policy_gateway_quota_rejections_total')!.get();
    expect(m.values).toEqual([{ labels: { policy_id: id, scope: 'user_requests' }, value: 1 }]);
    // Another user has their own counter.
    expect((await send(hooks, services, id, { now, user: 'bob' })).action).toBeUndefined();
    // The next minute is a fresh window.
    const next = await send(hooks, services, id, { now: MINUTE + 60_000 });
    expect(next.action).toBeUndefined();
    expect(next.ctx.responseHeaders['x-ratelimit-remaining-requests']).toBe('2');
    expect(next.ctx.responseHeaders['x-ratelimit-reset-requests']).toBe('1m0s');
  });

  it('tokens: reserves estimate + max_tokens, settles to the real usage, and refunds when there is no usage', async () => {
    const { id, hooks, services } = setup(kind, '    user 1000 tokens per day');
    const key = `pgw:q:${id}:user_tokens:day:u:alice:${DAY / 1000}`;
    const now = DAY + 3_600_000;
    const request = { ...msg(400), max_tokens: 200 }; // 100 + 4 prompt tokens estimated, 200 completion
    const a = await send(hooks, services, id, { now, request });
    expect(a.action).toBeUndefined();
    expect(a.ctx.get(quotaKey)).toMatchObject({ keys: [key], reserved: [304], kinds: ['tokens'], promptEstimate: 104, completionReserve: 200 });
    expect(a.ctx.responseHeaders).toMatchObject({ 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '696', 'x-ratelimit-reset-tokens': '23h0m0s' });
    expect(a.ctx.responseHeaders['x-ratelimit-limit-requests']).toBeUndefined();
    expect(await counter(services, key, now)).toBe(304);
    await complete(hooks, a.ctx, usage(90, 60));
    expect(await counter(services, key, now)).toBe(150);
    // Settling twice changes nothing.
    await complete(hooks, a.ctx, usage(900, 600));
    expect(await counter(services, key, now)).toBe(150);
    // An upstream failure (no usage) gives the whole reservation back.
    const b = await send(hooks, services, id, { now, request });
    expect(await counter(services, key, now)).toBe(454);
    await complete(hooks, b.ctx, undefined);
    expect(await counter(services, key, now)).toBe(150);
    // Without max_tokens the policy's reserve (default 1024) is reserved: 104 + 1024 > 850 left.
    const c = await send(hooks, services, id, { now, request: msg(400) });
    expect(c.error?.code).toBe('GW_ERR_QUOTA_EXCEEDED');
    expect(c.error?.message).toBe('token quota "user 1000 tokens per day" exceeded: retry after 82800 seconds');
    expect(c.error?.headers?.['retry-after']).toBe('82800');
    expect(c.error?.headers?.['x-ratelimit-remaining-tokens']).toBe('850');
    expect(await counter(services, key, now)).toBe(150);
  });

  it('all or nothing: a request refused by its token quota does not use up its request count', async () => {
    const { id, hooks, services } = setup(kind, '    user 10 requests per minute\n    user 300 tokens per day');
    const reqKey = `pgw:q:${id}:user_requests:minute:u:alice:${MINUTE / 1000}`;
    const tokKey = `pgw:q:${id}:user_tokens:day:u:alice:${DAY / 1000}`;
    const refused = await send(hooks, services, id, { now: MINUTE, request: { ...msg(400), max_tokens: 200 } });
    expect(refused.error?.code).toBe('GW_ERR_QUOTA_EXCEEDED');
    // Retry-After names the blocking window (the day), not the minute.
    expect(refused.error?.headers?.['retry-after']).toBe(String(12 * 3600));
    expect(refused.error?.headers).toMatchObject({ 'x-ratelimit-remaining-requests': '10', 'x-ratelimit-remaining-tokens': '300' });
    expect([await counter(services, reqKey, MINUTE), await counter(services, tokKey, MINUTE)]).toEqual([0, 0]);
    const ok = await send(hooks, services, id, { now: MINUTE, request: { ...msg(400), max_tokens: 100 } });
    expect(ok.action).toBeUndefined();
    expect([await counter(services, reqKey, MINUTE), await counter(services, tokKey, MINUTE)]).toEqual([1, 204]);
    // The request count stays consumed even when the tokens are refunded.
    await complete(hooks, ok.ctx, undefined);
    expect([await counter(services, reqKey, MINUTE), await counter(services, tokKey, MINUTE)]).toEqual([1, 0]);
  });

  it('cost budget: reserves the estimated price, settles the real cost, then 429 budget exceeded; unpriced models are free', async () => {
    const { id, hooks, services } = setup(kind, '    project 0.02 usd per day\n    price "gpt-4o*" input 2.50 output 10.00');
    const key = `pgw:q:${id}:project_cost:day:p:support-bot:${DAY / 1000}`;
    const now = DAY + 1000;
    const request = { ...msg(400), max_tokens: 1000 }; // 104 × 2.5 + 1000 × 10 = 10260 micro-USD
    const a = await send(hooks, services, id, { now, project: 'support-bot', request });
    expect(a.action).toBeUndefined();
    expect(await counter(services, key, now)).toBe(10_260);
    await complete(hooks, a.ctx, usage(100, 500)); // 250 + 5000
    expect(await counter(services, key, now)).toBe(5_250);
    const b = await send(hooks, services, id, { now, project: 'support-bot', request });
    expect(b.action).toBeUndefined();
    const c = await send(hooks, services, id, { now, project: 'support-bot', request });
    expect(c.error?.code).toBe('GW_ERR_BUDGET_EXCEEDED');
    expect(c.error?.status).toBe(429);
    expect(c.error?.message).toBe('budget "project 0.02 usd per day" exceeded: retry after 86399 seconds');
    expect(c.error?.reasonCode).toBe('BUDGET_EXCEEDED');
    const m = await services.registry.getSingleMetric('policy_gateway_quota_rejections_total')!.get();
    expect(m.values).toEqual([{ labels: { policy_id: id, scope: 'project_cost' }, value: 1 }]);
    // Another project has its own budget; a model with no price costs nothing.
    expect((await send(hooks, services, id, { now, project: 'other', request })).action).toBeUndefined();
    expect((await send(hooks, services, id, { now, project: 'support-bot', request: { ...request, model: 'llama3' } })).action).toBeUndefined();
  });

  it('settles into the window it reserved in, even after the window rolled over', async () => {
    const { id, hooks, services } = setup(kind, '    user 1000 tokens per minute');
    const oldKey = `pgw:q:${id}:user_tokens:minute:u:alice:${MINUTE / 1000}`;
    const newKey = `pgw:q:${id}:user_tokens:minute:u:alice:${MINUTE / 1000 + 60}`;
    const a = await send(hooks, services, id, { now: MINUTE + 59_500, request: { ...msg(400), max_tokens: 200 } });
    expect(await counter(services, oldKey, MINUTE + 59_500)).toBe(304);
    await complete(hooks, a.ctx, usage(100, 400), MINUTE + 60_500);
    expect(await counter(services, oldKey, MINUTE + 60_500)).toBe(500);
    expect(await counter(services, newKey, MINUTE + 60_500)).toBe(0);
    const b = await send(hooks, services, id, { now: MINUTE + 60_500, request: { ...msg(400), max_tokens: 200 } });
    expect(b.ctx.responseHeaders['x-ratelimit-remaining-tokens']).toBe('696');
  });

  it('subjects: policy_user, else the policy key, else one shared anonymous bucket; no project shares one bucket', async () => {
    const { id, hooks, services } = setup(kind, '    user 1 requests per minute\n    project 2 requests per minute');
    const t = MINUTE;
    const w = MINUTE / 1000;
    await send(hooks, services, id, { now: t, user: null, principal: { id: 'AbCdEfGhIjKl', label: 'ci' } });
    expect(await counter(services, `pgw:q:${id}:user_requests:minute:k:AbCdEfGhIjKl:${w}`, t)).toBe(1);
    await send(hooks, services, id, { now: t, user: null });
    expect(await counter(services, `pgw:q:${id}:user_requests:minute:anonymous:${w}`, t)).toBe(1);
    const second = await send(hooks, services, id, { now: t, user: null });
    expect(second.error?.code).toBe('GW_ERR_RATE_LIMITED');
    expect(await counter(services, `pgw:q:${id}:project_requests:minute:none:${w}`, t)).toBe(2);
    // A hostile user id is hashed into a bounded key.
    const hostile = `${'x'.repeat(200)}:*:{}\n`;
    const h = await send(hooks, services, id, { now: t, user: hostile, project: 'p' });
    expect(h.action).toBeUndefined();
    const hk = `pgw:q:${id}:user_requests:minute:${subjectKey('u', hostile)}:${w}`;
    expect(hk.length).toBeLessThan(120);
    expect(await counter(services, hk, t)).toBe(1);
  });

  it('headers report the most constraining limit of each kind', async () => {
    const { id, hooks, services } = setup(kind, '    user 100 requests per minute\n    project 5 requests per hour\n    user 10k tokens per day\n    project 1M tokens per month');
    const r = await send(hooks, services, id, { now: MINUTE, project: 'p', request: { ...msg(40), max_tokens: 100 } });
    expect(r.ctx.responseHeaders).toEqual({
      'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '4', 'x-ratelimit-reset-requests': '1h0m0s',
      'x-ratelimit-limit-tokens': '10000', 'x-ratelimit-remaining-tokens': '9886', 'x-ratelimit-reset-tokens': '12h0m0s',
    });
  });

  it('500 concurrent requests from two gateways against a limit of 100: exactly 100 pass, 400 get 429 with Retry-After', async () => {
    const { id, hooks, services, gateway } = setup(kind, '    user 100 requests per minute\n    user 1M tokens per day');
    // With Redis the two gateways have separate connections and stores; in memory, one process is one store.
    const other = kind === 'redis' ? gateway() : services;
    const now = MINUTE + 30_000;
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => send(hooks, i % 2 ? services : other, id, { now })));
    const ok = results.filter((r) => r.action === undefined);
    const limited = results.filter((r) => r.error?.code === 'GW_ERR_RATE_LIMITED');
    expect(ok.length).toBe(100);
    expect(limited.length).toBe(400);
    for (const r of limited) expect(r.error!.headers!['retry-after']).toBe('30');
    const tokKey = `pgw:q:${id}:user_tokens:day:u:alice:${DAY / 1000}`;
    // Only the admitted requests hold tokens: 100 × (2 + 4 + 1024).
    expect(await counter(services, tokKey, now)).toBe(100 * 1030);
    await Promise.all(ok.map((r) => complete(hooks, r.ctx, usage(5, 5))));
    expect(await counter(services, tokKey, now)).toBe(1000);
  });
});

describe('a reservation that lands after the request ended (Redis)', () => {
  it('is given back at once: onComplete ran first (plugin budget hit, client gone), so nothing stays reserved', async () => {
    const { id, hooks, services } = setup('redis', '    user 10 requests per minute\n    user 10k tokens per day');
    const reqKey = `pgw:q:${id}:user_requests:minute:u:alice:${MINUTE / 1000}`;
    const tokKey = `pgw:q:${id}:user_tokens:day:u:alice:${DAY / 1000}`;
    await send(hooks, services, id, { now: MINUTE, request: { ...msg(400), max_tokens: 100 } }); // connected, 204 reserved
    const ctx = ctxFor({ ...msg(400), max_tokens: 100 }, { services, meta: { policyId: id, user: 'alice' }, now: () => MINUTE });
    const pending = hooks.onRequest!(ctx);
    expect(pending).toBeInstanceOf(Promise);
    await hooks.onComplete!({ status: 500, upstreamCalled: false, aborted: false, synthesized: false }, ctx);
    expect(ctx.get(quotaKey)).toMatchObject({ admitted: false, settled: true });
    expect(await pending).toBeUndefined();
    expect(ctx.get(quotaKey)).toMatchObject({ admitted: true, settled: true });
    expect([await counter(services, reqKey, MINUTE), await counter(services, tokKey, MINUTE)]).toEqual([2, 204]);
  });
});

describe('store choice', () => {
  it('one store per gateway: memory without a Redis URL, Redis with one; closed at shutdown', async () => {
    const mem = testServices();
    const red = testServices({ redisUrl: REDIS_URL });
    expect(storeFor(mem).store.kind).toBe('memory');
    expect(storeFor(mem)).toBe(storeFor(mem));
    expect(storeFor(red).store.kind).toBe('redis');
    expect(red.closers.length).toBe(1);
    await Promise.all(red.closers.map((c) => c()));
    await Promise.all(mem.closers.map((c) => c()));
    const client = (storeFor(red).store as unknown as { client: Redis }).client;
    await vi.waitFor(() => expect(client.status).toBe('end'));
  });
});
