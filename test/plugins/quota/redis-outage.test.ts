// Redis stopped and restarted under the quota plugin: fail-open admits, fail-closed answers 503
// GW_ERR_QUOTA_UNAVAILABLE, the outage is logged once per interval and counted every time, and the store
// recovers by itself. The test runs its OWN redis-server on a spare port; the shared one is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import quotaPlugin from '../../../plugins/quota/index.ts';
import { OUTAGE_LOG_INTERVAL_MS, storeFor } from '../../../plugins/quota/store-for.ts';
import type { PluginHooks, RequestAction } from '../../../src/sdk/plugin.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compilePolicyText, hooksOf } from '../auth/helpers.ts';

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (c: Buffer) => { out += c.toString(); if (out.includes('Ready to accept connections')) resolve(); });
    p.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return p;
}

async function stopRedis(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGKILL');
  await once(p, 'exit');
}

const T = Date.parse('2026-06-01T12:00:30Z');
let port: number;
let redis: ChildProcess;
const services = testServices();

beforeAll(async () => {
  port = await freePort();
  redis = await startRedis(port);
});
afterAll(async () => {
  for (const c of services.closers) await c();
  await stopRedis(redis);
});

describe('Redis outage and recovery', () => {
  it('fail-open admits, fail-closed rejects with 503, the outage is logged once per interval, and Redis coming back restores exact limits', async () => {
    const svc = testServices({ redisUrl: `redis://127.0.0.1:${port}` });
    services.closers.push(...svc.closers.splice(0));
    const r = compilePolicyText(`policy "open" {
  quota {
    user 2 requests per minute
    user 100k tokens per day
    on_error open
  }
}
policy "closed" {
  quota {
    user 2 requests per minute
    on_error closed
  }
}
`, [quotaPlugin]);
    const open = hooksOf(r, 'open', 'quota');
    const closed = hooksOf(r, 'closed', 'quota');
    let now = T;
    const send = async (hooks: PluginHooks, policyId: string) => {
      const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { services: svc, meta: { policyId, user: 'alice' }, now: () => now });
      const action = (await hooks.onRequest!(ctx)) as RequestAction;
      return { ctx, action };
    };
    const outageLines = () => svc.logs.filter((l) => l.includes('"quota store unavailable"'));
    const storeErrors = async () => Object.fromEntries((await svc.registry.getSingleMetric('policy_gateway_quota_store_errors_total')!.get())
      .values.map((v) => [`${v.labels.store}/${v.labels.result}`, v.value]));

    // Healthy: both policies count in Redis.
    expect((await send(open, 'open')).action).toBeUndefined();
    const pending = await send(open, 'open'); // reserved now, settled during the outage
    expect(pending.action).toBeUndefined();
    expect((await send(closed, 'closed')).action).toBeUndefined();
    expect((await send(open, 'open')).action).toMatchObject({ kind: 'reject', error: { code: 'GW_ERR_RATE_LIMITED' } });

    // Redis dies.
    await stopRedis(redis);
    const client = (storeFor(svc).store as unknown as { client: Redis }).client;
    await vi.waitFor(() => expect(client.status).not.toBe('ready'), { timeout: 10_000, interval: 20 });
    for (let i = 0; i < 20; i++) {
      expect((await send(open, 'open')).action).toBeUndefined(); // fail open: admitted although over the limit
      const c = await send(closed, 'closed');
      expect(c.action && c.action.kind === 'reject' && [c.action.error.status, c.action.error.code])
        .toEqual([503, 'GW_ERR_QUOTA_UNAVAILABLE']);
    }
    // Settling during the outage does not throw; it is counted.
    pending.ctx.usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    await open.onComplete!({ status: 200, upstreamCalled: true, aborted: false, synthesized: false }, pending.ctx);
    expect(await storeErrors()).toEqual({ 'redis/fail_open': 20, 'redis/fail_closed': 20, 'redis/settle_failed': 1 });
    // 41 failures at the same instant: one log line.
    expect(outageLines().length).toBe(1);
    expect(JSON.parse(outageLines()[0]!)).toMatchObject({ level: 50, plugin: 'quota', store: 'redis', msg: 'quota store unavailable' });
    now += OUTAGE_LOG_INTERVAL_MS - 1;
    await send(open, 'open');
    expect(outageLines().length).toBe(1);
    now += 1;
    await send(open, 'open');
    expect(outageLines().length).toBe(2);
    expect(JSON.parse(outageLines()[1]!).suppressed).toBe(41);

    // Redis comes back on the same port (empty: no persistence); the client reconnects by itself.
    redis = await startRedis(port);
    now += 1000;
    await vi.waitFor(async () => {
      expect((await send(closed, 'closed')).action).toBeUndefined();
    }, { timeout: 10_000, interval: 100 });
    expect(svc.logs.filter((l) => l.includes('"quota store recovered"')).length).toBe(1);
    // Limits hold exactly again.
    expect((await send(closed, 'closed')).action).toBeUndefined();
    expect((await send(closed, 'closed')).action).toMatchObject({ kind: 'reject', error: { code: 'GW_ERR_RATE_LIMITED', status: 429 } });
    expect((await send(open, 'open')).action).toBeUndefined();
    expect((await send(open, 'open')).action).toBeUndefined();
    expect((await send(open, 'open')).action).toMatchObject({ kind: 'reject', error: { code: 'GW_ERR_RATE_LIMITED' } });
    const errorsAfter = await storeErrors();
    expect(errorsAfter['redis/fail_closed']).toBeGreaterThanOrEqual(20);
    expect(errorsAfter['redis/fail_open']).toBe(22);
  }, 30_000);

  it('a stalled Redis (process stopped, socket open) cannot hang a request: the command times out into the fail mode', async () => {
    const svc = testServices({ redisUrl: `redis://127.0.0.1:${port}` });
    services.closers.push(...svc.closers.splice(0));
    const r = compilePolicyText('policy "stall" {\n  quota {\n    user 5 requests per minute\n    on_error closed\n  }\n}\n', [quotaPlugin]);
    const hooks = hooksOf(r, 'stall', 'quota');
    const send = async () => (await hooks.onRequest!(ctxFor({ model: 'm', messages: [] }, { services: svc, meta: { policyId: 'stall', user: 'u' }, now: () => T }))) as RequestAction;
    expect(await send()).toBeUndefined();
    redis.kill('SIGSTOP');
    try {
      const a = await send();
      expect(a && a.kind === 'reject' && a.error.code).toBe('GW_ERR_QUOTA_UNAVAILABLE');
      expect(svc.logs.some((l) => l.includes('Command timed out'))).toBe(true);
    } finally {
      redis.kill('SIGCONT');
    }
    await vi.waitFor(async () => expect(await send()).toBeUndefined(), { timeout: 10_000, interval: 100 });
  }, 30_000);

  it('Redis unreachable when the gateway starts: the fail mode applies from the first request, and the store connects when Redis appears', async () => {
    const late = await freePort();
    const svc = testServices({ redisUrl: `redis://127.0.0.1:${late}` });
    services.closers.push(...svc.closers.splice(0));
    const r = compilePolicyText(`policy "o" {
  quota {
    user 1 requests per minute
  }
}
policy "c" {
  quota {
    user 1 requests per minute
    on_error closed
  }
}
`, [quotaPlugin]);
    const send = async (id: string) => (await hooksOf(r, id, 'quota').onRequest!(ctxFor({ model: 'm', messages: [] },
      { services: svc, meta: { policyId: id, user: 'u' }, now: () => T }))) as RequestAction;
    // on_error open is the default.
    expect(await send('o')).toBeUndefined();
    expect(await send('o')).toBeUndefined();
    const c = await send('c');
    expect(c && c.kind === 'reject' && c.error.code).toBe('GW_ERR_QUOTA_UNAVAILABLE');
    const lateRedis = await startRedis(late);
    try {
      await vi.waitFor(async () => expect(await send('c')).toBeUndefined(), { timeout: 10_000, interval: 100 });
      expect(await send('c')).toMatchObject({ kind: 'reject', error: { code: 'GW_ERR_RATE_LIMITED' } });
    } finally {
      for (const close of services.closers.splice(0)) await close();
      await stopRedis(lateRedis);
    }
  }, 30_000);
});
