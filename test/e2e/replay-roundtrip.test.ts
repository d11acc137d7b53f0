// Replay reproduces the real gateway: records the CLI writes (a process before a fake upstream, `replay on`, logfmt and
// JSON) for generated requests of every endpoint, replayed under the same rules, give back every recorded decision
// exactly (fast-check). Also: unreplayable records counted by reason; captures hold prompts only after redaction.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIUpstream, type OpenAIUpstream } from '../helpers/openai-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const RULES = `policy "shop" {
  default
  topics { deny "competitor pricing", /wire\\s+transfer/i }
  moderation {
    provider builtin
    flag "self-harm/*", "violence/graphic"
  }
  respond {
    when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care."
    when "violence/graphic" summary max_tokens 60 with "Be brief."
    when denylist refuse reason "DENIED"
    otherwise allow
  }
  rollout {
    shadow target "beta-*"
    enforce target "canary" percent 50%
    shadow target "canary"
    default enforce
  }
  redact request { email }
  redact response { email }
  audit { replay on }
}

policy "narrow" {
  routes chat, responses
  topics { allow "refund", "shipping" }
  respond { otherwise allow }
  audit {
    replay on
    prompts on
  }
}

policy "metered" {
  quota { user 2 requests per minute }
  audit { replay on }
}

policy "quiet" {
  topics { deny "competitor pricing" }
  respond { when denylist refuse; otherwise allow }
}
`;
const EMAIL = 'bob.replay@example.com';
const VOCAB = ['competitor pricing', 'wire   Transfer', 'I want to kill myself tonight', 'he described the gore and the mutilated bodies in detail',
  'refund', 'shipping', 'hello there', EMAIL, 'Où est mon colis ?', 'hurt myself'];

type Endpoint = 'chat' | 'responses' | 'completions' | 'embeddings';
const requestArb = fc.record({
  policy: fc.constantFrom<string | null>('shop', 'narrow', null), // every policy with `replay on`
  endpoint: fc.constantFrom<Endpoint>('chat', 'chat', 'responses', 'completions', 'embeddings'),
  words: fc.array(fc.constantFrom(...VOCAB), { minLength: 1, maxLength: 4 }),
  noise: fc.string({ maxLength: 12 }),
  system: fc.boolean(),
  target: fc.constantFrom<string | null>(null, 'beta-1', 'canary', 'prod'),
  user: fc.constantFrom<string | null>(null, 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'),
  stream: fc.boolean(),
  viaBody: fc.boolean(),
});
type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

const PATHS: Record<Endpoint, string> = { chat: '/chat/completions', responses: '/responses', completions: '/completions', embeddings: '/embeddings' };

function bodyOf(r: Req): Record<string, unknown> {
  const text = `${r.words.join(' ')} ${r.noise}`;
  const stream = r.stream && r.endpoint !== 'embeddings' ? { stream: true } : {};
  switch (r.endpoint) {
    case 'chat': return { model: 'fake-model', messages: [...(r.system ? [{ role: 'system', content: 'Be brief.' }] : []), { role: 'user', content: text }], ...stream };
    case 'responses': return { model: 'fake-model', ...(r.system ? { instructions: 'Be brief.' } : {}), input: text, ...stream };
    case 'completions': return { model: 'fake-model', prompt: text, ...stream };
    case 'embeddings': return { model: 'fake-model', input: [text, 'second input'] };
  }
}

let up: OpenAIUpstream;
const gws: Record<'logfmt' | 'json', { gw: GatewayProcess; file: string }> = {} as never;
let rules: string;
let seq = 0;

/** Sends one request (its own X-Request-Id) and reads the answer to its end. */
async function send(gw: GatewayProcess, r: Req, id: string): Promise<void> {
  const body = bodyOf(r);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id };
  let url: string;
  if (r.viaBody && r.policy !== null) {
    url = `${gw.url}/policy${PATHS[r.endpoint]}`;
    Object.assign(body, { policy_id: r.policy, ...(r.user ? { policy_user: r.user } : {}), ...(r.target ? { policy_target: r.target } : {}) });
  } else {
    url = `${gw.url}/v1${PATHS[r.endpoint]}`;
    if (r.policy !== null) headers['x-policy-id'] = r.policy;
    if (r.user) headers['x-policy-user'] = r.user;
    if (r.target) headers['x-policy-target'] = r.target;
  }
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  await res.arrayBuffer();
}

/** The audit lines of `ids` from an audit file, once all of them are there. */
async function recordsOf(file: string, ids: readonly string[]): Promise<string[]> {
  const until = Date.now() + 10_000;
  for (;;) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { /* not yet created */ }
    const want = new Set(ids);
    const lines = text.split('\n').filter((l) => {
      const m = /request_id[=":]+([A-Za-z0-9-]+)/.exec(l);
      return m !== null && want.has(m[1]!);
    });
    if (lines.length >= ids.length) return lines;
    if (Date.now() > until) throw new Error(`only ${lines.length} of ${ids.length} audit records arrived`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

interface Report {
  replayed: number; changed: number; redacted_input: number;
  not_replayable: { reason: string; count: number; examples: string[] }[]; bad_lines: { count: number };
  recorded: { compared: number; mismatched: number; examples: unknown[] };
  buckets: { old: { decision: string; effective: string; reason: string }; count: number }[];
}

async function replay(lines: readonly string[]): Promise<Report> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-roundtrip-')), 'audit.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const r = await runCli(['replay', '--from', file, '--old', rules, '--new', rules, '--format', 'json', '--fail-on', 'any-change']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

beforeAll(async () => {
  up = await startOpenAIUpstream();
  rules = rulesDir({ 'all.policy': RULES });
  for (const format of ['logfmt', 'json'] as const) {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-roundtrip-audit-')), 'audit.log');
    const gw = await startGateway(['--rules', rules, '--upstream', up.baseUrl, '--audit', file, '--audit-format', format]);
    gws[format] = { gw, file };
  }
}, 60_000);
afterAll(async () => {
  for (const g of Object.values(gws)) await g?.gw.stop();
  await up?.close();
});

describe('replay under the same rules reproduces the real gateway\'s recorded decisions', () => {
  const seen = new Set<string>();

  it('for generated requests of every endpoint, policy, target and user (logfmt and JSON records)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(requestArb, { minLength: 8, maxLength: 24 }), fc.constantFrom<'logfmt' | 'json'>('logfmt', 'json'), async (batch, format) => {
      const { gw, file } = gws[format];
      const ids = batch.map(() => `rt-${++seq}`);
      for (let i = 0; i < batch.length; i++) await send(gw, batch[i]!, ids[i]!);
      const lines = await recordsOf(file, ids);
      const report = await replay(lines);
      // Every request was replayed (none rejected by auth or quota here), and each recorded decision came back.
      expect(report.bad_lines.count).toBe(0);
      expect(report.not_replayable).toEqual([]);
      expect(report.replayed).toBe(batch.length);
      expect(report.recorded).toEqual({ compared: batch.length, mismatched: 0, examples: [] });
      expect(report.changed).toBe(0);
      for (const b of report.buckets) seen.add(`${b.old.decision}/${b.old.effective}/${b.old.reason}`);
    }), { numRuns: 6, endOnFailure: true }); // each run starts the replay CLI: no long shrinking
    // Not vacuous: the generated traffic met refusals, rewrites, summaries, shadow mode and routes a policy leaves out.
    for (const want of ['allow/allow/ALLOW', 'refuse/refuse/DENIED', 'rewrite/rewrite/SELF_HARM', 'refuse/refuse/ALLOWLIST_MISS', 'reject/reject/NOT_FOUND']) {
      expect([...seen], want).toContain(want);
    }
    expect([...seen].some((s) => s.includes('/allow/') && !s.startsWith('allow/')), 'a shadowed decision').toBe(true);
  }, 180_000);

  it('keeps the e-mail address a policy redacts in requests out of its captures', async () => {
    const { gw, file } = gws.logfmt;
    const ids = ['rt-mail-1', 'rt-mail-2'];
    await send(gw, { policy: 'shop', endpoint: 'chat', words: [`write to ${EMAIL} about shipping`], noise: '', system: false, target: null, user: 'u1', stream: false, viaBody: false }, ids[0]!);
    await send(gw, { policy: 'narrow', endpoint: 'chat', words: [`write to ${EMAIL} about shipping`], noise: '', system: false, target: null, user: 'u1', stream: false, viaBody: false }, ids[1]!);
    const [shop, narrow] = await recordsOf(file, ids);
    expect(shop).toMatch(/ replay="/);
    expect(shop).not.toContain(EMAIL);
    expect(shop).toContain('[EMAIL]');
    expect(narrow).toContain(EMAIL); // narrow redacts nothing: its capture holds the prompt as sent (the documented cost)
    const report = await replay([shop!, narrow!]);
    expect([report.replayed, report.redacted_input, report.recorded.mismatched]).toEqual([2, 1, 0]);
  });

  it('counts records it cannot replay, with the reason: no capture, rejected by quota, never reached a policy', async () => {
    const { gw, file } = gws.json;
    const r: Req = { policy: 'metered', endpoint: 'chat', words: ['hello there'], noise: '', system: false, target: null, user: 'u-quota', stream: false, viaBody: true };
    const ids = ['rt-q-1', 'rt-q-2', 'rt-q-3', 'rt-quiet', 'rt-nopolicy'];
    for (const id of ids.slice(0, 3)) await send(gw, r, id);
    await send(gw, { ...r, policy: 'quiet' }, ids[3]!);
    const bad = await fetch(`${gw.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': ids[4]! }, body: '{"model": "m", "messages": [' });
    expect(bad.status).toBe(400);
    const report = await replay(await recordsOf(file, ids));
    expect(report.replayed).toBe(2);
    expect(report.recorded.mismatched).toBe(0);
    expect(report.not_replayable).toEqual([
      { reason: 'no capture (the policy did not say "replay on")', count: 1, examples: ['rt-quiet'] },
      { reason: 'no policy (the request never reached one)', count: 1, examples: ['rt-nopolicy'] },
      { reason: 'rejected by auth or quota (replay evaluates decisions, not keys or limits)', count: 1, examples: ['rt-q-3'] },
    ]);
  });
});
