// The escalation webhook against a real loopback HTTP server: event body (no prompt unless include_prompt on),
// retry after a 5xx then success, giving up after the retries, no retry on 4xx, timeouts, and the sent/failed metric.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decidePlugin } from '../../../plugins/decide/index.ts';
import { moderationKey, topicsKey } from '../../../src/sdk/state-keys.ts';
import type { ChatRequest } from '../../../src/sdk/types.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compileClean } from './policy-helpers.ts';

interface Hit { method: string; url: string; headers: IncomingMessage['headers']; body: string }

/** A loopback webhook that answers each request with the next status of `statuses` (the last one repeats; 0 = never answer). */
async function webhook(statuses: number[]): Promise<{ url: string; hits: Hit[]; server: Server }> {
  const hits: Hit[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const status = statuses[Math.min(hits.length - 1, statuses.length - 1)]!;
      if (status === 0) return; // hang: the sender's timeout must fire
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/hook?token=abc`, hits, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const PROMPT = 'a very private prompt about sexual content involving minors';

function policy(url: string, settings: string): ReturnType<typeof decidePlugin.hooks> {
  return decidePlugin.hooks(compileClean(decidePlugin, `  respond {
    when "sexual/minors", denylist escalate reason "CSAM_REVIEW" with "A specialist will follow up."
    escalation { url "${url}"; ${settings} }
  }`));
}

async function escalate(hooks: ReturnType<typeof decidePlugin.hooks>) {
  const services = testServices();
  const req: ChatRequest = { model: 'gpt-x', messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: PROMPT }] };
  const ctx = ctxFor(req, {
    services, id: 'req-42', now: () => Date.UTC(2026, 0, 13, 10, 12, 42),
    meta: { policyId: 'test-policy', user: 'user-12345', project: 'support-bot', target: 'support-bot' },
  });
  ctx.set(moderationKey, { flagged: ['sexual/minors'], scores: { 'sexual/minors': 0.97 }, provider: 'builtin', rules: {} });
  ctx.set(topicsKey, { allowlistConfigured: true, allowlistHits: ['refund policy'], denylistHits: ['forbidden thing'], denyRule: null });
  const action = hooks.onRequest!(ctx);
  expect(action).toEqual({ kind: 'respond', content: 'A specialist will follow up.' });
  await Promise.all(services.tasks);
  const metric = await services.registry.getSingleMetric('policy_gateway_escalations_total')!.get();
  const count = (result: string) => metric.values.find((v) => v.labels.result === result && v.labels.policy_id === 'test-policy')?.value ?? 0;
  return { services, sent: count('sent'), failed: count('failed') };
}

describe('escalation webhook', () => {
  it('retries after a 500 and succeeds; the event has the documented fields and no prompt text', async () => {
    const hook = await webhook([500, 204]);
    const r = await escalate(policy(hook.url, 'retries 3; backoff 5ms; timeout 2s'));
    expect(hook.hits).toHaveLength(2);
    expect(hook.hits[0]!.body).toBe(hook.hits[1]!.body);
    expect(hook.hits[0]).toMatchObject({ method: 'POST', url: '/hook?token=abc' });
    expect(hook.hits[0]!.headers['content-type']).toBe('application/json');
    expect(hook.hits[0]!.headers['x-request-id']).toBe('req-42');
    expect(JSON.parse(hook.hits[1]!.body)).toEqual({
      event: 'policy.escalation',
      event_id: 'req-42',
      request_id: 'req-42',
      timestamp: '2026-01-13T10:12:42.000Z',
      policy_id: 'test-policy',
      decision: 'escalate',
      reason_code: 'CSAM_REVIEW',
      rule: 'rules/test.policy:3',
      triggered_categories: ['sexual/minors'],
      allowlist_hits: ['refund policy'],
      denylist_hits: ['forbidden thing'],
      policy_user: 'user-12345',
      project_id: 'support-bot',
      policy_target: 'support-bot',
      model: 'gpt-x',
    });
    expect(hook.hits[1]!.body).not.toContain('private prompt');
    expect([r.sent, r.failed]).toEqual([1, 0]);
  });

  it('includes the messages only with include_prompt on', async () => {
    const hook = await webhook([200]);
    const r = await escalate(policy(hook.url, 'include_prompt on'));
    expect(hook.hits).toHaveLength(1);
    expect(JSON.parse(hook.hits[0]!.body).messages).toEqual([{ role: 'system', content: 'sys' }, { role: 'user', content: PROMPT }]);
    expect(r.sent).toBe(1);
  });

  it('gives up after the configured retries (1 + retries attempts), counts failed, logs without prompt or url', async () => {
    const hook = await webhook([503]);
    const r = await escalate(policy(hook.url, 'retries 2; backoff 1ms'));
    expect(hook.hits).toHaveLength(3);
    expect([r.sent, r.failed]).toEqual([0, 1]);
    const line = r.services.logs.find((l) => l.includes('escalation failed'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ plugin: 'decide', reqId: 'req-42', status: 503, attempts: 3 });
    expect(line!.match(/"reqId"/g)).toHaveLength(1); // bound once by the request's logger, not repeated
    expect(r.services.logs.join('')).not.toContain('private prompt');
    expect(r.services.logs.join('')).not.toContain('token=abc');
  });

  it('does not retry a 4xx other than 408/425/429', async () => {
    const hook = await webhook([400]);
    const r = await escalate(policy(hook.url, 'retries 3; backoff 1ms'));
    expect(hook.hits).toHaveLength(1);
    expect(r.failed).toBe(1);
  });

  it('retries a 429', async () => {
    const hook = await webhook([429, 200]);
    const r = await escalate(policy(hook.url, 'retries 1; backoff 1ms'));
    expect(hook.hits).toHaveLength(2);
    expect(r.sent).toBe(1);
  });

  it('times out a hanging webhook per attempt and retries', async () => {
    const hook = await webhook([0, 200]);
    const r = await escalate(policy(hook.url, 'retries 1; backoff 1ms; timeout 100ms'));
    expect(hook.hits).toHaveLength(2);
    expect([r.sent, r.failed]).toEqual([1, 0]);
  });

  it('fails (never throws) when nothing listens', async () => {
    const hook = await webhook([200]);
    const url = hook.url;
    await new Promise<void>((res) => hook.server.close(() => res()));
    servers.splice(servers.indexOf(hook.server), 1);
    const r = await escalate(policy(url, 'retries 1; backoff 1ms'));
    expect([r.sent, r.failed]).toEqual([0, 1]);
    expect(r.services.logs.find((l) => l.includes('escalation failed'))).toContain('ECONNREFUSED');
  });
});
