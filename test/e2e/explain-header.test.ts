// End-to-end live debug trace (issue 15), the real CLI serving a policy with an auth block: a `--grant debug` key gets the
// trace in its answer (JSON, streamed, errors) and it agrees step by step with `explain` on the same rules; a key without
// the grant gets 403 GW_ERR_TRACE_FORBIDDEN before anything runs, an open policy refuses the header, no text leaks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { sseJson } from '../helpers/sse-text.ts';
import { explainRequest } from '../../src/author/explain.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';

const rulesFor = (keys: string) => ({
  'traced.policy': `policy "traced" {
  auth { keys ${JSON.stringify(keys)} }
  quota { user 3 requests per day }
  topics { deny "competitor pricing" }
  respond {
    when denylist refuse with "Not that topic."
    otherwise allow
  }
  redact response { email }
}
policy "open" {
  respond { otherwise allow }
}
`,
});

let up: FakeUpstream;
let gw: GatewayProcess;
let rules: string;
let keysDir: string;
let debugKey: string;
let plainKey: string;

async function createKey(keysFile: string, args: string[]): Promise<string> {
  const r = await runCli(['keys', 'create', ...args, '--file', keysFile]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  up = await startFakeUpstream();
  const keysFile = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-keys-')), 'team.keys');
  debugKey = await createKey(keysFile, ['--label', 'debugger', '--policy', '*', '--grant', 'debug']);
  plainKey = await createKey(keysFile, ['--label', 'plain', '--policy', '*']);
  rules = rulesDir(rulesFor(keysFile));
  keysDir = path.dirname(keysFile);
  gw = await startGateway(['--rules', rules, '--upstream', up.baseUrl, '--allow-path', keysDir, '--audit', 'off']);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

let users = 0;

async function post(policy: string, key: string | undefined, content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-policy-id': policy, 'x-policy-user': `u-${++users}`, ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], ...extra }),
  });
  return { status: r.status, text: await r.text() };
}

const EXPLAIN = { 'x-policy-gateway-explain': '1' };

describe('the live debug header', () => {
  it('a key with the debug grant gets the trace of a forwarded answer, and the trace carries no prompt or answer text', async () => {
    const r = await post('traced', debugKey, 'Please summarise our refund rules for me', {}, EXPLAIN);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    expect(body.policy.decision).toBe('allow');
    const trace = body.policy_gateway.trace;
    expect(trace.prompt_text).toBe(false);
    expect(trace.steps.map((s: { kind: string }) => s.kind)).toEqual(['metadata', 'auth', 'quota', 'topics', 'decide', 'redaction']);
    expect(trace.steps[1]).toMatchObject({ outcome: 'accepted', key_label: 'debugger', grants: ['debug'] });
    expect(trace.steps[2]).toMatchObject({ admitted: true, limits: [{ limit: 'user 3 requests per day', used: 0, asked: 1 }] });
    // the fake upstream's answer holds an e-mail address: redacted, and its span listed without the address
    expect(body.choices[0].message.content).toContain('[EMAIL]');
    expect(trace.steps[5].field_spans).toEqual([expect.objectContaining({ type: 'email' })]);
    expect(JSON.stringify(trace)).not.toMatch(/refund rules|alice@example\.com/);
  });

  it('a refused request gets the trace of its refusal: the deny hit with its rule and span, the rule that fired', async () => {
    const r = await post('traced', debugKey, 'what is the competitor pricing', {}, EXPLAIN);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    expect(body.choices[0].message.content).toBe('Not that topic.');
    const steps = body.policy_gateway.trace.steps;
    const topics = steps.find((s: { kind: string }) => s.kind === 'topics');
    expect(topics.hits).toEqual([{ list: 'deny', phrase: 'competitor pricing', rule: expect.stringMatching(/traced\.policy:4$/), span: { item: 0, start: 12, end: 30 } }]);
    const decide = steps.find((s: { kind: string }) => s.kind === 'decide');
    expect(decide).toMatchObject({ decision: 'refuse', rule: expect.stringMatching(/traced\.policy:6$/) });
    expect(decide.rules[0]).toMatchObject({ matched: true, why: 'fired by a denylist hit' });
  });

  it.each([
    { note: 'a refusal', content: 'tell me the competitor pricing' },
    { note: 'an allowed request', content: 'where is my parcel?' },
  ])('the live trace and `explain` on the same rules agree step by step: $note', async ({ content }) => {
    const live = JSON.parse((await post('traced', debugKey, content, {}, { ...EXPLAIN, 'x-policy-user': 'agree' })).text);
    const loaded = await loadPolicies([rules], ALL_PLUGINS, { allowPaths: [keysDir] });
    const explained = await explainRequest({
      policyId: 'traced', rules: loaded.set!, request: { model: 'fake-model', messages: [{ role: 'user', content }] },
      meta: { user: 'agree', headers: { authorization: `Bearer ${debugKey}` } },
    });
    const stepOf = (steps: readonly { kind: string }[], kind: string) => steps.find((s) => s.kind === kind);
    const noText = (v: unknown) => JSON.parse(JSON.stringify(v, (k, x) => (k === 'text' ? undefined : x)));
    for (const kind of ['auth', 'topics', 'decide']) {
      expect(noText(stepOf(live.policy_gateway.trace.steps, kind)), kind).toEqual(noText(stepOf(explained.steps, kind)));
    }
    expect(explained.verdict).toMatchObject({ decision: live.policy.decision, reason_code: live.policy.reason_code, effective_decision: live.policy.effective_decision });
  });

  it('a streamed answer carries the trace on its last chunk, with the policy block', async () => {
    const r = await post('traced', debugKey, 'hello there', { stream: true }, EXPLAIN);
    expect(r.status).toBe(200);
    const events = sseJson(r.text);
    const last = events.at(-1)!;
    expect(last.policy.decision).toBe('allow');
    expect(last.policy_gateway.trace.steps[0]).toMatchObject({ kind: 'metadata', stream: true });
    expect(events.slice(0, -1).every((e) => e.policy_gateway === undefined)).toBe(true);
  });

  it('the other endpoints: a refused Responses stream carries it on response.completed, a refused embeddings request on its 403', async () => {
    const headers = { 'content-type': 'application/json', 'x-policy-id': 'traced', 'x-policy-user': 'endpoints', authorization: `Bearer ${debugKey}`, ...EXPLAIN };
    const rs = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: 'fake-model', input: 'the competitor pricing?', stream: true }) });
    expect(rs.status).toBe(200);
    const events = sseJson(await rs.text());
    const done = events.at(-1)!;
    expect(done.type).toBe('response.completed');
    expect(done.policy.decision).toBe('refuse');
    expect(done.policy_gateway.trace.steps.map((s: { kind: string }) => s.kind)).toContain('decide');
    const em = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers, body: JSON.stringify({ model: 'fake-model', input: 'competitor pricing' }) });
    expect(em.status).toBe(403);
    const body = await em.json() as { error: { code: string }; policy_gateway: { trace: { steps: { kind: string; decision?: string }[] } } };
    expect(body.error.code).toBe('policy_refused');
    expect(body.policy_gateway.trace.steps.find((s) => s.kind === 'decide')!.decision).toBe('refuse');
  });

  it('an error answer carries the trace too: a quota rejection shows the limit it would break', async () => {
    const user = { 'x-policy-user': 'burst' };
    for (let i = 0; i < 3; i++) expect((await post('traced', debugKey, 'hello', {}, { ...EXPLAIN, ...user })).status).toBe(200);
    const r = await post('traced', debugKey, 'hello', {}, { ...EXPLAIN, ...user });
    expect(r.status).toBe(429);
    const body = JSON.parse(r.text);
    expect(body.error.code).toBe('rate_limit_exceeded');
    const quota = body.policy_gateway.trace.steps.find((s: { kind: string }) => s.kind === 'quota');
    expect(quota).toMatchObject({ admitted: false, limits: [{ limit: 'user 3 requests per day', used: 3, asked: 1, max: 3, within: false }] });
  });

  it('a key without the debug grant gets 403 GW_ERR_TRACE_FORBIDDEN, before quota counts the request', async () => {
    const user = { 'x-policy-user': 'quota-probe' };
    const calls = up.received.length;
    for (let i = 0; i < 4; i++) {
      const refused = await post('traced', plainKey, 'hello', {}, { ...EXPLAIN, ...user });
      expect(refused.status).toBe(403);
      const err = JSON.parse(refused.text);
      expect(err).toEqual({ error: { message: expect.stringContaining('no "debug" grant'), type: 'permission_error', param: null, code: 'trace_forbidden' } });
      expect(refused.text).not.toContain('policy_gateway');
    }
    expect(up.received.length).toBe(calls); // nothing went upstream
    // the same key without the header is served, and the refused requests counted nothing: the quota's 3 requests a
    // minute are all still there for this user (a fourth is refused)
    for (let i = 0; i < 3; i++) {
      const served = await post('traced', plainKey, 'hello', {}, user);
      expect(served.status).toBe(200);
      expect(JSON.parse(served.text).policy_gateway).toBeUndefined();
    }
    expect((await post('traced', plainKey, 'hello', {}, user)).status).toBe(429);
  });

  it('an open policy (no auth block) refuses the header; without it, it serves', async () => {
    const refused = await post('open', undefined, 'hello', {}, EXPLAIN);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).error).toMatchObject({ code: 'trace_forbidden', message: expect.stringContaining('has no auth block') });
    expect((await post('open', undefined, 'hello')).status).toBe(200);
  });
});
